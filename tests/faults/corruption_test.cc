// Corruption of a closed log: flipped bytes in the write-ahead log and in table files,
// a truncated write-ahead log, event bytes that no longer match the Merkle tree, a
// snapshot of another history. Engine::Open refuses what it checks with a stable reason
// naming the seq or file, verify names everything, and what Open does not re-read (the
// events a snapshot covers) is shown to be verify's.
#include <filesystem>
#include <functional>

#include "storage/event_log.h"
#include "storage/tamper.h"
#include "tests/faults/fault_fixture.h"

namespace authledger::testing {
namespace {

namespace fs = std::filesystem;

using Corruption = CorruptionTest;

TEST_F(Corruption, TheWorkloadThatDiesLeavesItsEventsInTheWriteAheadLogAndReopens) {
  const std::uint64_t acked = WorkloadThatDies(20);
  ASSERT_EQ(acked, UserSeq(19));
  ASSERT_FALSE(WalWith(Email(10)).empty());
  Open();
  EXPECT_EQ(engine_->revision(), acked);
  EXPECT_TRUE(Verify().ok());
}

TEST_F(Corruption, AFlippedByteInAnEarlierWalRecordRefusesOpenWithWalDamaged) {
  const std::uint64_t acked = WorkloadThatDies(20);
  const std::string wal = WalWith(Email(10));
  FlipFileByte(wal, FindInFile(wal, Email(10)) + 2);
  Status s = OpenError();
  ASSERT_FALSE(s.ok()) << "point-in-time recovery would silently drop events " << UserSeq(10)
                       << ".." << acked;
  EXPECT_EQ(s.reason(), "wal_damaged") << s.ToString();
  EXPECT_NE(s.message().find(fs::path(wal).filename().string()), std::string_view::npos)
      << "the message names the file: " << s.ToString();
  VerifyReport report = Verify();
  EXPECT_EQ(report.problem, "wal_damaged") << report.message;
}

TEST_F(Corruption, AFlippedByteInTheLastWalRecordRefusesOpenToo) {
  const std::uint64_t acked = WorkloadThatDies(20);
  const std::string wal = WalWith(Email(19));
  FlipFileByte(wal, FindInFile(wal, Email(19)) + 2);
  Status s = OpenError();
  ASSERT_FALSE(s.ok()) << "a complete record with a bad checksum is damage, not a torn write "
                       << "(acked " << acked << ")";
  EXPECT_EQ(s.reason(), "wal_damaged") << s.ToString();
}

TEST_F(Corruption, ATruncatedWalOpensOnItsPrefixAndAKeptCheckpointShowsWhatIsGone) {
  // A write-ahead log cut inside a record looks exactly like a write a crash cut short:
  // the log opens on the records before it. Nothing in the directory tells the two
  // apart; a checkpoint kept outside it does.
  const std::uint64_t acked = WorkloadThatDies(20);
  auto kept = ReadCheckpoint(dir_);  // what an auditor kept
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  ASSERT_EQ(kept->size, acked);
  const std::string wal = WalWith(Email(15));
  fs::resize_file(wal, FindInFile(wal, Email(15)));
  Open();
  EXPECT_EQ(engine_->revision(), UserSeq(14)) << "the records before the cut are kept";
  Close();
  EXPECT_TRUE(Verify().ok()) << "what remains is a consistent log";
  VerifyOptions options;
  options.trusted_checkpoints = {*kept};
  auto report = VerifyLog(dir_, options);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->problem, "checkpoint_beyond_log") << report->message;
  EXPECT_EQ(report->bad_seq, UserSeq(15));
}

TEST_F(Corruption, AFlippedByteInATableFileRefusesOpenWithTableFileDamaged) {
  Open();
  Seed();
  MoreUsers(20);
  Close();  // flushes: the events are in table files now
  const std::string table = TableWith(Email(10));
  FlipFileByte(table, FindInFile(table, Email(10)) + 2);
  Status s = OpenError();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.reason(), "table_file_damaged") << s.ToString();
  EXPECT_NE(s.message().find(fs::path(table).filename().string()), std::string_view::npos)
      << "the message names the file: " << s.ToString();
  VerifyReport report = Verify();
  EXPECT_EQ(report.problem, "table_file_damaged") << report.message;
}

