// Loading and saving the State through the event log: the nearest snapshot at or
// before a seq, then the events after it. The engine opens with it, and replay uses it
// to rebuild the state at any past seq.
//
// Thread-safety: functions of their arguments; `log` is used through its thread-safe API.
#pragma once

#include <authledger/status.h>

#include <cstdint>
#include <string>

#include "engine/state.h"
#include "storage/event_log.h"

namespace authledger::internal {

struct LoadedState {
  State state;
  std::uint64_t snapshot_seq = 0;  // seq of the snapshot it started from; 0 = from empty
};

// The state after events 1..seq (seq ≤ log.size()). Corruption("snapshot_mismatch") if
// the nearest snapshot does not describe the seq it is stored at.
Result<LoadedState> LoadState(const storage::EventLog& log, std::uint64_t seq);

// A snapshot encoded and ready to store. Encoding needs `state` held steady (the engine
// holds its shared lock); storing does not, so writers are blocked only while encoding.
struct PreparedSnapshot {
  std::uint64_t seq = 0;
  std::string bytes;
};
PreparedSnapshot PrepareSnapshot(const State& state);
Status StoreSnapshot(storage::EventLog& log, const PreparedSnapshot& snapshot);

}  // namespace authledger::internal
