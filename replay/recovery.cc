// RecoverLog: diagnose, salvage the good prefix beside the log, keep only the snapshots
// that equal the replay, record what was dropped, swap the rebuilt log in.
#include "storage/recovery.h"

#include <authledger/recovery.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>

#include "engine/engine_impl.h"
#include "engine/fold.h"
#include "engine/state.h"
#include "engine/state_store.h"
#include "storage/event_log.h"

namespace authledger {

namespace {

namespace fs = std::filesystem;

Result<std::unique_ptr<storage::EventLog>> OpenReadOnly(const std::string& dir) {
  storage::EventLogOptions options;
  options.read_only = true;
  options.create_if_missing = false;
  return storage::EventLog::Open(dir, options);
}

// What Engine::Open would say of the log: OK, or why it refuses it.
Status OpenCheck(const std::string& dir) {
  auto log = OpenReadOnly(dir);
  if (!log.ok()) return log.status();
  auto loaded = internal::LoadCheckedState(**log, {});
  return loaded.ok() ? Status::Ok() : loaded.status();
}

// The snapshots of the rebuilt log that do not equal the state replayed from its events
// (or do not decode, or record another history's root).
Result<std::vector<std::uint64_t>> MismatchedSnapshots(const std::string& dir,
                                                       const std::vector<std::uint64_t>& seqs) {
  std::vector<std::uint64_t> bad;
  if (seqs.empty()) return bad;
  auto log = OpenReadOnly(dir);
  if (!log.ok()) return log.status();
  internal::State state;
  std::size_t next = 0;
  auto compare = [&](std::uint64_t seq) {
    for (; next < seqs.size() && seqs[next] <= seq; ++next) {
      if (seqs[next] != seq) continue;
      auto loaded = internal::LoadState(**log, seq, false, internal::BadSnapshot::kFail);
      if (!loaded.ok()) {
        bad.push_back(seq);
      } else if (loaded->snapshot_seq == seq && !(loaded->state == state)) {
        bad.push_back(seq);
      }
    }
  };
  compare(0);
  internal::FoldOptions fold;
  fold.after_each = [&](const storage::DecodedEvent& event) {
    compare(event.seq());
    return true;
  };
  Status scanned = internal::FoldLog(**log, seqs.back(), state, fold);
  if (!scanned.ok()) return scanned;
  return bad;
}

std::string SeqList(const std::vector<std::uint64_t>& seqs) {
  std::string text;
  for (auto seq : seqs) text += (text.empty() ? "" : ", ") + std::to_string(seq);
  return text.empty() ? "none" : text;
}

std::string RecordText(const RecoveryReport& r, std::int64_t now_us) {
  std::string text = "recovery at " + std::to_string(now_us) + " µs: kept events 1.." +
                     std::to_string(r.kept) + " of " + std::to_string(r.recorded_size);
  if (r.kept < r.recorded_size) {
    text +=
        "; dropped events " + std::to_string(r.kept + 1) + ".." + std::to_string(r.recorded_size);
  }
  if (!r.reason.empty()) text += " (" + r.reason + ": " + r.message + ")";
  if (r.root_rewritten) text += "; the recorded Merkle root was damaged and recomputed";
  text += "; snapshots dropped: " + SeqList(r.snapshots_dropped);
  if (!r.open_problem.empty()) text += "; the log was refused with " + r.open_problem;
  return text;
}

}  // namespace

Result<RecoveryReport> RecoverLog(const std::string& data_dir, const RecoverOptions& options) {
  std::error_code ec;
  if (!fs::exists(fs::path(data_dir) / "CURRENT", ec)) {
    return Status::NotFound("log_not_found", "no event log at " + data_dir);
  }
  auto lock = storage::LogLock::Lock(data_dir);
  if (!lock.ok()) return lock.status();
  const std::int64_t now_us = options.clock
                                  ? options.clock()
                                  : std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count();

  RecoveryReport report;
  if (Status open = OpenCheck(data_dir); !open.ok()) {
    report.open_problem = std::string(open.reason());
    report.open_message = std::string(open.message());
  }

  // Salvage beside the log; a rebuilt log left by an earlier, interrupted run goes.
  const std::string rebuilt = data_dir + ".recovering";
  fs::remove_all(rebuilt, ec);
  auto copy = storage::CopyGoodPrefix(data_dir, rebuilt);
  if (!copy.ok()) {
    fs::remove_all(rebuilt, ec);
    return copy.status();
  }
  report.recorded_size = copy->recorded_size;
  report.kept = copy->kept;
  report.reason = copy->reason;
  report.message = copy->message;
  report.root_rewritten = copy->root_rewritten;
  if (report.reason.empty() && !copy->snapshot_problem.empty()) {
    report.reason = "snapshot_unreadable";
    report.message = copy->snapshot_problem;
  }
  // Every readable event kept, yet the log is refused: e.g. a damaged write-ahead-log
  // record, whose events (and any after it) cannot be read, so that not even their
  // number is known; RocksDB's message says how many bytes were dropped.
  if (report.reason.empty() && !report.open_problem.empty()) {
    report.reason = report.open_problem;
    report.message = report.open_message;
  }
  auto mismatched = MismatchedSnapshots(rebuilt, copy->snapshots_kept);
  if (!mismatched.ok()) {
    fs::remove_all(rebuilt, ec);
    return mismatched.status();
  }
  std::set<std::uint64_t> dropped(copy->snapshots_dropped.begin(), copy->snapshots_dropped.end());
  for (auto seq : *mismatched) dropped.insert(seq);
  for (auto seq : copy->snapshots_kept) {
    if (!dropped.contains(seq)) report.snapshots_kept.push_back(seq);
  }
  report.snapshots_dropped.assign(dropped.begin(), dropped.end());
  report.needed = !report.open_problem.empty() || report.kept < report.recorded_size ||
                  report.root_rewritten || !report.snapshots_dropped.empty() ||
                  !report.reason.empty();
  report.record = RecordText(report, now_us);
  if (!report.needed || !options.apply) {
    fs::remove_all(rebuilt, ec);
    return report;
  }

  if (Status s = storage::DropSnapshots(rebuilt, *mismatched); !s.ok()) return s;
  report.damaged_copy = data_dir + ".damaged-" + std::to_string(now_us / 1'000'000);
  report.record += "; the damaged log was kept as " + report.damaged_copy;
  if (Status s = storage::AddRecoveryRecord(rebuilt, now_us, report.record); !s.ok()) return s;
  // The rebuilt log is complete and durable before the damaged one is moved aside; a
  // crash between the two renames leaves both, under their new names.
  fs::rename(data_dir, report.damaged_copy, ec);
  if (ec) {
    return Status::IoError(
        "recovery_swap_failed",
        "moving " + data_dir + " aside: " + ec.message() + " (the rebuilt log is " + rebuilt + ")");
  }
  fs::rename(rebuilt, data_dir, ec);
  if (ec) {
    return Status::IoError("recovery_swap_failed",
                           "moving the rebuilt log " + rebuilt + " to " + data_dir + ": " +
                               ec.message() + " (the damaged log is " + report.damaged_copy + ")");
  }
  report.applied = true;
  if (options.logger) options.logger->Log(Logger::Level::kWarning, report.record);
  return report;
}

Result<std::vector<std::string>> RecoveryRecords(const std::string& data_dir) {
  return storage::RecoveryRecords(data_dir);
}

}  // namespace authledger