TEST_F(Corruption, AFlippedByteInATableBlockASnapshotCoversIsVerifysToFind) {
  // Open re-reads only the events after the snapshot and the latest ones: damage in
  // older blocks is found by verify (and by any read of those events), not at every
  // open of a large log.
  checks_.rehash_latest_events = 100;  // of 606 events: the first blocks are not re-read
  Open();
  Seed();
  MoreUsers(600);  // several 64 KiB blocks of events
  Close();         // a snapshot at the last event
  const std::string table = TableWith(Email(10));
  FlipFileByte(table, FindInFile(table, Email(10)) + 2);
  Status s = OpenError();
  EXPECT_TRUE(s.ok()) << "documented: Open does not re-read the events before the snapshot: "
                      << s.ToString();
  VerifyReport report = Verify();
  EXPECT_EQ(report.problem, "table_file_damaged") << report.message;
  EXPECT_NE(report.message.find(fs::path(table).filename().string()), std::string::npos)
      << report.message;
}

TEST_F(Corruption, AnEventAmongTheLatestNotMatchingItsLeafRefusesOpenNamingTheSeq) {
  Open();
  Seed();
  MoreUsers(10);
  Close();  // a snapshot at the last event: every event is before it, all are the latest
  const std::uint64_t seq = UserSeq(2);
  ASSERT_TRUE(storage::tamper::FlipEventByte(dir_, seq, FindInEvent(seq, Email(2)) + 2).ok());
  Status s = OpenError();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.reason(), "event_tampered") << s.ToString();
  EXPECT_NE(s.message().find("event " + std::to_string(seq)), std::string_view::npos)
      << s.ToString();
  VerifyReport report = Verify();
  EXPECT_EQ(report.problem, "event_tampered") << report.message;
  EXPECT_EQ(report.bad_seq, seq);
}

TEST_F(Corruption, AnEventAfterTheSnapshotNotMatchingItsLeafRefusesOpenWhateverTheWindow) {
  checks_.rehash_latest_events = 0;  // only what is folded after the snapshot
  Open();
  Seed();
  MoreUsers(10);
  Close();
  // Drop the snapshot at the last event: the engine then folds from an older one, as
  // after a crash (the tail is what was written since the last snapshot).
  const std::uint64_t seq = UserSeq(8);
  ASSERT_TRUE(storage::tamper::FlipEventByte(dir_, seq, FindInEvent(seq, Email(8)) + 2).ok());
  ASSERT_TRUE(storage::tamper::DeleteSnapshot(dir_, acked_).ok());
  Status s = OpenError();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.reason(), "event_tampered") << s.ToString();
  EXPECT_NE(s.message().find("event " + std::to_string(seq)), std::string_view::npos);
}

TEST_F(Corruption, AnEventOlderThanTheRehashedWindowIsVerifysToFind) {
  checks_.rehash_latest_events = 4;
  Open();
  Seed();
  MoreUsers(10);
  Close();
  const std::uint64_t seq = UserSeq(2);
  ASSERT_TRUE(storage::tamper::FlipEventByte(dir_, seq, FindInEvent(seq, Email(2)) + 2).ok());
  Status s = OpenError();
  EXPECT_TRUE(s.ok()) << "documented: Open re-hashes only the latest events: " << s.ToString();
  VerifyReport report = Verify();
  EXPECT_EQ(report.problem, "event_tampered") << report.message;
  EXPECT_EQ(report.bad_seq, seq);
}

TEST_F(Corruption, ASnapshotOfAnotherHistoryRefusesOpenWithSnapshotMismatchNamingItsSeq) {
  // Two logs of the same length, each closed with a snapshot at its last event; the
  // other's snapshot is restored into this one, as from the wrong backup.
  const std::string other = tmp_.Sub("other");
  for (const std::string& dir : {other, dir_}) {
    dir_ = dir;
    Open();
    Seed();
    MoreUsers(4, dir == other ? "other" : "user");
    Close();
  }
  const std::uint64_t seq = acked_;
  ASSERT_TRUE(storage::tamper::CopySnapshot(other, dir_, seq).ok());
  Status s = OpenError();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.reason(), "snapshot_mismatch") << s.ToString();
  EXPECT_NE(s.message().find("seq " + std::to_string(seq)), std::string_view::npos) << s.ToString();
  VerifyReport report = Verify();
  EXPECT_EQ(report.problem, "snapshot_mismatch") << report.message;
  EXPECT_EQ(report.bad_seq, seq);
}

}  // namespace
}  // namespace authledger::testing
