// Snapshot retention: which snapshots the engine keeps as it writes more, that the newest
// (the one Open would use) is never deleted, that a crash between a snapshot and its
// retention pass, or anywhere in it, leaves a log that opens and verifies, that deleted
// snapshots free their files at once, and that replay at old seqs still equals the
// state the engine had then.
#include <authledger/log_tools.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine_impl.h"
#include "engine/state_store.h"
#include "storage/event_log.h"
#include "tests/engine/engine_fixture.h"
#include "tests/engine/state_assertions.h"
#include "tests/support/temp_dir.h"

namespace authledger::testing {
namespace {

using internal::EngineImpl;
using internal::SnapshotsToDelete;
using internal::State;
using Seqs = std::vector<std::uint64_t>;

// Keeps what the engine logs; optionally acts on a line (a child process dies on one).
class RecordingLogger : public Logger {
 public:
  explicit RecordingLogger(std::function<void(std::string_view)> on_line = nullptr)
      : on_line_(std::move(on_line)) {}
  void Log(Level level, std::string_view message) override {
    {
      std::lock_guard lock(mu_);
      lines_.emplace_back(level, std::string(message));
    }
    if (on_line_) on_line_(message);
  }
  // The lines holding `needle`.
  std::vector<std::string> With(std::string_view needle) const {
    std::lock_guard lock(mu_);
    std::vector<std::string> found;
    for (const auto& [level, line] : lines_) {
      if (line.find(needle) != std::string::npos) found.push_back(line);
    }
    return found;
  }

 private:
  std::function<void(std::string_view)> on_line_;
  mutable std::mutex mu_;
  std::vector<std::pair<Level, std::string>> lines_;
};

SnapshotRetention Keep(std::uint32_t latest, std::uint64_t every = 0, std::uint32_t every_max = 0) {
  SnapshotRetention r;
  r.keep_latest = latest;
  r.keep_every_events = every;
  r.keep_every_max = every_max;
  return r;
}

// ---- The rule ----

TEST(SnapshotRetentionRule, KeepsTheLatestSnapshots) {
  EXPECT_EQ(SnapshotsToDelete({10, 20, 30, 40, 50}, Keep(3)), (Seqs{10, 20}));
  EXPECT_EQ(SnapshotsToDelete({10, 20, 30, 40, 50}, Keep(1)), (Seqs{10, 20, 30, 40}));
  EXPECT_EQ(SnapshotsToDelete({10, 20}, Keep(3)), Seqs{});
  EXPECT_EQ(SnapshotsToDelete({}, Keep(3)), Seqs{});
}

TEST(SnapshotRetentionRule, KeepLatestZeroKeepsEverySnapshot) {
  EXPECT_EQ(SnapshotsToDelete({10, 20, 30, 40, 50}, Keep(0, 100, 1)), Seqs{});
}

TEST(SnapshotRetentionRule, TheSparseTierKeepsTheFirstSnapshotAtOrAfterEachMultiple) {
  const Seqs stored = {37, 90, 130, 180, 205, 260, 310, 330};
  // Multiples of 100: 37 is the first in [0, 100), 130 in [100, 200), 205, 310.
  EXPECT_EQ(SnapshotsToDelete(stored, Keep(2, 100)), (Seqs{90, 180, 260}));
  // Only the latest two of the tier.
  EXPECT_EQ(SnapshotsToDelete(stored, Keep(2, 100, 2)), (Seqs{37, 90, 130, 180, 260}));
}

TEST(SnapshotRetentionRule, SnapshotsOpenPassedOverAreNeitherCountedNorDeleted) {
  EXPECT_EQ(SnapshotsToDelete({10, 20, 30, 40}, Keep(2), {40}), (Seqs{10}));
  EXPECT_EQ(SnapshotsToDelete({10, 20, 30, 40}, Keep(1), {20, 40}), (Seqs{10}));
}

TEST(SnapshotRetentionRule, NeverDeletesTheNewestAndDeletesNothingMoreFromWhatItKeeps) {
  std::mt19937_64 rng(20260101);
  for (int round = 0; round < 2000; ++round) {
    std::set<std::uint64_t> unique;
    const int n = static_cast<int>(rng() % 12);
    for (int i = 0; i < n; ++i) unique.insert(rng() % 500);
    const Seqs stored(unique.begin(), unique.end());
    std::set<std::uint64_t> left_alone;
    for (std::uint64_t seq : stored) {
      if (rng() % 5 == 0) left_alone.insert(seq);
    }
    const SnapshotRetention r =
        Keep(static_cast<std::uint32_t>(rng() % 4), rng() % 3 == 0 ? 0 : rng() % 120 + 1,
             static_cast<std::uint32_t>(rng() % 3));
    const Seqs doomed = SnapshotsToDelete(stored, r, left_alone);
    SCOPED_TRACE("round " + std::to_string(round));
    Seqs counted;
    for (std::uint64_t seq : stored) {
      if (!left_alone.contains(seq)) counted.push_back(seq);
    }
    for (std::uint64_t seq : doomed) {
      EXPECT_TRUE(std::binary_search(counted.begin(), counted.end(), seq)) << seq;
    }
    if (!counted.empty()) {
      EXPECT_EQ(std::count(doomed.begin(), doomed.end(), counted.back()), 0) << "the newest";
      if (r.keep_latest > 0) {
        EXPECT_LE(counted.size() - doomed.size(),
                  std::size_t{r.keep_latest} + (r.keep_every_events == 0 ? 0
                                                : r.keep_every_max > 0   ? r.keep_every_max
                                                                         : counted.size()));
      }
    }
    Seqs kept = stored;
    for (std::uint64_t seq : doomed) kept.erase(std::find(kept.begin(), kept.end(), seq));
    EXPECT_EQ(SnapshotsToDelete(kept, r, left_alone), Seqs{}) << "idempotent";
  }
}

// ---- The engine ----

class Retention : public ::testing::Test {
 protected:
  EngineOptions Options(SnapshotRetention retention, std::uint64_t interval) {
    EngineOptions options;
    options.clock = [now = now_] { return now->fetch_add(1000); };
    options.logger = logger_;
    options.snapshot_interval = interval;
    options.snapshot_retention = retention;
    return options;
  }
  void Open(EngineOptions options, storage::EventLogOptions log_options = {}) {
    auto engine = internal::OpenEngine(dir_.path(), std::move(options), log_options);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = std::move(engine).value();
  }
  EngineImpl& Impl() { return dynamic_cast<EngineImpl&>(*engine_); }

