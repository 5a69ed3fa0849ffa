#include "engine/fold.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace authledger::internal {

namespace {

// Decoded events waiting to be folded, each with what Evolve will look up. The events
// are recycled: each one a scan hands over is swapped with one folded earlier, whose
// buffers the scan then decodes into, so a fold allocates nothing per event.
struct Batch {
  std::vector<storage::DecodedEvent> events;  // the first `count` are waiting
  std::vector<EvolveLookup> lookups;
  std::size_t count = 0;

  std::size_t size() const { return count; }
  bool empty() const { return count == 0; }
  void Add(storage::DecodedEvent& event) {
    lookups.push_back(EvolveLookupOf(event.envelope()));
    if (count < events.size()) {
      swap(events[count], event);
    } else {
      events.push_back(std::move(event));
    }
    ++count;
  }
  void Clear() {
    count = 0;
    lookups.clear();
  }
};

// Events decoded before they are folded: enough to prefetch ahead, few enough to stay
// in cache.
constexpr std::size_t kBatchEvents = 256;
// How far ahead of the event being folded its successors' bytes, token slots and then
// records are prefetched (a slot must have arrived before its record's address is known).
constexpr std::size_t kBytesAhead = 16;
constexpr std::size_t kSlotAhead = 12;
constexpr std::size_t kRecordAhead = 6;

// Folds `batch` in order, prefetching ahead; false if after_each stopped the fold.
bool FoldBatch(State& state, const Batch& batch, const FoldOptions& options) {
  const std::size_t n = batch.size();
  for (std::size_t i = 0; i < n; ++i) {
    if (i + kBytesAhead < n) {
      // The event's first lines.
      const auto bytes = batch.events[i + kBytesAhead].bytes();
      for (std::size_t at = 0; at < bytes.size() && at < 256; at += 64) {
        __builtin_prefetch(bytes.data() + at);
      }
    }
    if (i + kSlotAhead < n) {
      PrefetchForEvolve(state, batch.lookups[i + kSlotAhead], PrefetchStage::kSlot);
    }
    if (i + kRecordAhead < n) {
      PrefetchForEvolve(state, batch.lookups[i + kRecordAhead], PrefetchStage::kRecord);
    }
    const storage::DecodedEvent& event = batch.events[i];
    Evolve(state, event.envelope());
    if (options.after_each && !options.after_each(event)) return false;
  }
  return true;
}

void Reserve(Batch& batch) {
  batch.events.reserve(kBatchEvents);
  batch.lookups.reserve(kBatchEvents);
}

Status ScanRange(const storage::EventLog& log, std::uint64_t first, std::uint64_t last,
                 const FoldOptions& options, const storage::EventLog::Visit& visit) {
  return options.verified ? log.ScanVerified(first, last, visit) : log.Scan(first, last, visit);
}

Status FoldBatches(const storage::EventLog& log, std::uint64_t first, std::uint64_t last,
                   State& state, const FoldOptions& options) {
  Batch batch;
  Reserve(batch);
  bool going = true;
  Status scanned = ScanRange(log, first, last, options, [&](storage::DecodedEvent& event) {
    batch.Add(event);
    if (batch.size() < kBatchEvents) return true;
    going = FoldBatch(state, batch, options);
    batch.Clear();
    return going;
  });
  // The events before a failed one, or the last partial batch.
  if (going) going = FoldBatch(state, batch, options);
  return going ? scanned : Status::Ok();
}

}  // namespace

Status FoldLog(const storage::EventLog& log, std::uint64_t last, State& state,
               const FoldOptions& options) {
  const std::uint64_t first = state.revision + 1;
  last = std::min(last, log.size());
  if (first > last) return Status::Ok();
  return FoldBatches(log, first, last, state, options);
}

}  // namespace authledger::internal
