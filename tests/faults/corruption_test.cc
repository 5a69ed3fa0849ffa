// Corruption of a closed log: flipped bytes in the write-ahead log and in table files,
// a truncated write-ahead log, event bytes that no longer match the Merkle tree, damaged
// snapshots and a snapshot of another history. Engine::Open refuses what it checks of
// the log with a stable reason naming the seq or file, passes over (loudly) a snapshot it
// cannot use, verify names everything, and what Open does not re-read (the events a
// snapshot covers) is shown to be verify's.
#include <authledger/recovery.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <vector>

#include "storage/event_log.h"
#include "storage/tamper.h"
#include "tests/engine/state_assertions.h"
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

// ---- Snapshots Open cannot use ----
//
// A snapshot is a cache of what the log says: one that is damaged, or that disagrees
// with the log, is passed over for an older one (and finally for a fold from the first
// event, every folded event re-hashed as always), loudly: a log line naming it (kError
// when it disagrees with the log's history), Engine::Snapshots(), and `verify`, which
// goes on naming it. fall_back_past_bad_snapshots = false restores the refusal.

TEST_F(Corruption, ASnapshotOfAnotherHistoryIsPassedOverWithAnErrorAndVerifyNamesIt) {
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

  fall_back_past_bad_snapshots_ = false;
  Status s = OpenError();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.reason(), "snapshot_mismatch") << s.ToString();
  EXPECT_NE(s.message().find("seq " + std::to_string(seq)), std::string_view::npos) << s.ToString();

  fall_back_past_bad_snapshots_ = true;
  Open();
  EXPECT_EQ(engine_->revision(), seq);
  EXPECT_TRUE(Check(personal_).allowed) << "the state is this log's, not the other's";
  const SnapshotStatus status = engine_->Snapshots();
  EXPECT_EQ(status.stored_problem, "");
  EXPECT_EQ(status.opened_from, 0u) << "no other snapshot: folded from the first event";
  ASSERT_EQ(status.unusable_at_open.size(), 1u);
  EXPECT_EQ(status.unusable_at_open[0].seq, seq);
  EXPECT_EQ(status.unusable_at_open[0].reason, "snapshot_mismatch");
  EXPECT_EQ(logger_
                ->At(Logger::Level::kError,
                     {"snapshot at seq " + std::to_string(seq), "another history", "verify"})
                .size(),
            1u);
  Close();
  VerifyReport report = Verify();
  EXPECT_EQ(report.problem, "snapshot_mismatch") << report.message;
  EXPECT_EQ(report.bad_seq, seq);
}