  // One command (one event): a new user. Returns its revision.
  std::uint64_t Command() {
    const std::string id = "user" + std::to_string(users_++);
    auto r = engine_->RegisterUser(admin_, id, id + "@example.org");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : 0;
  }
  // A login: one event, one token (so that snapshots have chunks).
  std::uint64_t Login() {
    const std::uint64_t rev = Command();
    const std::string id = "user" + std::to_string(users_ - 1);
    auto r = engine_->RecordLogin(Actor::User(id), {id, "password", false});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->revision : rev;
  }

  SnapshotStatus SnapshotsNow() {
    SnapshotStatus status = engine_->Snapshots();
    EXPECT_EQ(status.stored_problem, "");
    return status;
  }
  // Waits (boundedly: a bug must fail, not hang) until `done` holds.
  static bool WaitFor(const std::function<bool()>& done) {
    for (int i = 0; i < 6000; ++i) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return done();
  }

  Seqs StoredSeqs() {
    auto log = storage::EventLog::Open(dir_.path(), {});
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    if (!log.ok()) return {};
    auto seqs = (*log)->SnapshotSeqs();
    EXPECT_TRUE(seqs.ok());
    return seqs.ok() ? *seqs : Seqs{};
  }
  VerifyReport Verify() {
    auto report = VerifyLog(dir_.path());
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? *report : VerifyReport{};
  }

