// Rebuilding a damaged log from its last good prefix (the storage half of
// `authledger recover`; authledger::RecoverLog in <authledger/recovery.h> drives it).
//
// The damaged directory is only ever read (opened read-only, without its lock, with
// RocksDB's checks relaxed so that a damaged table or write-ahead log still opens), so
// it stays as evidence. The good prefix is copied into a new directory: the events
// 1..K byte for byte, the subject index and Merkle tree rebuilt from them, the meta
// records rewritten, and the snapshots at or before K copied if they read back. K is the
// last seq such that events 1..K are present, decode canonically with their own seq and
// non-decreasing times, and every leaf and perfect Merkle node over them recomputes to
// the stored one.
//
// Thread-safety: none; nothing else may write either directory meanwhile.
#pragma once

#include <authledger/status.h>

#include <cstdint>
#include <string>
#include <vector>

namespace authledger::storage {

struct PrefixCopy {
  // Events the damaged log records (its tree size, as far as it can be read), and the
  // events kept: seqs kept+1..recorded are dropped.
  std::uint64_t recorded_size = 0;
  std::uint64_t kept = 0;
  // Why the prefix ends where it does: a stable reason ("event_missing",
  // "event_tampered", "event_undecodable", "merkle_node_mismatch", "wal_damaged",
  // "table_file_damaged", …) and what was found, naming the seq or file; empty when the
  // whole recorded log was kept.
  std::string reason;
  std::string message;
  // The recorded root did not match the tree (rewritten from the events).
  bool root_rewritten = false;
  // Snapshot seqs copied, and those dropped (past K, or unreadable).
  std::vector<std::uint64_t> snapshots_kept;
  std::vector<std::uint64_t> snapshots_dropped;
  // Non-empty if the snapshots could not all be read (a damaged block): what was lost.
  std::string snapshot_problem;
  // Earlier recovery records of the damaged log, carried over.
  std::vector<std::string> earlier_recoveries;
};

// Copies the good prefix of the log at `damaged_dir` into `new_dir` (which must not
// exist). Fails only if the damaged log cannot be opened even for salvage (e.g. its
// MANIFEST is damaged) or `new_dir` cannot be written.
Result<PrefixCopy> CopyGoodPrefix(const std::string& damaged_dir, const std::string& new_dir);

// Deletes the snapshots at `seqs` (header and chunks) from the closed log at `dir`.
Status DropSnapshots(const std::string& dir, const std::vector<std::uint64_t>& seqs);

// Stores `text` as a recovery record in the closed log at `dir` (meta key
// "recovery/<time_us>"), durably.
Status AddRecoveryRecord(const std::string& dir, std::int64_t time_us, const std::string& text);
// The recovery records of the log at `dir`, oldest first (the log may be open
// elsewhere: it is read as a read-only view).
Result<std::vector<std::string>> RecoveryRecords(const std::string& dir);

// Holds RocksDB's lock on the log at `dir` for its lifetime, so that no engine opens
// it meanwhile; Lock fails with "log_in_use" if an engine (in any process) has it.
class LogLock {
 public:
  static Result<LogLock> Lock(const std::string& dir);
  LogLock(LogLock&& other) noexcept;
  LogLock& operator=(LogLock&&) = delete;
  LogLock(const LogLock&) = delete;
  LogLock& operator=(const LogLock&) = delete;
  ~LogLock();

 private:
  explicit LogLock(void* lock) : lock_(lock) {}
  void* lock_ = nullptr;  // rocksdb::FileLock
};

}  // namespace authledger::storage
