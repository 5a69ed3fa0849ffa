// Loading and saving the State through the event log: the nearest usable snapshot at or
// before a seq, then the events after it. The engine opens with it, and replay uses it
// to rebuild the state at any past seq. Also which stored snapshots retention keeps.
//
// Thread-safety: functions of their arguments; `log` is used through its thread-safe API.
#pragma once

#include <authledger/engine.h>
#include <authledger/status.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "engine/snapshot.h"
#include "engine/state.h"
#include "storage/event_log.h"

namespace authledger::internal {

// A snapshot LoadState passed over, and why: Corruption ("snapshot_undecodable",
// "snapshot_mismatch", "table_file_damaged", …) or
// FailedPrecondition("snapshot_format_unsupported") for an older or newer build's.
struct SkippedSnapshot {
  std::uint64_t seq = 0;
  Status why;
  // The search for a snapshot at or before `seq` failed (a damaged table block under the
  // snapshots' keys: RocksDB's search enters the first table file whose keys reach
  // `seq`), so none at or before it could be found.
  bool search_failed = false;
};

struct LoadedState {
  State state;
  std::uint64_t snapshot_seq = 0;  // seq of the snapshot it started from; 0 = from empty
  // The snapshots nearer the seq asked for than snapshot_seq, newest first: none of
  // them was used.
  std::vector<SkippedSnapshot> skipped;
};

// What LoadState does with a snapshot it cannot use: damaged (it does not decode, a
// chunk is missing or fails RocksDB's checksum), stored under another seq than the one
// it describes, or made from another history (its recorded log root is not the log's
// at its seq).
enum class BadSnapshot {
  // Passes over it, and over any older one that is no better, and finally folds from
  // the first event: snapshots are caches of what the log says. Each one passed over
  // is in LoadedState::skipped, for the caller to report.
  kFallBack,
  // Returns its Corruption ("snapshot_undecodable", "snapshot_mismatch", …): for
  // `verify` and `recover`, whose job is to check snapshots. A snapshot of another
  // format is ignored (the state is folded from the first event), as it is no damage.
  kFail,
};

// The state after events 1..seq (seq ≤ log.size()), from the nearest usable snapshot at
// or before seq plus the events after it; see BadSnapshot for the snapshots it cannot
// use. With `verify_folded`, the events folded after the snapshot are also checked
// against the Merkle tree (EventLog::ScanVerified: "event_tampered", "root_mismatch").
Result<LoadedState> LoadState(const storage::EventLog& log, std::uint64_t seq,
                              bool verify_folded = false,
                              BadSnapshot bad_snapshot = BadSnapshot::kFallBack);

// A snapshot copied out of the state, ready to store. Preparing needs `state` held
// steady (the engine holds its shared lock) and is kept to copying: one memcpy of the
// token records and the small rest into a message. Storing (packing the header, writing
// the chunks, then the header) needs no lock, so writers are blocked only while copying.
struct PreparedSnapshot {
  std::uint64_t seq = 0;
  SnapshotImage image;
};
PreparedSnapshot PrepareSnapshot(const State& state);
Status StoreSnapshot(storage::EventLog& log, const PreparedSnapshot& snapshot);

// The stored snapshots (`stored`, ascending seqs) that `retention` deletes: all but the
// latest retention.keep_latest and the sparse tier (see SnapshotRetention). Those in
// `left_alone` (snapshots Open found unusable) are neither counted nor deleted. Empty
// when keep_latest is 0. Deterministic and idempotent: applied to what it keeps, it
// deletes nothing more.
std::vector<std::uint64_t> SnapshotsToDelete(const std::vector<std::uint64_t>& stored,
                                             const SnapshotRetention& retention,
                                             const std::set<std::uint64_t>& left_alone = {});

}  // namespace authledger::internal
