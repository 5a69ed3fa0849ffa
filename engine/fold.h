// FoldLog: Evolve folded over a range of the event log. The one loop behind LoadState
// (the state at a seq, from the nearest snapshot or from empty, which is also how the
// engine opens), verify's replay and recovery's snapshot check.
//
// Events are decoded in batches of 256 and folded in seq order; within a batch, the fold
// prefetches the event bytes, token index slots and records, and the users of token
// creations and memberships that the next events touch (see PrefetchForEvolve): those
// lookups are most of a fold's cache misses. Decoded events are recycled from batch to
// batch, so a fold allocates nothing per event. The status is the scan's error (same
// code, reason and message naming the same seq) once every event before the bad one is
// folded, or OK if `after_each` stopped the fold. (Reading and decoding on a second
// thread was tried twice: on this machine's two vCPUs, moving the decoded events between
// cores cost more than it saved, tools/bench/RESULTS.md.)
//
// Thread-safety: a function of its arguments. `state` belongs to the call until it
// returns; `log` is used through its thread-safe API.
#pragma once

#include <authledger/status.h>

#include <cstdint>
#include <functional>

#include "engine/state.h"
#include "storage/event_log.h"

namespace authledger::internal {

struct FoldOptions {
  // Read with EventLog::ScanVerified (each event re-hashed against its Merkle leaf, the
  // root recomputed over them) rather than EventLog::Scan.
  bool verified = false;
  // Called on the folding thread after each event is folded in; false stops the fold
  // there (FoldLog returns OK).
  std::function<bool(const storage::DecodedEvent&)> after_each;
};

// Folds events state.revision + 1 .. last (clamped to the log) into `state`. On an
// error, `state` holds every event before the one that failed.
Status FoldLog(const storage::EventLog& log, std::uint64_t last, State& state,
               const FoldOptions& options = {});

}  // namespace authledger::internal