  TempDir dir_;
  std::shared_ptr<std::atomic<std::int64_t>> now_ =
      std::make_shared<std::atomic<std::int64_t>>(kStartUs);
  std::shared_ptr<RecordingLogger> logger_ = std::make_shared<RecordingLogger>();
  Actor admin_ = Actor::Admin("admin1", "198.51.100.1");
  std::unique_ptr<Engine> engine_;
  int users_ = 0;
};

TEST_F(Retention, KeepsTheLatestSnapshotsAsTheEngineWritesMore) {
  constexpr std::uint64_t kInterval = 5;
  Open(Options(Keep(3), kInterval));
  Seqs written;
  for (int round = 0; round < 9; ++round) {
    std::uint64_t rev = 0;
    for (std::uint64_t i = 0; i < kInterval; ++i) rev = Command();
    // The background thread writes the snapshot, then runs retention.
    ASSERT_TRUE(WaitFor([&] { return Impl().LastSnapshotSeq() >= rev; })) << "round " << round;
    written.push_back(Impl().LastSnapshotSeq());
    const Seqs expected(written.end() - std::min<std::ptrdiff_t>(3, std::ssize(written)),
                        written.end());
    ASSERT_TRUE(WaitFor([&] { return SnapshotsNow().stored == expected; }))
        << "round " << round << ": stored " << ::testing::PrintToString(SnapshotsNow().stored)
        << ", expected " << ::testing::PrintToString(expected);
  }
  // (The pass counts what it deleted just after the deletion is durable.)
  ASSERT_TRUE(WaitFor([&] { return SnapshotsNow().deleted == written.size() - 3; }))
      << SnapshotsNow().deleted;
  SnapshotStatus status = SnapshotsNow();
  EXPECT_TRUE(status.retention_problem.empty()) << status.retention_problem;
  EXPECT_FALSE(logger_->With("snapshot retention deleted the snapshots at seqs").empty());
  const std::uint64_t last = engine_->revision();
  engine_.reset();  // nothing newer to write: the last snapshot is at the last event
  const Seqs kept(written.end() - 3, written.end());
  EXPECT_EQ(StoredSeqs(), kept);
  VerifyReport report = Verify();
  EXPECT_TRUE(report.ok()) << report.problem << ": " << report.message;
  EXPECT_EQ(report.snapshot_seqs, kept);
  Open(Options(Keep(3), kInterval));
  EXPECT_EQ(SnapshotsNow().opened_from, last);
}

TEST_F(Retention, RetentionAlsoRunsOnClosingAndKeepLatestZeroKeepsAll) {
  Open(Options(Keep(0), 1'000'000));
  for (int i = 0; i < 4; ++i) {
    Command();
    ASSERT_TRUE(engine_->WriteSnapshot().ok());
  }
  engine_.reset();
  EXPECT_EQ(StoredSeqs().size(), 4u) << "keep_latest 0: nothing deleted";
  Open(Options(Keep(2), 1'000'000));
  const std::uint64_t last = Command();
  engine_.reset();  // writes the closing snapshot, then runs retention
  const Seqs stored = StoredSeqs();
  ASSERT_EQ(stored.size(), 2u) << ::testing::PrintToString(stored);
  EXPECT_EQ(stored.back(), last);
}

TEST_F(Retention, ReplayAtEveryOldSeqEqualsTheLiveStateAfterPruningWithASparseTier) {
  constexpr std::uint64_t kInterval = 4, kEvery = 20;
  Open(Options(Keep(2, kEvery), kInterval));
  std::map<std::uint64_t, State> live = {{0, State{}}};
  auto capture = [&] {
    State state = Published(*engine_);
    const std::uint64_t rev = state.revision;
    live[rev] = std::move(state);
    // One snapshot per interval: wait for the background thread to write it.
    if (rev >= Impl().LastSnapshotSeq() + kInterval) {
      ASSERT_TRUE(WaitFor([&] { return Impl().LastSnapshotSeq() >= rev; }));
    }
  };
  Seqs written;
  for (int i = 0; i < 60; ++i) {
    const std::string id = "user" + std::to_string(i);
    ASSERT_TRUE(engine_->RegisterUser(admin_, id, id + "@example.org").ok());
    capture();
    if (i % 3 == 0) {
      ASSERT_TRUE(engine_->RecordLogin(Actor::User(id), {id, "password", false}).ok());
      capture();
    }
    if (Impl().LastSnapshotSeq() > (written.empty() ? 0 : written.back())) {
      written.push_back(Impl().LastSnapshotSeq());
    }
  }
  engine_.reset();
  const Seqs stored = StoredSeqs();
  ASSERT_GE(stored.size(), 4u) << ::testing::PrintToString(stored);
  // Every multiple of kEvery a snapshot was written after still has one, the first; and
  // besides those, only the latest two.
  std::set<std::uint64_t> buckets;
  for (std::uint64_t seq : written) {
    if (seq > 0) buckets.insert(seq / kEvery);
  }
  for (std::uint64_t b : buckets) {
    const auto first = std::find_if(written.begin(), written.end(),
                                    [&](std::uint64_t seq) { return seq / kEvery == b; });
    EXPECT_TRUE(std::binary_search(stored.begin(), stored.end(), *first))
        << "the first snapshot at or after " << b * kEvery << ": "
        << ::testing::PrintToString(stored);
  }
  EXPECT_LE(stored.size(), buckets.size() + 2) << ::testing::PrintToString(stored);
  EXPECT_LT(stored.size(), written.size()) << "retention deleted nothing";

  auto log = std::move(storage::EventLog::Open(dir_.path(), {})).value();
  ASSERT_EQ(live.size(), log->size() + 1) << "a state for every seq";
  for (const auto& [seq, state] : live) {
    auto loaded = internal::LoadState(*log, seq);
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    SCOPED_TRACE("seq " + std::to_string(seq) + " from the snapshot at " +
                 std::to_string(loaded->snapshot_seq));
    EXPECT_TRUE(loaded->skipped.empty());
    if (seq >= stored.front()) {
      EXPECT_LE(seq - loaded->snapshot_seq, kEvery + 2 * kInterval) << "the tier bounds the fold";
    }
    ExpectSameState(state, loaded->state);
  }
  log.reset();
  VerifyReport report = Verify();
  EXPECT_TRUE(report.ok()) << report.problem << ": " << report.message;
  EXPECT_EQ(report.snapshot_seqs, stored);
}

TEST_F(Retention, TheSnapshotOpenUsedStaysUntilANewerOneIsDurableAndABadOneIsLeftAlone) {
  Open(Options(Keep(2), 1'000'000));
  Login();
  ASSERT_TRUE(engine_->WriteSnapshot().ok());
  const std::uint64_t good = engine_->revision();
  Login();
  State before = Published(*engine_);
  engine_.reset();  // the closing snapshot, which is then damaged
  const std::uint64_t bad = before.revision;
  {
    auto log = std::move(storage::EventLog::Open(dir_.path(), {})).value();
    ASSERT_TRUE(log->PutSnapshot(bad, "not a snapshot").ok());
  }
  ASSERT_EQ(StoredSeqs(), (Seqs{good, bad}));

  Open(Options(Keep(1), 1'000'000));
  ExpectSameState(before, Published(*engine_));
  SnapshotStatus status = SnapshotsNow();
  EXPECT_EQ(status.opened_from, good);
  ASSERT_EQ(status.unusable_at_open.size(), 1u);
  EXPECT_EQ(status.unusable_at_open[0].seq, bad);
  EXPECT_EQ(status.stored, (Seqs{good, bad})) << "nothing newer is durable yet";
  // The next event gets a fresh snapshot at once (not over the bad one), then retention
  // deletes the one Open used, and leaves the bad one for verify and recover.
  const std::uint64_t next = Command();
  ASSERT_TRUE(WaitFor([&] {
    return SnapshotsNow().stored == Seqs{bad, next};
  })) << ::testing::PrintToString(SnapshotsNow().stored);
  engine_.reset();
  EXPECT_EQ(Verify().bad_seq, bad) << "verify still names it";

  // A later run opens from the fresh snapshot; the bad one is then an old snapshot like
  // any other, and goes with the next retention pass.
  Open(Options(Keep(1), 1'000'000));
  EXPECT_EQ(SnapshotsNow().opened_from, next);
  EXPECT_TRUE(SnapshotsNow().unusable_at_open.empty());
  const std::uint64_t last = Command();
  engine_.reset();
  EXPECT_EQ(StoredSeqs(), Seqs{last});
  EXPECT_TRUE(Verify().ok());
}

TEST_F(Retention, DeletedSnapshotsFreeTheirFilesAtOnce) {
  // Snapshot chunks of any size written as their own table file, as large ones are.
  storage::EventLogOptions log_options;
  log_options.snapshot_file_bytes = 0;
  auto table_files = [&] {
    std::set<std::string> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
      if (entry.path().extension() == ".sst") files.insert(entry.path().string());
    }
    return files;
  };
  // The table file holding the chunks of a snapshot written now: the new one holding
  // the token prefix (the header, written beside it, holds no token).
  auto snapshot_chunk_file = [&](const std::string& prefix) {
    const auto before = table_files();
    EXPECT_TRUE(engine_->WriteSnapshot().ok());
    for (const auto& file : table_files()) {
      if (before.contains(file)) continue;
      std::ifstream in(file, std::ios::binary);
      const std::string bytes{std::istreambuf_iterator<char>(in), {}};
      if (bytes.find(prefix) != std::string::npos) return file;
    }
    ADD_FAILURE() << "no new table file holds the snapshot's chunks";
    return std::string();
  };
  for (std::uint32_t keep : {0u, 1u}) {
    SCOPED_TRACE("keep_latest " + std::to_string(keep));
    Open(Options(Keep(keep), 1'000'000), log_options);
    Command();
    auto token = engine_->RecordLogin(Actor::User("user0"), {"user0", "password", false});
    ASSERT_TRUE(token.ok());
    const std::string old_file = snapshot_chunk_file(token->token_prefix);
    Command();
    ASSERT_FALSE(snapshot_chunk_file(token->token_prefix).empty());
    engine_.reset();  // retention: with keep_latest 1, the older snapshot goes
    EXPECT_EQ(std::filesystem::exists(old_file), keep == 0) << old_file;
    EXPECT_TRUE(Verify().ok());
    engine_.reset();
    std::filesystem::remove_all(dir_.path());
    users_ = 0;
  }
}

TEST_F(Retention, ChunksThatACrashLeftWithoutTheirHeaderAreDeleted) {
  Open(Options(Keep(3), 1'000'000));
  Login();
  const std::uint64_t cut_short = engine_->revision();  // a state with one token
  Login();
  engine_.reset();  // the closing snapshot, after cut_short
  {
    auto log = std::move(storage::EventLog::Open(dir_.path(), {})).value();
    auto loaded = internal::LoadState(*log, cut_short);
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    ASSERT_EQ(loaded->state.tokens.size(), 1u);
    // A snapshot whose chunks were written but not its header (a crash).
    internal::SnapshotImage image = internal::CopyForSnapshot(loaded->state, 1);
    ASSERT_TRUE(log->PutSnapshotChunks(cut_short, internal::ChunkBytes(image)).ok());
    EXPECT_TRUE(
        log->ReadSnapshotChunk(cut_short, 0, [](std::string_view) { return Status::Ok(); }).ok());
    EXPECT_EQ(*log->SnapshotSeqs(), Seqs{log->size()});
  }
  Open(Options(Keep(3), 2));
  Command();
  Command();  // a background snapshot, then retention
  ASSERT_TRUE(WaitFor([&] { return SnapshotsNow().orphans_deleted == 1; }));
  EXPECT_FALSE(logger_->With("cut short, at seqs " + std::to_string(cut_short)).empty());
  engine_.reset();
  auto log = std::move(storage::EventLog::Open(dir_.path(), {})).value();
  EXPECT_EQ(
      log->ReadSnapshotChunk(cut_short, 0, [](std::string_view) { return Status::Ok(); }).reason(),
      "snapshot_chunk_missing");
}

TEST_F(Retention, ExplicitSnapshotsWhileRetentionRunsLeaveEverySnapshotWhole) {
  Open(Options(Keep(1), 2));
  std::atomic<bool> stop{false};
  std::atomic<int> explicit_snapshots{0};
  std::thread snapshotter([&] {
    while (!stop.load()) {
      if (engine_->WriteSnapshot().ok()) ++explicit_snapshots;
    }
  });
  for (int i = 0; i < 150; ++i) Login();
  stop = true;
  snapshotter.join();
  EXPECT_GT(explicit_snapshots.load(), 0);
  EXPECT_GT(SnapshotsNow().deleted, 0u);
  State before = Published(*engine_);
  engine_.reset();
  VerifyReport report = Verify();
  EXPECT_TRUE(report.ok()) << report.problem << ": " << report.message;
  EXPECT_LE(report.snapshot_seqs.size(), 2u) << "keep_latest 1, and at most one more racing it";
  Open(Options(Keep(1), 2));
  ExpectSameState(before, Published(*engine_));
}

// ---- Crashes ----

// Starts tests/engine/retention_workload on `dir` (see there for the arguments).
pid_t StartWorkload(const std::string& dir, int keep_latest, int interval, int die_at_snapshot) {
  const std::string keep = std::to_string(keep_latest), every = std::to_string(interval),
                    die = std::to_string(die_at_snapshot);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execl(AUTHLEDGER_RETENTION_WORKLOAD, "retention_workload", dir.c_str(), keep.c_str(),
            every.c_str(), die.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

// The log's size as a reader sees it now; 0 while it cannot be opened.
std::uint64_t SizeNow(const std::string& dir) {
  storage::EventLogOptions options;
  options.read_only = true;
  options.create_if_missing = false;
  auto log = storage::EventLog::Open(dir, options);
  return log.ok() ? (*log)->size() : 0;
}

int Wait(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

State FoldedLog(const std::string& dir) {
  storage::EventLogOptions options;
  options.read_only = true;
  auto log = storage::EventLog::Open(dir, options);
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  State folded;
  if (!log.ok()) return folded;
  EXPECT_TRUE((*log)
                  ->Scan(1, (*log)->size(),
                         [&](const storage::DecodedEvent& e) {
                           internal::Evolve(folded, e.envelope());
                           return true;
                         })
                  .ok());
  return folded;
}

TEST_F(Retention, ACrashBetweenASnapshotAndItsRetentionPassLeavesALogThatOpens) {
  // The child dies as its 4th snapshot is durable, before retention runs for it.
  const int status = Wait(StartWorkload(dir_.path(), /*keep_latest=*/2, /*interval=*/6, 4));
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  const Seqs stored = StoredSeqs();
  ASSERT_EQ(stored.size(), 3u) << "two kept by the 3rd pass, and the 4th, never pruned: "
                               << ::testing::PrintToString(stored);
  VerifyReport report = Verify();
  EXPECT_TRUE(report.ok()) << report.problem << ": " << report.message;

  users_ = 100000;  // ids the child did not use
  Open(Options(Keep(2), 1'000'000));
  EXPECT_EQ(SnapshotsNow().opened_from, stored.back());
  EXPECT_TRUE(SnapshotsNow().unusable_at_open.empty());
  ExpectSameState(FoldedLog(dir_.path()), Published(*engine_));
  const std::uint64_t last = Command();
  engine_.reset();  // the closing snapshot, and the retention pass the crash skipped
  EXPECT_EQ(StoredSeqs(), (Seqs{stored.back(), last}));
}

TEST_F(Retention, KillsAtRandomMomentsOfSnapshotsAndRetentionNeverLeaveALogThatCannotOpen) {
  // The log exists before the first kill (a kill while it is created is another test's).
  Open(Options(Keep(1), 3));
  engine_.reset();
  std::mt19937 rng(7);
  std::uint64_t revision = 0;
  for (int round = 0; round < 6; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const pid_t pid = StartWorkload(dir_.path(), /*keep_latest=*/1, /*interval=*/3, 0);
    // The child starts slowly under the sanitizers: the kill comes at a random moment
    // once it is writing (or after a minute, for the assertion below to report).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    while (SizeNow(dir_.path()) <= revision + 2 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 450));
    ::kill(pid, SIGKILL);
    const int status = Wait(pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "the child ended before the kill: " << status;
    // Every snapshot left is whole and equals the replay; the engine opens on the newest.
    VerifyReport report = Verify();
    EXPECT_TRUE(report.ok()) << report.problem << ": " << report.message;
    Open(Options(Keep(1), 3));
    EXPECT_TRUE(SnapshotsNow().unusable_at_open.empty());
    ExpectSameState(FoldedLog(dir_.path()), Published(*engine_));
    EXPECT_GE(engine_->revision(), revision);
    revision = engine_->revision();
    engine_.reset();
  }
  EXPECT_GT(revision, 20u) << "the children did too little to test";
}

}  // namespace
}  // namespace authledger::testing
