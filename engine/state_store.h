// Loading and saving the State through the event log: the nearest snapshot at or
// before a seq, then the events after it. The engine opens with it, and replay uses it
// to rebuild the state at any past seq.
//
// Thread-safety: functions of their arguments; `log` is used through its thread-safe API.
#pragma once

#include <authledger/status.h>

#include <cstdint>
#include <string>

#include "engine/snapshot.h"
#include "engine/state.h"
#include "storage/event_log.h"

namespace authledger::internal {

struct LoadedState {
  State state;
  std::uint64_t snapshot_seq = 0;  // seq of the snapshot it started from; 0 = from empty
};

// The state after events 1..seq (seq ≤ log.size()). Corruption("snapshot_mismatch") if
// the nearest snapshot does not describe the seq it is stored at or records a log root
// other than the log's there (a snapshot of another history), and
// Corruption("snapshot_undecodable") if it is damaged. A snapshot of another format (an
// older build's) is ignored: the state is folded from the first event instead.
// With `verify_folded`, the events folded after the snapshot are also checked against
// the Merkle tree (EventLog::ScanVerified: "event_tampered", "root_mismatch").
Result<LoadedState> LoadState(const storage::EventLog& log, std::uint64_t seq,
                              bool verify_folded = false);

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

}  // namespace authledger::internal
