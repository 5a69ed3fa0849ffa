// FoldLog: Evolve folded over a range of the event log. The one loop behind LoadState
// (the state at a seq, from the nearest snapshot or from empty, which is also how the
// engine opens), verify's replay and recovery's snapshot check.
//
// A long range is read and decoded on a second thread, a bounded queue of event batches
// ahead of the fold: reading plus decoding and folding cost about the same per event, so
// with a core for each, the fold takes about as long as the slower of the two. The
// result does not depend on it. Events are folded in seq order on the calling thread,
// which also calls `after_each`; the status is the one a fold on one thread returns:
// the scan's error (same code, reason and message naming the same seq) once every event
// before the bad one is folded, or OK if `after_each` stopped the fold first, whatever
// the reader met past that point. Within a batch, the fold prefetches the token records
// that the next events touch (see PrefetchForEvolve).
//
// Thread-safety: a function of its arguments. `state` belongs to the call until it
// returns; `log` is used through its thread-safe API, from two threads at once.
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
  // A range of at least this many events is read and decoded on a second thread; a
  // shorter one on the caller's (a thread costs tens of microseconds to start).
  std::uint64_t read_ahead_min_events = std::uint64_t{1} << 15;
};

// Folds events state.revision + 1 .. last (clamped to the log) into `state`. On an
// error, `state` holds every event before the one that failed.
Status FoldLog(const storage::EventLog& log, std::uint64_t last, State& state,
               const FoldOptions& options = {});

}  // namespace authledger::internal
