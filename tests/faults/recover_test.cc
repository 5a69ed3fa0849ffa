// Recovery: `authledger recover` and RecoverLog rebuild a log the engine refuses from its
// last good prefix, drop exactly what does not verify (and say so in a recovery record),
// keep the damaged log aside, and leave a log that opens and verifies.
#include <authledger/recovery.h>

#include <filesystem>

#include "storage/tamper.h"
#include "tests/faults/fault_fixture.h"
#include "tests/support/cli_run.h"
#include "tools/cli/commands.h"

namespace authledger::testing {
namespace {

namespace fs = std::filesystem;

class Recover : public CorruptionTest {
 protected:
  Result<RecoveryReport> Run(bool apply) {
    RecoverOptions options;
    options.apply = apply;
    options.clock = [] { return kFaultStartUs + 42'000'000; };
    return RecoverLog(dir_, options);
  }

  // The root of the first `size` events of the log at `dir` (closed).
  std::string RootAt(const std::string& dir, std::uint64_t size) {
    auto log = storage::EventLog::Open(dir, ReadOnly());
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    if (!log.ok()) return {};
    auto root = (*log)->RootAt(size);
    EXPECT_TRUE(root.ok()) << root.status().ToString();
    return root.ok() ? storage::ToHex(*root) : std::string();
  }

