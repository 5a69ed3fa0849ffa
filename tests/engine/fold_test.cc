// FoldLog, in batches with prefetching, against the plain fold it replaced
// (Evolve over EventLog::Scan, the oracle here): the same state, the same status when
// an event is damaged or missing, and the same stopping point when after_each stops.
//
// The log is a few thousand events appended straight to it (organizations, users,
// memberships, tokens, many token uses and some revocations, uses of unknown tokens),
// so that the fold crosses many of its batches.
#include "engine/fold.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/state.h"
#include "storage/event_log.h"
#include "storage/tamper.h"
#include "tests/support/temp_dir.h"

namespace authledger::testing {
namespace {

using internal::FoldOptions;
using internal::State;

constexpr std::int64_t kStartUs = 1767225600LL * 1'000'000;
constexpr std::uint64_t kEvents = 6000;

// Appends kEvents random events to a new log at `dir` and closes it.
void WriteLog(const std::string& dir) {
  auto log = storage::EventLog::Open(dir, {});
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  std::mt19937_64 rng(20261129);
  std::int64_t now = kStartUs;
  std::vector<storage::EventDraft> batch;
  std::uint64_t tokens = 0;
  auto emit = [&](auto fill) {
    storage::EventDraft draft;
    auto envelope = draft.envelope();
    now += static_cast<std::int64_t>(rng() % 3);
    envelope.setTimeUs(now);
    envelope.initActor().setKind(schema::Actor::Kind::SYSTEM);
    fill(envelope.getEvent());
    batch.push_back(std::move(draft));
  };
  auto org = [&] { return "org" + std::to_string(rng() % 20); };
  auto user = [&] { return "user" + std::to_string(rng() % 200); };
  auto token = [&] { return "tok_" + std::to_string(tokens == 0 ? 0 : rng() % (tokens + 5)); };
  for (std::uint64_t n = 0; n < kEvents; ++n) {
    const std::uint64_t pick = rng() % 100;
    if (pick < 3) {
      emit([&](auto e) {
        auto c = e.initOrganizationCreated();
        c.setOrgId(org());
        c.setName("Some Inc");
        c.initPolicy().setVersion(rng() % 9);
      });
    } else if (pick < 8) {
      emit([&](auto e) {
        auto r = e.initUserRegistered();
        r.setUserId(user());
        r.setEmail("someone@example.com");
      });
    } else if (pick < 14) {
      emit([&](auto e) {
        auto m = e.initMemberAdded();
        m.setOrgId(org());
        m.setUserId(user());
      });
    } else if (pick < 30) {
      const std::string prefix = "tok_" + std::to_string(++tokens);
      emit([&](auto e) {
        auto t = e.initTokenCreated();
        t.setTokenPrefix(prefix);
        t.setKind(schema::TokenKind::SESSION);
        t.setOwnerUserId(user());
        t.setMethod(rng() % 2 ? "password" : "oauth:google");
        t.setMaxAgeSeconds(3600);
      });
    } else if (pick < 34) {
      emit([&](auto e) { e.initTokenRevoked().setTokenPrefix(token()); });
    } else {
      emit([&](auto e) {
        auto u = e.initTokenUsed();
        u.setTokenPrefix(token());
        u.setLastUsedUs(now);
      });
    }
    if (batch.size() == 1000) {
      auto r = (*log)->Append(std::move(batch));
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      batch.clear();
    }
  }
  if (!batch.empty()) {
    auto r = (*log)->Append(std::move(batch));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
}

std::unique_ptr<storage::EventLog> OpenReadOnly(const std::string& dir) {
  storage::EventLogOptions options;
  options.read_only = true;
  options.create_if_missing = false;
  auto log = storage::EventLog::Open(dir, options);
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  return log.ok() ? std::move(log).value() : nullptr;
}

// The oracle: the fold as it was written before FoldLog, one event at a time.
Status PlainFold(const storage::EventLog& log, std::uint64_t last, State& state, bool verified) {
  auto fold = [&](const storage::DecodedEvent& e) {
    internal::Evolve(state, e.envelope());
    return true;
  };
  const std::uint64_t first = state.revision + 1;
  return verified ? log.ScanVerified(first, last, fold) : log.Scan(first, last, fold);
}

// Reading ahead (on a second thread) or not: each test runs both ways. Reading ahead,
// the events go over in chunks of 97, so that a fold takes many turns of the chunks.
FoldOptions Options(bool read_ahead, bool verified = false) {
  FoldOptions options;
  options.verified = verified;
  if (read_ahead) {
    options.read_ahead_min_events = 0;
    options.read_ahead_chunk_events = 97;
  } else {
    options.read_ahead_min_events = std::numeric_limits<std::uint64_t>::max();
  }
  return options;
}

void ExpectSameStatus(const Status& got, const Status& want) {
  EXPECT_EQ(got.code(), want.code());
  EXPECT_EQ(got.reason(), want.reason());
  EXPECT_EQ(got.message(), want.message());
}

class Fold : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override { WriteLog(dir_.path()); }
  bool read_ahead() const { return GetParam(); }
  TempDir dir_;
};

INSTANTIATE_TEST_SUITE_P(ReadingAheadOrNot, Fold, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& param) {
                           return param.param ? "ReadingAhead" : "OneThread";
                         });

TEST_P(Fold, GivesThePlainFoldsStateFromEmptyAndFromMidway) {
  auto log = OpenReadOnly(dir_.path());
  ASSERT_NE(log, nullptr);
  ASSERT_EQ(log->size(), kEvents);
  for (bool verified : {false, true}) {
    for (std::uint64_t from : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{2345}}) {
      State start;
      ASSERT_TRUE(PlainFold(*log, from, start, false).ok());
      State want = start;
      ASSERT_TRUE(PlainFold(*log, kEvents, want, verified).ok());
      ASSERT_EQ(want.revision, kEvents);
      ASSERT_GT(want.tokens.size(), 500u);
      State got = start;
      Status s = internal::FoldLog(*log, kEvents, got, Options(read_ahead(), verified));
      ASSERT_TRUE(s.ok()) << s.ToString();
      EXPECT_TRUE(got == want) << "from " << from << ", verified " << verified;
    }
  }
}

