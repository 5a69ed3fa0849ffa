// Crash recovery: a child process runs random commands through the engine and is killed
// with SIGKILL at random moments, many times in a row on the same data directory; after
// every kill, the checks of crash_checks.h (nothing acknowledged lost, dense seqs, the
// roots the child saw, verify, state == replay, revoked tokens stay refused).
// server_crash_test.cc does the same to the server.
//
// CI runs 20 kills. The full run (200 kills) is
//
//   AUTHLEDGER_CRASH_ROUNDS=200 ctest --test-dir build/dev -R '^CrashRecovery' -V
//
// (about 6 minutes on the 2-core machine; the test's timeout is 1800 s)
//
// and AUTHLEDGER_CRASH_SEED=<n> replays the run that printed seed n.
#include <authledger/engine.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/reliability/crash_checks.h"
#include "tests/reliability/crash_harness.h"
#include "tests/support/temp_dir.h"

namespace authledger::testing {
namespace {

constexpr std::uint64_t kCiRounds = 20;

TEST(CrashRecovery, NothingAcknowledgedIsLostAcrossRepeatedKills) {
  TempDir tmp;
  KillSeries series;
  series.name = "crash test";
  series.data_dir = tmp.Sub("data");
  series.reopen_dir = tmp.Sub("reopened");
  series.run_and_kill = [&](std::uint64_t seed, const KillPlan& plan) {
    return RunAndKill(tmp.Sub("data"), tmp.Sub("engine.log"), seed, plan);
  };
  RunKillSeries(series, kCiRounds);
}

// A kill while the very first Open creates the log leaves RocksDB's first files but no
// authledger log. Nothing was acknowledged, so opening again must simply create the log.
// The log is created under a marker file (storage/event_log.cc): a directory a kill left
// half-created is started over, not refused for good.
TEST(CrashRecovery, AKillWhileTheLogIsFirstCreatedLeavesADirectoryThatOpens) {
  TempDir tmp;
  int cut_short = 0;
  for (std::uint32_t delay_us = 0; delay_us <= 300'000 && cut_short < 3; delay_us += 3'000) {
    const std::string dir = tmp.Sub("data" + std::to_string(delay_us));
    ChildRun run = RunAndKill(dir, tmp.Sub("engine.log"), 1, {0, delay_us});
    ASSERT_TRUE(run.error.empty()) << run.error;
    // Killed before it created anything, or after the engine had opened: not this case.
    if (run.opened_at || !std::filesystem::exists(dir) || std::filesystem::is_empty(dir)) {
      continue;
    }
    ++cut_short;
    auto engine = Engine::Open(dir);
    EXPECT_TRUE(engine.ok()) << "after a kill " << delay_us
                             << " µs into creating the log: " << engine.status().ToString();
  }
  EXPECT_GT(cut_short, 0) << "no kill landed while the log was being created";
}

}  // namespace
}  // namespace authledger::testing
