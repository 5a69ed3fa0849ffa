// Group commit under contention, and what a failed write does: nothing of a failed
// batch is ever visible, nothing after it is acknowledged, nothing before it is lost.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "storage/event_log.h"
#include "storage/fault_injection.h"
#include "tests/storage/test_util.h"

namespace authledger::storage {
namespace {

using testing::MakeTokenDraft;
using testing::One;
using testing::TempDir;

TEST(GroupCommit, SixteenThreadsGetDenseUniqueSeqsAndEachSeesItsOwnEvents) {
  constexpr int kThreads = 16;
  constexpr int kPerThread = 2000;
  TempDir tmp;
  auto opened = EventLog::Open(tmp.path(), {});
  ASSERT_TRUE(opened.ok());
  auto log = std::move(opened).value();
  std::vector<std::vector<std::uint64_t>> seqs(kThreads);
  std::atomic<int> failures{0};
  std::atomic<std::int64_t> clock{0};
  std::mutex order_mu;  // time must not decrease along seq: take the time and enqueue together
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string prefix = "t" + std::to_string(t) + "-" + std::to_string(i);
        Result<PendingAppend> pending = [&] {
          std::lock_guard lock(order_mu);
          return log->Enqueue(One(MakeTokenDraft(++clock, prefix, "u" + std::to_string(t))));
        }();
        if (!pending.ok()) {
          ++failures;
          continue;
        }
        auto done = pending->Wait();
        if (!done.ok()) {
          ++failures;
          continue;
        }
        seqs[static_cast<std::size_t>(t)].push_back(done->first);
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(failures.load(), 0);
  ASSERT_EQ(log->size(), static_cast<std::uint64_t>(kThreads * kPerThread));

  std::set<std::uint64_t> all;
  for (int t = 0; t < kThreads; ++t) {
    const auto& mine = seqs[static_cast<std::size_t>(t)];
    ASSERT_EQ(mine.size(), static_cast<std::size_t>(kPerThread));
    for (std::size_t i = 0; i < mine.size(); ++i) {
      EXPECT_TRUE(all.insert(mine[i]).second) << "seq " << mine[i] << " given twice";
      if (i % 199 == 0) {
        auto event = log->Read(mine[i]);
        ASSERT_TRUE(event.ok());
        EXPECT_EQ(
            std::string(event->envelope().getEvent().getTokenCreated().getTokenPrefix().cStr()),
            "t" + std::to_string(t) + "-" + std::to_string(i));
      }
    }
  }
  EXPECT_EQ(*all.begin(), 1u);
  EXPECT_EQ(*all.rbegin(), static_cast<std::uint64_t>(kThreads * kPerThread));
  std::uint64_t bad = 0;
  EXPECT_TRUE(log->VerifyIntegrity(&bad).ok());
}

TEST(GroupCommit, DurableCallbacksRunInSeqOrderBeforeTheCallerWakes) {
  TempDir tmp;
  auto log = std::move(EventLog::Open(tmp.path(), {})).value();
  std::mutex mu;
  std::vector<std::uint64_t> order;
  std::vector<PendingAppend> pending;
  for (int i = 0; i < 200; ++i) {
    auto p = log->Enqueue(One(MakeTokenDraft(i, "t" + std::to_string(i), "u")),
                          [&](SeqRange r, const std::vector<EventDraft>& drafts) {
                            EXPECT_EQ(drafts.size(), 1u);
                            EXPECT_EQ(drafts[0].reader().getSeq(), r.first);
                            std::lock_guard lock(mu);
                            order.push_back(r.first);
                          });
    ASSERT_TRUE(p.ok());
    pending.push_back(std::move(p).value());
  }
  for (auto& p : pending) {
    auto seqs = p.Wait();
    ASSERT_TRUE(seqs.ok());
    std::lock_guard lock(mu);
    EXPECT_NE(std::find(order.begin(), order.end(), seqs->first), order.end());
  }
  ASSERT_EQ(order.size(), 200u);
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
}

TEST(GroupCommit, ATornWriteMidBatchLeavesNothingOfTheBatchAfterReopen) {
  TempDir tmp;
  auto faults = std::make_shared<FaultInjector>();
  Hash root_before{};
  {
    EventLogOptions options;
    options.faults = faults;
    auto log = std::move(EventLog::Open(tmp.path(), options)).value();
    for (int i = 1; i <= 10; ++i) {
      ASSERT_TRUE(log->Append(One(MakeTokenDraft(i, "ok" + std::to_string(i), "u"))).ok());
    }
    root_before = log->CurrentCheckpoint()->root;
    std::vector<EventDraft> batch;
    for (int i = 0; i < 100; ++i)
      batch.push_back(MakeTokenDraft(100 + i, "lost" + std::to_string(i), "u"));
    faults->FailWalWritesAfter(2000);  // the batch's WAL record is several KB: torn inside it
    auto r = log->Append(std::move(batch));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().reason(), "log_write_failed");
    EXPECT_GE(faults->faults_injected(), 1u);
    EXPECT_EQ(log->size(), 10u);
    EXPECT_EQ(log->health().reason(), "log_write_failed");
    faults->Reset();
    auto after = log->Append(One(MakeTokenDraft(500, "after", "u")));
    EXPECT_EQ(after.status().reason(), "log_read_only") << "no append is accepted after a failure";
  }
  auto log = std::move(EventLog::Open(tmp.path(), {})).value();
  EXPECT_EQ(log->size(), 10u);
  EXPECT_EQ(log->CurrentCheckpoint()->root, root_before);
  std::uint64_t bad = 0;
  EXPECT_TRUE(log->VerifyIntegrity(&bad).ok());
  std::uint64_t found = 0;
  EXPECT_TRUE(log->ScanSubject({SubjectKind::kToken, "lost0"}, 1, 1000,
                               [&](std::uint64_t) {
                                 ++found;
                                 return true;
                               })
                  .ok());
  EXPECT_EQ(found, 0u) << "the failed batch left an index entry";
  auto next = log->Append(One(MakeTokenDraft(600, "next", "u")));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->first, 11u);
}

TEST(GroupCommit, AFailedSyncTurnsTheLogReadOnlyAndLosesNothingAcknowledged) {
  TempDir tmp;
  auto faults = std::make_shared<FaultInjector>();
  {
    EventLogOptions options;
    options.faults = faults;
    auto log = std::move(EventLog::Open(tmp.path(), options)).value();
    ASSERT_TRUE(log->Append(One(MakeTokenDraft(1, "kept", "u"))).ok());
    faults->FailSyncs(true);
    auto r = log->Append(One(MakeTokenDraft(2, "unsynced", "u")));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(log->health().code(), Status::Code::kIoError);
    EXPECT_EQ(log->size(), 1u) << "an unacknowledged event is not readable";
    EXPECT_EQ(log->Read(2).status().reason(), "event_not_found");
    faults->Reset();
  }
  auto log = std::move(EventLog::Open(tmp.path(), {})).value();
  ASSERT_GE(log->size(), 1u);
  EXPECT_EQ(
      std::string(log->Read(1)->envelope().getEvent().getTokenCreated().getTokenPrefix().cStr()),
      "kept");
  EXPECT_TRUE(log->VerifyIntegrity().ok());
}

}  // namespace
}  // namespace authledger::storage