TEST_F(Corruption, ANewestSnapshotFailingItsChecksumIsPassedOverAndTheLogFolded) {
  snapshot_file_bytes_ = 0;  // chunks in a table file of their own, as large ones are
  Open();
  Seed();
  MoreUsers(3);
  ASSERT_TRUE(engine_->WriteSnapshot().ok());
  MoreUsers(3, "later");
  const std::uint64_t newest = acked_;
  const auto tables = Files(".sst");
  ASSERT_TRUE(engine_->WriteSnapshot().ok());
  std::string chunks;  // the new table file holding the token records
  for (const auto& file : Files(".sst")) {
    if (std::find(tables.begin(), tables.end(), file) == tables.end() &&
        FindInFile(file, personal_.token_prefix) != std::string::npos) {
      chunks = file;
    }
  }
  ASSERT_FALSE(chunks.empty());
  const std::string chunks_name = fs::path(chunks).filename().string();
  const internal::State before = Published(*engine_);
  Close();  // nothing after the snapshot: none written on closing
  FlipFileByte(chunks, FindInFile(chunks, personal_.token_prefix));

  fall_back_past_bad_snapshots_ = false;
  Status s = OpenError();
  EXPECT_EQ(s.reason(), "table_file_damaged") << s.ToString();

  fall_back_past_bad_snapshots_ = true;
  Open();
  ExpectSameState(before, Published(*engine_));
  const SnapshotStatus status = engine_->Snapshots();
  // RocksDB's search for the newest snapshot enters the damaged file (the first whose
  // keys reach the seq searched) and fails: no snapshot can be found, so the log is
  // folded from its first event, every event re-hashed.
  EXPECT_EQ(status.opened_from, 0u);
  ASSERT_EQ(status.unusable_at_open.size(), 1u);
  EXPECT_EQ(status.unusable_at_open[0].seq, newest);
  EXPECT_TRUE(status.unusable_at_open[0].search_failed);
  EXPECT_EQ(status.unusable_at_open[0].reason, "table_file_damaged");
  EXPECT_NE(status.unusable_at_open[0].message.find(chunks_name), std::string::npos)
      << status.unusable_at_open[0].message;
  EXPECT_EQ(logger_
                ->At(Logger::Level::kWarning,
                     {"no snapshot at or before seq " + std::to_string(newest),
                      "table_file_damaged", chunks_name, "folding the log from its first event"})
                .size(),
            1u);
  // Listing the snapshots fails on that block too, so retention cannot run until it is
  // gone; the status says so.
  EXPECT_NE(status.stored_problem.find(chunks_name), std::string::npos) << status.stored_problem;
  Close();  // writes nothing over it: the engine is at its seq
  VerifyReport report = Verify();
  EXPECT_EQ(report.problem, "table_file_damaged") << report.message;
  EXPECT_NE(report.message.find(chunks_name), std::string::npos)
      << "verify names the file: " << report.message;

  // Loud until it is gone: the next open says it again; `recover` drops that snapshot
  // and no event.
  Open();
  EXPECT_EQ(engine_->Snapshots().unusable_at_open.size(), 1u);
  Close();
  auto recovered = RecoverLog(dir_, [] {
    RecoverOptions o;
    o.apply = true;
    return o;
  }());
  ASSERT_TRUE(recovered.ok()) << recovered.status().ToString();
  EXPECT_EQ(recovered->kept, newest);
  EXPECT_EQ(recovered->snapshots_dropped, std::vector<std::uint64_t>{newest});
  Open();
  EXPECT_TRUE(engine_->Snapshots().unusable_at_open.empty());
  EXPECT_EQ(engine_->Snapshots().stored_problem, "");
  ExpectSameState(before, Published(*engine_));
  Close();
  EXPECT_TRUE(Verify().ok());
}

TEST_F(Corruption, WhenNoSnapshotIsUsableOpenFoldsTheLogFromItsFirstEvent) {
  Open();
  Seed();
  std::vector<std::uint64_t> snapshots;
  for (int round = 0; round < 2; ++round) {
    MoreUsers(2, "round" + std::to_string(round) + "-");
    ASSERT_TRUE(engine_->WriteSnapshot().ok());
    snapshots.push_back(acked_);
  }
  MoreUsers(2);
  const internal::State before = Published(*engine_);
  Close();
  snapshots.push_back(acked_);  // written on closing
  {
    // Every header cut in half.
    auto log = storage::EventLog::Open(dir_, {});
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    ASSERT_EQ(*(*log)->SnapshotSeqs(), snapshots);
    for (std::uint64_t seq : snapshots) {
      auto header = (*log)->NearestSnapshot(seq);
      ASSERT_TRUE(header.ok() && header->has_value());
      const std::string& bytes = (*header)->bytes;
      ASSERT_TRUE((*log)->PutSnapshot(seq, bytes.substr(0, bytes.size() / 2)).ok());
    }
  }
  Open();
  ExpectSameState(before, Published(*engine_));
  const SnapshotStatus status = engine_->Snapshots();
  EXPECT_EQ(status.stored_problem, "");
  EXPECT_EQ(status.opened_from, 0u);
  std::vector<std::uint64_t> passed_over;
  for (const auto& u : status.unusable_at_open) {
    EXPECT_EQ(u.reason, "snapshot_undecodable") << u.message;
    passed_over.push_back(u.seq);
  }
  EXPECT_EQ(passed_over, std::vector<std::uint64_t>(snapshots.rbegin(), snapshots.rend()))
      << "newest first";
  EXPECT_EQ(logger_->At(Logger::Level::kWarning, {"folding the log from its first event"}).size(),
            snapshots.size());
  Close();
  VerifyReport report = Verify();
  EXPECT_EQ(report.problem, "snapshot_undecodable") << report.message;
  EXPECT_EQ(report.bad_seq, snapshots.front()) << "the first in replay order";
}

}  // namespace
}  // namespace authledger::testing
