#include "engine/fold.h"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
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

// Before folding event i of n: the slots of the event kSlotAhead on, and the records of
// the one kRecordAhead on, whose lookups `lookup(j)` gives. Always inlined, as the
// prefetches it makes are (see TokenTable::PrefetchSlot).
template <typename LookupOf>
[[gnu::always_inline]] inline void PrefetchAhead(const State& state, std::size_t i, std::size_t n,
                                                 LookupOf lookup) {
  if (i + kSlotAhead < n) PrefetchForEvolve(state, lookup(i + kSlotAhead), PrefetchStage::kSlot);
  if (i + kRecordAhead < n) {
    PrefetchForEvolve(state, lookup(i + kRecordAhead), PrefetchStage::kRecord);
  }
}

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
    PrefetchAhead(state, i, n,
                  [&](std::size_t j) -> const EvolveLookup& { return batch.lookups[j]; });
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

// ---- Reading ahead on a second thread ----

// One event as the reading thread hands it over: for a token use, what Evolve needs of
// it; for any other event, where its bytes are in the chunk.
struct Item {
  PrefixKey key;  // a token use's prefix
  EvolveLookup lookup;
  std::uint64_t seq = 0;
  std::int64_t time_us = 0;
  std::int64_t last_used_us = 0;  // a token use's time
  std::uint32_t offset = 0;       // another event: its bytes in Chunk::bytes
  std::uint32_t size = 0;         // 0: a token use
};

struct Chunk {
  std::vector<Item> items;
  std::vector<std::uint8_t> bytes;
};

// Chunks in flight. With FoldOptions::kReadAheadChunkEvents events in each, the
// threads meet about a hundred times a second: smaller chunks made them wait for each
// other (waking a thread costs this VM tens of µs), and more chunks only more memory
// traffic (tools/bench/RESULTS.md).
constexpr std::size_t kChunks = 4;
// A chunk is also handed over once it holds this many bytes of events other than token
// uses, which bounds the memory in flight whatever the events' sizes (and keeps
// Item::offset within 32 bits).
constexpr std::size_t kChunkBytes = std::size_t{16} << 20;

// Appends `event` to `chunk` as an item.
void AddItem(Chunk& chunk, const storage::DecodedEvent& event) {
  using E = schema::Envelope::Event;
  const schema::Envelope::Reader envelope = event.envelope();
  Item& item = chunk.items.emplace_back();
  item.seq = envelope.getSeq();
  item.time_us = envelope.getTimeUs();
  const auto e = envelope.getEvent();
  if (e.which() == E::TOKEN_USED) {
    const auto used = e.getTokenUsed();
    item.key = PrefixKey(View(used.getTokenPrefix()));
    item.lookup.token_hash = EvolveLookup::TokenHash(item.key);
    item.last_used_us = used.getLastUsedUs();
    return;
  }
  item.lookup = EvolveLookupOf(envelope);
  const auto bytes = event.bytes();
  item.offset = static_cast<std::uint32_t>(chunk.bytes.size());
  item.size = static_cast<std::uint32_t>(bytes.size());
  chunk.bytes.insert(chunk.bytes.end(), bytes.begin(), bytes.end());
}

// Folds `chunk` in order, prefetching ahead. Other events are decoded into `decoded`;
// an error there (the reading thread decoded the same bytes, so only a fault of this
// machine) is returned with the event's seq.
Status FoldChunk(State& state, const Chunk& chunk, storage::DecodedEvent& decoded) {
  const std::vector<Item>& items = chunk.items;
  const std::size_t n = items.size();
  for (std::size_t i = 0; i < n; ++i) {
    PrefetchAhead(state, i, n,
                  [&](std::size_t j) -> const EvolveLookup& { return items[j].lookup; });
    const Item& item = items[i];
    if (item.size == 0) {
      EvolveAdvance(state, item.seq, item.time_us);
      EvolveTokenUse(state, item.key, item.lookup.token_hash, item.last_used_us);
      continue;
    }
    if (Status s = decoded.Assign({chunk.bytes.data() + item.offset, item.size}); !s.ok()) {
      return Status::Corruption(
          s.reason(), "event " + std::to_string(item.seq) +
                          " decoded differently a second time: " + std::string(s.message()));
    }
    Evolve(state, decoded.envelope());
  }
  return Status::Ok();
}

// The chunks between the two threads: empty ones go to the reader, full ones to the
// folder, in order.
class ChunkQueue {
 public:
  explicit ChunkQueue(std::size_t chunk_events) : chunk_events_(chunk_events) {
    for (std::size_t i = 0; i < kChunks; ++i) {
      auto& chunk = chunks_.emplace_back(std::make_unique<Chunk>());
      chunk->items.reserve(chunk_events);
      free_.push_back(chunk.get());
    }
  }