  // After recovery to `kept` events: the engine opens there, verify passes, the next
  // command continues the seqs, and the log holds one recovery record.
  void ExpectRecoveredTo(std::uint64_t kept, const std::string& record_names) {
    Open();
    EXPECT_EQ(engine_->revision(), kept);
    auto next = engine_->RegisterUser(admin_, "after", "after@example.org");
    ASSERT_TRUE(next.ok()) << next.status().ToString();
    EXPECT_EQ(*next, kept + 1);
    Close();
    VerifyReport report = Verify();
    EXPECT_TRUE(report.ok()) << report.problem << ": " << report.message;
    auto records = RecoveryRecords(dir_);
    ASSERT_TRUE(records.ok()) << records.status().ToString();
    ASSERT_EQ(records->size(), 1u);
    EXPECT_NE((*records)[0].find(record_names), std::string::npos) << (*records)[0];
  }
};

TEST_F(Recover, AfterADamagedWalRecordItKeepsTheRecordsBeforeItAndDropsTheRest) {
  const std::uint64_t acked = WorkloadThatDies(20);
  const std::string wal = WalWith(Email(10));
  FlipFileByte(wal, FindInFile(wal, Email(10)) + 2);

  auto dry = Run(/*apply=*/false);
  ASSERT_TRUE(dry.ok()) << dry.status().ToString();
  EXPECT_TRUE(dry->needed);
  EXPECT_FALSE(dry->applied);
  EXPECT_EQ(dry->open_problem, "wal_damaged");
  // The records after the damaged one are unreadable: not even their events' count is
  // known. What is known: the file, and how many bytes were dropped.
  EXPECT_EQ(dry->recorded_size, UserSeq(10) - 1) << "acknowledged: " << acked;
  EXPECT_EQ(dry->kept, UserSeq(10) - 1);
  EXPECT_EQ(dry->reason, "wal_damaged") << dry->message;
  EXPECT_NE(dry->message.find(fs::path(wal).filename().string() + ": dropping "), std::string::npos)
      << dry->message;
  EXPECT_EQ(OpenError().reason(), "wal_damaged") << "a dry run changes nothing";
  EXPECT_FALSE(fs::exists(dir_ + ".recovering"));

  auto done = Run(/*apply=*/true);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_TRUE(done->applied);
  EXPECT_EQ(done->kept, UserSeq(10) - 1);
  EXPECT_TRUE(fs::exists(done->damaged_copy)) << "the damaged log is kept";
  ExpectRecoveredTo(UserSeq(10) - 1, "wal_damaged");
}

TEST_F(Recover, ItCutsAtTheFirstEventNotMatchingItsLeafAndKeepsThePrefixByteForByte) {
  Open();
  Seed();
  MoreUsers(10);
  Close();
  const std::uint64_t seq = UserSeq(5);
  const std::string root_before = RootAt(dir_, seq - 1);
  ASSERT_TRUE(storage::tamper::FlipEventByte(dir_, seq, FindInEvent(seq, Email(5)) + 2).ok());
  auto done = Run(/*apply=*/true);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(done->open_problem, "event_tampered");
  EXPECT_EQ(done->reason, "event_tampered");
  EXPECT_NE(done->message.find("event " + std::to_string(seq)), std::string::npos) << done->message;
  EXPECT_EQ(done->recorded_size, acked_);
  EXPECT_EQ(done->kept, seq - 1);
  EXPECT_EQ(done->snapshots_dropped, std::vector<std::uint64_t>{acked_})
      << "the snapshot at the last event is past the kept prefix";
  EXPECT_EQ(RootAt(dir_, seq - 1), root_before) << "events 1.." << seq - 1 << " unchanged";
  ExpectRecoveredTo(seq - 1,
                    "dropped events " + std::to_string(seq) + ".." + std::to_string(acked_));
}

TEST_F(Recover, ASnapshotOfAnotherHistoryIsDroppedAndEveryEventKept) {
  const std::string other = tmp_.Sub("other");
  for (const std::string& dir : {other, dir_}) {
    dir_ = dir;
    Open();
    Seed();
    MoreUsers(4, dir == other ? "other" : "user");
    Close();
  }
  ASSERT_TRUE(storage::tamper::CopySnapshot(other, dir_, acked_).ok());
  auto done = Run(/*apply=*/true);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(done->open_problem, "") << "Open passes over it (loudly) and starts";
  EXPECT_TRUE(done->needed) << "but it is still no snapshot of this log";
  EXPECT_EQ(done->kept, acked_);
  EXPECT_EQ(done->recorded_size, acked_);
  EXPECT_EQ(done->snapshots_dropped, std::vector<std::uint64_t>{acked_});
  ExpectRecoveredTo(acked_, "snapshots dropped: " + std::to_string(acked_));
}

TEST_F(Recover, ADamagedTableBlockCutsThePrefixBeforeTheFirstEventItHeld) {
  Open();
  Seed();
  MoreUsers(600);
  Close();
  std::vector<std::string> roots_before;  // the root of the first k events, for every k
  {
    auto log = storage::EventLog::Open(dir_, ReadOnly());
    ASSERT_TRUE(log.ok());
    for (std::uint64_t k = 0; k <= acked_; ++k) {
      roots_before.push_back(storage::ToHex(*(*log)->RootAt(k)));
    }
  }
  const std::string table = TableWith(Email(550));
  FlipFileByte(table, FindInFile(table, Email(550)) + 2);
  auto done = Run(/*apply=*/true);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(done->reason, "table_file_damaged") << done->message;
  EXPECT_LT(done->kept, UserSeq(550));
  EXPECT_GT(done->kept, 0u) << "the blocks before the damaged one are kept: " << done->message;
  EXPECT_EQ(done->recorded_size, acked_);
  EXPECT_EQ(RootAt(dir_, done->kept), roots_before[done->kept])
      << "the kept events are the damaged log's, byte for byte";
  ExpectRecoveredTo(done->kept, "dropped events " + std::to_string(done->kept + 1) + "..");
}

TEST_F(Recover, AnIntactLogIsLeftAsItIs) {
  Open();
  Seed();
  MoreUsers(3);
  Close();
  auto done = Run(/*apply=*/true);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_FALSE(done->needed);
  EXPECT_FALSE(done->applied);
  EXPECT_TRUE(done->open_problem.empty()) << done->open_problem;
  EXPECT_EQ(done->kept, acked_);
  EXPECT_TRUE(done->damaged_copy.empty());
  auto records = RecoveryRecords(dir_);
  ASSERT_TRUE(records.ok());
  EXPECT_TRUE(records->empty());
}

TEST_F(Recover, ItRefusesALogAnEngineHasOpen) {
  Open();
  Seed();
  auto done = Run(/*apply=*/true);
  ASSERT_FALSE(done.ok());
  EXPECT_EQ(done.status().reason(), "log_in_use");
}

// The log subcommands and recover.
CliRun LogOrRecover(std::vector<std::string> args) {
  return RunCli(std::move(args), [](CLI::App& app, cli::CommandIo io, int* code) {
    cli::AddLogCommands(app, io, code);
    cli::AddRecoverCommand(app, io, code);
  });
}

TEST_F(Recover, TheCliIsADryRunWithoutYesAndRecoversWithIt) {
  const std::uint64_t acked = WorkloadThatDies(8);
  const std::string wal = WalWith(Email(4));
  FlipFileByte(wal, FindInFile(wal, Email(4)) + 2);

  CliRun verify = LogOrRecover({"verify", "--data", dir_});
  EXPECT_EQ(verify.code, 3) << verify.out << verify.err;
  EXPECT_NE(verify.out.find("wal_damaged"), std::string::npos) << verify.out;

  CliRun dry = LogOrRecover({"recover", "--data", dir_});
  EXPECT_EQ(dry.code, 3) << dry.out << dry.err;
  EXPECT_NE(dry.out.find("events kept:        1.." + std::to_string(UserSeq(4) - 1)),
            std::string::npos)
      << dry.out << " (acknowledged " << acked << ")";
  EXPECT_NE(dry.out.find("prefix ends:        wal_damaged"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("dry run: nothing changed"), std::string::npos) << dry.out;

  CliRun done = LogOrRecover({"recover", "--data", dir_, "--yes"});
  EXPECT_EQ(done.code, 0) << done.out << done.err;
  EXPECT_NE(done.out.find("recovered; the damaged log is kept as"), std::string::npos) << done.out;

  verify = LogOrRecover({"verify", "--data", dir_});
  EXPECT_EQ(verify.code, 0) << verify.out << verify.err;
  CliRun again = LogOrRecover({"recover", "--data", dir_});
  EXPECT_EQ(again.code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("nothing to recover"), std::string::npos) << again.out;
}

}  // namespace
}  // namespace authledger::testing
