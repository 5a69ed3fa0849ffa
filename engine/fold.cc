#include "engine/fold.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace authledger::internal {

namespace {

// Events handed from the reader to the fold, each with its EvolveLookupHash (computed
// by the reader, off the folding thread).
struct Batch {
  std::vector<storage::DecodedEvent> events;
  std::vector<std::uint64_t> lookup_hashes;

  std::size_t size() const { return events.size(); }
  bool empty() const { return events.empty(); }
  void Add(storage::DecodedEvent& event) {
    lookup_hashes.push_back(EvolveLookupHash(event.envelope()));
    events.push_back(std::move(event));
  }
  void Clear() {
    events.clear();
    lookup_hashes.clear();
  }
};

// Events per batch handed from the reader to the fold, and batches the reader may run
// ahead: enough that a lock and wake-up are rare per event, few enough to stay in cache.
constexpr std::size_t kBatchEvents = 256;
constexpr std::size_t kBatchesAhead = 8;
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
      // The event's first lines (written by the reading thread, so in another cache).
      const auto bytes = batch.events[i + kBytesAhead].bytes();
      for (std::size_t at = 0; at < bytes.size() && at < 256; at += 64) {
        __builtin_prefetch(bytes.data() + at);
      }
    }
    if (i + kSlotAhead < n) {
      PrefetchForEvolve(state, batch.lookup_hashes[i + kSlotAhead], PrefetchStage::kSlot);
    }
    if (i + kRecordAhead < n) {
      PrefetchForEvolve(state, batch.lookup_hashes[i + kRecordAhead], PrefetchStage::kRecord);
    }
    const storage::DecodedEvent& event = batch.events[i];
    Evolve(state, event.envelope());
    if (options.after_each && !options.after_each(event)) return false;
  }
  return true;
}

void Reserve(Batch& batch) {
  batch.events.reserve(kBatchEvents);
  batch.lookup_hashes.reserve(kBatchEvents);
}

Status ScanRange(const storage::EventLog& log, std::uint64_t first, std::uint64_t last,
                 const FoldOptions& options, const storage::EventLog::Visit& visit) {
  return options.verified ? log.ScanVerified(first, last, visit) : log.Scan(first, last, visit);
}

// The batches between the reading thread and the folding one. Emptied batches go back
// to the reader, so that each event is freed on the thread that allocated it.
class BatchQueue {
 public:
  // Reader: queues `batch` (waiting for room) and leaves an empty one in its place;
  // false once the fold stopped.
  bool Push(Batch& batch) {
    Batch next;
    {
      std::unique_lock lock(mu_);
      room_.wait(lock, [&] { return cancelled_ || full_.size() < kBatchesAhead; });
      if (cancelled_) return false;
      full_.push_back(std::move(batch));
      if (!emptied_.empty()) {
        next = std::move(emptied_.back());
        emptied_.pop_back();
      }
    }
    ready_.notify_one();
    next.Clear();  // frees the folded events here, outside the lock
    Reserve(next);
    batch = std::move(next);
    return true;
  }

  // Reader: no more batches; `status` is the scan's, `failure` what it threw (if any).
  void Finish(Status status, std::exception_ptr failure = nullptr) {
    {
      std::lock_guard lock(mu_);
      finished_ = true;
      status_ = std::move(status);
      failure_ = std::move(failure);
    }
    ready_.notify_one();
  }

  // Fold: the next batch, waiting for it; false once the reader finished and every
  // batch was taken.
  bool Pop(Batch& batch) {
    std::unique_lock lock(mu_);
    ready_.wait(lock, [&] { return finished_ || !full_.empty(); });
    if (full_.empty()) return false;
    batch = std::move(full_.front());
    full_.pop_front();
    lock.unlock();
    room_.notify_one();
    return true;
  }

  // Fold: hands a folded batch back to the reader.
  void Recycle(Batch batch) {
    std::lock_guard lock(mu_);
    emptied_.push_back(std::move(batch));
  }

  // Fold: stops the reader (its next Push returns false).
  void Cancel() {
    {
      std::lock_guard lock(mu_);
      cancelled_ = true;
    }
    room_.notify_one();
  }

  // What the reader finished with, once Pop returned false: its status, or rethrows
  // what it threw.
  Status status() {
    std::lock_guard lock(mu_);
    if (failure_) std::rethrow_exception(failure_);
    return status_;
  }

 private:
  std::mutex mu_;
  std::condition_variable room_;   // the reader waits for room
  std::condition_variable ready_;  // the fold waits for a batch
  std::deque<Batch> full_;
  std::vector<Batch> emptied_;
  bool finished_ = false;
  bool cancelled_ = false;
  Status status_;
  std::exception_ptr failure_;
};

Status FoldOnOneThread(const storage::EventLog& log, std::uint64_t first, std::uint64_t last,
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

Status FoldReadingAhead(const storage::EventLog& log, std::uint64_t first, std::uint64_t last,
                        State& state, const FoldOptions& options) {
  BatchQueue queue;
  auto read = [&] {
    try {
      Batch batch;
      Reserve(batch);
      Status scanned = ScanRange(log, first, last, options, [&](storage::DecodedEvent& event) {
        batch.Add(event);
        return batch.size() < kBatchEvents || queue.Push(batch);
      });
      if (!batch.empty()) queue.Push(batch);
      queue.Finish(std::move(scanned));
    } catch (...) {
      // Thrown on the folding thread instead, as a fold on one thread would.
      queue.Finish(Status::Ok(), std::current_exception());
    }
  };
  std::thread reader;
  try {
    reader = std::thread(read);
  } catch (const std::system_error&) {
    return FoldOnOneThread(log, first, last, state, options);  // no thread to be had
  }
  // Whatever happens here (bad_alloc included), the reader is stopped and joined.
  struct Joiner {
    BatchQueue& queue;
    std::thread& reader;
    ~Joiner() {
      queue.Cancel();
      reader.join();
    }
  } joiner{queue, reader};
  Batch batch;
  bool going = true;
  while (going && queue.Pop(batch)) {
    going = FoldBatch(state, batch, options);
    queue.Recycle(std::move(batch));
  }
  if (!going) return Status::Ok();
  return queue.status();
}

}  // namespace

Status FoldLog(const storage::EventLog& log, std::uint64_t last, State& state,
               const FoldOptions& options) {
  const std::uint64_t first = state.revision + 1;
  last = std::min(last, log.size());
  if (first > last) return Status::Ok();
  if (last - first + 1 < options.read_ahead_min_events) {
    return FoldOnOneThread(log, first, last, state, options);
  }
  return FoldReadingAhead(log, first, last, state, options);
}

}  // namespace authledger::internal