TEST_P(Fold, AfterEachSeesEverySeqInOrderAndStopsTheFoldWhereItSays) {
  auto log = OpenReadOnly(dir_.path());
  ASSERT_NE(log, nullptr);
  for (std::uint64_t stop_at : {std::uint64_t{1}, std::uint64_t{700}, kEvents - 1, kEvents}) {
    State want;
    ASSERT_TRUE(PlainFold(*log, stop_at, want, false).ok());
    State got;
    std::uint64_t next = 1;
    bool in_step = true;
    FoldOptions options = Options(read_ahead());
    options.after_each = [&](const storage::DecodedEvent& e) {
      // Called after the event is folded in, with that very event.
      in_step = in_step && e.seq() == next && got.revision == next;
      ++next;
      return e.seq() < stop_at;
    };
    Status s = internal::FoldLog(*log, kEvents, got, options);
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_TRUE(in_step);
    EXPECT_EQ(next, stop_at + 1);
    EXPECT_TRUE(got == want) << "stopped at " << stop_at;
  }
}

// One damaged event at `bad`: each fold returns the plain fold's status and leaves the
// plain fold's state (every event before the damaged one), or stops OK before it.
void ExpectDamageReportedAsBefore(const std::string& dir, std::uint64_t bad, bool read_ahead) {
  auto log = OpenReadOnly(dir);
  ASSERT_NE(log, nullptr);
  for (bool verified : {false, true}) {
    State want;
    Status want_status = PlainFold(*log, kEvents, want, verified);
    ASSERT_FALSE(want_status.ok());
    EXPECT_EQ(want.revision, bad - 1);
    State got;
    Status s = internal::FoldLog(*log, kEvents, got, Options(read_ahead, verified));
    ExpectSameStatus(s, want_status);
    EXPECT_TRUE(got == want) << "verified " << verified;
    // Stopped by after_each before the damage, the fold does not see it.
    State stopped;
    FoldOptions options = Options(read_ahead, verified);
    options.after_each = [&](const storage::DecodedEvent& e) { return e.seq() < bad - 10; };
    s = internal::FoldLog(*log, kEvents, stopped, options);
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(stopped.revision, bad - 10);
  }
}

TEST_P(Fold, AnUndecodableEventIsReportedAsThePlainFoldReportsIt) {
  const std::uint64_t bad = 4321;
  ASSERT_TRUE(storage::tamper::OverwriteEvent(dir_.path(), bad, std::string(7, 'x')).ok());
  ExpectDamageReportedAsBefore(dir_.path(), bad, read_ahead());
}

TEST_P(Fold, AMissingEventIsReportedAsThePlainFoldReportsIt) {
  const std::uint64_t bad = 3000;
  ASSERT_TRUE(storage::tamper::DeleteEvent(dir_.path(), bad).ok());
  ExpectDamageReportedAsBefore(dir_.path(), bad, read_ahead());
}

TEST_P(Fold, ASwappedEventIsReportedAsThePlainFoldReportsIt) {
  // Each holds the other's seq: "event_tampered" at the first of them.
  ASSERT_TRUE(storage::tamper::SwapEvents(dir_.path(), 5000, 5001).ok());
  ExpectDamageReportedAsBefore(dir_.path(), 5000, read_ahead());
}

}  // namespace
}  // namespace authledger::testing