  // The reader's side. nullptr once the folder has stopped.
  Chunk* TakeFree() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return stopped_ || !free_.empty(); });
    if (stopped_) return nullptr;
    Chunk* chunk = free_.back();
    free_.pop_back();
    return chunk;
  }
  void PushFull(Chunk* chunk) {
    {
      std::lock_guard lock(mu_);
      full_.push_back(chunk);
    }
    cv_.notify_all();
  }
  // The scan is over, with `status` (OK, or the error before which every event was
  // handed over), or with an exception.
  void Finish(Status status, std::exception_ptr error) {
    {
      std::lock_guard lock(mu_);
      finished_ = true;
      status_ = std::move(status);
      error_ = std::move(error);
    }
    cv_.notify_all();
  }

  // The folder's side: the next full chunk, or nullptr once the scan is over and every
  // chunk has been taken.
  Chunk* TakeFull() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return finished_ || !full_.empty(); });
    if (full_.empty()) return nullptr;
    Chunk* chunk = full_.front();
    full_.erase(full_.begin());
    return chunk;
  }
  void GiveBack(Chunk* chunk) {
    chunk->items.clear();
    chunk->bytes.clear();
    {
      std::lock_guard lock(mu_);
      free_.push_back(chunk);
    }
    cv_.notify_all();
  }
  // The folder stops early: the reader stops at its next chunk.
  void Stop() {
    {
      std::lock_guard lock(mu_);
      stopped_ = true;
    }
    cv_.notify_all();
  }

  std::size_t chunk_events() const { return chunk_events_; }
  // After the reader has finished.
  const Status& status() const { return status_; }
  const std::exception_ptr& error() const { return error_; }

 private:
  const std::size_t chunk_events_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Chunk>> chunks_;
  std::vector<Chunk*> free_;
  std::vector<Chunk*> full_;  // oldest first
  bool finished_ = false;
  bool stopped_ = false;
  Status status_;
  std::exception_ptr error_;
};

// The reading thread: scans first..last into chunks.
void ReadAhead(const storage::EventLog& log, std::uint64_t first, std::uint64_t last,
               const FoldOptions& options, ChunkQueue& queue) {
  Chunk* chunk = nullptr;
  try {
    Status scanned = ScanRange(log, first, last, options, [&](storage::DecodedEvent& event) {
      if (chunk == nullptr && (chunk = queue.TakeFree()) == nullptr) return false;
      AddItem(*chunk, event);
      if (chunk->items.size() >= queue.chunk_events() || chunk->bytes.size() >= kChunkBytes) {
        queue.PushFull(chunk);
        chunk = nullptr;
      }
      return true;
    });
    if (chunk != nullptr) queue.PushFull(chunk);
    queue.Finish(std::move(scanned), nullptr);
  } catch (...) {
    queue.Finish(Status::Ok(), std::current_exception());
  }
}

Status FoldReadingAhead(const storage::EventLog& log, std::uint64_t first, std::uint64_t last,
                        State& state, const FoldOptions& options) {
  ChunkQueue queue(std::max<std::size_t>(options.read_ahead_chunk_events, 1));
  std::thread reader;
  try {
    reader = std::thread([&] { ReadAhead(log, first, last, options, queue); });
  } catch (const std::system_error&) {
    // No thread to be had (a process at its limit): the same fold on this one.
    return FoldBatches(log, first, last, state, options);
  }
  Status folded = Status::Ok();
  try {
    storage::DecodedEvent decoded;
    while (Chunk* chunk = queue.TakeFull()) {
      folded = FoldChunk(state, *chunk, decoded);
      queue.GiveBack(chunk);
      if (!folded.ok()) break;
    }
  } catch (...) {
    queue.Stop();
    reader.join();
    throw;
  }
  queue.Stop();
  reader.join();
  if (queue.error()) std::rethrow_exception(queue.error());
  return folded.ok() ? queue.status() : folded;
}

}  // namespace

std::uint64_t FoldOptions::DefaultReadAheadMinEvents() {
  static const std::uint64_t value = std::thread::hardware_concurrency() > 1
                                         ? kReadAheadMinEvents
                                         : std::numeric_limits<std::uint64_t>::max();
  return value;
}

Status FoldLog(const storage::EventLog& log, std::uint64_t last, State& state,
               const FoldOptions& options) {
  const std::uint64_t first = state.revision + 1;
  last = std::min(last, log.size());
  if (first > last) return Status::Ok();
  if (!options.after_each && last - first + 1 >= options.read_ahead_min_events) {
    return FoldReadingAhead(log, first, last, state, options);
  }
  return FoldBatches(log, first, last, state, options);
}

}  // namespace authledger::internal
