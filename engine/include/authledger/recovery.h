// Recovery: rebuilding a log that the engine refuses to open (a damaged write-ahead log
// or table file, an event whose bytes no longer match the Merkle tree) from its last
// good prefix, and dropping the snapshots that do not equal the replay (damaged, or of
// another history: the engine opens past those, loudly, unless
// EngineOptions::fall_back_past_bad_snapshots is false). Never automatic: the engine
// refuses such a log or leaves such a snapshot, and only this function (`authledger
// recover --data DIR --yes`) drops anything.
//
// The last good prefix is events 1..K where K is the last seq such that events 1..K are
// present, decode canonically with their own seq and non-decreasing times, and every
// Merkle leaf and perfect node over them recomputes to the stored one. The log is
// rebuilt beside the damaged one (DIR.recovering) from those events (the index and tree
// recomputed), the snapshots at or before K that read back and equal the replayed state
// are kept, and the rebuilt log then replaces DIR; the damaged log is kept, untouched,
// as DIR.damaged-<time>. A recovery record saying what was dropped is stored in the
// rebuilt log (RecoveryRecords) and sent to the logger.
//
// Implemented by the authledger::replay library.
//
// Thread-safety: one recovery per directory at a time; no engine may have the log open
// (refused with "log_in_use").
#pragma once

#include <authledger/engine.h>
#include <authledger/status.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace authledger {

struct RecoverOptions {
  // false: a dry run that reports what recovery would drop and changes nothing.
  bool apply = false;
  // Told what was dropped (kWarning) when applied; may be null.
  std::shared_ptr<Logger> logger;
  // µs since the Unix epoch, for the record and the damaged copy's name; defaults to
  // the system clock.
  std::function<std::int64_t()> clock;
};

struct RecoveryReport {
  // Why the engine refuses the log as it is (its reason and message), or empty if it
  // opens.
  std::string open_problem;
  std::string open_message;
  // Events the damaged log records, as far as they can be read, and events kept:
  // K+1..recorded_size are dropped. Events in write-ahead-log records after a damaged
  // one cannot be read, nor counted: they are not in recorded_size (the message says
  // how many bytes of which file were dropped).
  std::uint64_t recorded_size = 0;
  std::uint64_t kept = 0;
  // The problem found (a stable reason and a message naming the seq or file): why the
  // prefix ends at K, or else why the log was refused; empty if nothing was wrong.
  std::string reason;
  std::string message;
  bool root_rewritten = false;  // the recorded root was damaged; recomputed
  std::vector<std::uint64_t> snapshots_kept;
  std::vector<std::uint64_t> snapshots_dropped;  // past K, unreadable or not matching
  // False when the log was found intact: nothing to do, nothing changed.
  bool needed = false;
  bool applied = false;
  std::string damaged_copy;  // where the damaged log was moved (when applied)
  std::string record;        // the recovery record's text
};

// Diagnoses the log at `data_dir` and, with options.apply, rebuilds it from its last good
// prefix. Fails (rather than reporting) if the log is in use ("log_in_use"), missing,
// cannot be read even for salvage, or the rebuilt log cannot be written or swapped in.
Result<RecoveryReport> RecoverLog(const std::string& data_dir, const RecoverOptions& options = {});

// The recovery records stored in the log at `data_dir`, oldest first.
Result<std::vector<std::string>> RecoveryRecords(const std::string& data_dir);

}  // namespace authledger
