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
// folded, or OK if `after_each` stopped the fold.
//
// A long fold without `after_each` reads ahead on a second thread: that thread scans and
// decodes, and hands the calling thread, which folds, a compact item per event. For a
// token use (most events) the item holds all that Evolve needs: the prefix's key and
// hash, the seq and times. Any other event travels as its bytes and is decoded again on
// the folding thread. Items move in chunks that are recycled, so nothing is allocated
// per event and only the items cross between cores. (Handing over the decoded events
// themselves was tried twice, and cost more than it saved: tools/bench/RESULTS.md.)
//
// Thread-safety: a function of its arguments. `state` belongs to the call until it
// returns, and is only touched on the calling thread; `log` is used through its
// thread-safe API.
#pragma once

#include <authledger/status.h>

#include <cstddef>
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
  // Folds of at least this many events, without `after_each`, read ahead on a second
  // thread. The default is kReadAheadMinEvents on a machine with more than one core, and
  // never on one with a single core; 0 reads ahead always (tests).
  std::uint64_t read_ahead_min_events = DefaultReadAheadMinEvents();

  // Events handed over at a time when reading ahead (tests make it small).
  std::size_t read_ahead_chunk_events = kReadAheadChunkEvents;

  static constexpr std::uint64_t kReadAheadMinEvents = 65'536;
  static constexpr std::size_t kReadAheadChunkEvents = 16'384;
  static std::uint64_t DefaultReadAheadMinEvents();
};

// Folds events state.revision + 1 .. last (clamped to the log) into `state`. On an
// error, `state` holds every event before the one that failed.
Status FoldLog(const storage::EventLog& log, std::uint64_t last, State& state,
               const FoldOptions& options = {});

}  // namespace authledger::internal
