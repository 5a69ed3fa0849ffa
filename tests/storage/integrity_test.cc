// Tamper evidence: damage to stored events is found and named by seq.
#include <gtest/gtest.h>

#include "storage/event_log.h"
#include "storage/tamper.h"
#include "tests/storage/test_util.h"

namespace authledger::storage {
namespace {

using testing::MakeTokenDraft;
using testing::One;
using testing::TempDir;

class Integrity : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = std::move(EventLog::Open(tmp_.path(), {})).value();
    for (int i = 1; i <= 40; ++i) {
      ASSERT_TRUE(log->Append(One(MakeTokenDraft(i, "tok" + std::to_string(i), "u"))).ok());
    }
    ASSERT_TRUE(log->VerifyIntegrity().ok());
  }
  // Verifies the (reopened) log; returns the status and the seq it names.
  std::pair<Status, std::uint64_t> Verify() {
    auto log = EventLog::Open(tmp_.path(), {});
    if (!log.ok()) return {log.status(), 0};
    std::uint64_t bad = 0;
    Status s = (*log)->VerifyIntegrity(&bad);
    return {s, bad};
  }
  TempDir tmp_;
};

TEST_F(Integrity, AFlippedByteInAnEventIsDetectedAndNamed) {
  for (std::size_t offset : {0u, 9u, 40u, 77u}) {
    ASSERT_TRUE(tamper::FlipEventByte(tmp_.path(), 17, offset).ok());
    auto [status, bad] = Verify();
    EXPECT_FALSE(status.ok()) << "offset " << offset;
    EXPECT_EQ(bad, 17u) << status.ToString();
    EXPECT_NE(status.message().find("event 17"), std::string_view::npos) << status.ToString();
    ASSERT_TRUE(tamper::FlipEventByte(tmp_.path(), 17, offset).ok());  // undo
    EXPECT_TRUE(Verify().first.ok());
  }
}

TEST_F(Integrity, ADeletedEventIsDetectedAndNamed) {
  ASSERT_TRUE(tamper::DeleteEvent(tmp_.path(), 23).ok());
  auto [status, bad] = Verify();
  EXPECT_EQ(status.reason(), "event_missing");
  EXPECT_EQ(bad, 23u);
}

TEST_F(Integrity, TwoSwappedEventsAreDetected) {
  ASSERT_TRUE(tamper::SwapEvents(tmp_.path(), 5, 6).ok());
  auto [status, bad] = Verify();
  EXPECT_EQ(status.reason(), "event_tampered");
  EXPECT_EQ(bad, 5u);
}

TEST_F(Integrity, AnEventReplacedByAnotherValidEventIsDetected) {
  EventDraft forged = MakeTokenDraft(9, "forged", "attacker");
  forged.envelope().setSeq(9);
  auto bytes = CanonicalBytes(forged.reader());
  auto span = AsBytes(bytes);
  ASSERT_TRUE(tamper::OverwriteEvent(tmp_.path(), 9, std::string(span.begin(), span.end())).ok());
  auto [status, bad] = Verify();
  EXPECT_EQ(status.reason(), "event_tampered");
  EXPECT_EQ(bad, 9u);
}

TEST_F(Integrity, ReadingATamperedEventFailsInsteadOfReturningIt) {
  ASSERT_TRUE(tamper::SwapEvents(tmp_.path(), 2, 3).ok());
  auto log = std::move(EventLog::Open(tmp_.path(), {})).value();
  EXPECT_EQ(log->Read(2).status().reason(), "event_tampered");
}

TEST_F(Integrity, AHiddenTailIsExposedByAnOldCheckpoint) {
  Checkpoint old;
  {
    auto log = std::move(EventLog::Open(tmp_.path(), {})).value();
    old = *log->CurrentCheckpoint();
  }
  ASSERT_TRUE(tamper::TruncateTail(tmp_.path(), 30).ok());
  auto log = std::move(EventLog::Open(tmp_.path(), {})).value();
  ASSERT_EQ(log->size(), 30u);
  // The log is self-consistent again, but it cannot prove it extends what the auditor saw.
  EXPECT_TRUE(log->VerifyIntegrity().ok());
  EXPECT_EQ(log->ConsistencyProof(old.size, old.size).status().reason(), "proof_out_of_range");
}

}  // namespace
}  // namespace authledger::storage
