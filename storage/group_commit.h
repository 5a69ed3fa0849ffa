// The commit queue behind EventLog's group commit (internal to storage/).
//
// Callers admit batches: under one short lock the queue checks event times, gives the
// batch its seqs and appends it. The caller then encodes and hashes its events outside
// the lock (so encoding runs on the callers' threads in parallel) and marks the batch
// prepared. The single writer thread takes the longest prepared prefix of the queue as
// one group, writes it with one sync, and completes each batch's slot, waking its
// caller. After a failure the queue refuses everything and fails what it holds.
//
// Thread-safety: all methods may be called from any threads; TakeGroup from one writer.
#pragma once

#include <authledger/status.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "storage/event_codec.h"
#include "storage/hash.h"
#include "storage/subjects.h"

namespace authledger::storage {

struct SeqRange;

// One admitted batch and everything the writer needs to store it.
struct CommitSlot {
  std::vector<EventDraft> drafts;
  std::vector<std::vector<Subject>> subjects;  // per event
  std::vector<kj::Array<capnp::word>> bytes;   // per event, canonical, seq set
  std::vector<Hash> leaves;                    // per event
  std::uint64_t first_seq = 0;
  std::int64_t last_time_us = 0;
  std::function<void(std::uint64_t first, std::uint64_t last, const std::vector<EventDraft>&)>
      on_durable;

  std::uint64_t last_seq() const { return first_seq + drafts.size() - 1; }
  // Sets seqs, canonical bytes and leaf hashes (the caller's thread does this).
  void Prepare();

  void Complete(Status status);
  Status Wait();

 private:
  friend class CommitQueue;
  bool prepared_ = false;  // guarded by the queue's mutex
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  Status status_;
};

class CommitQueue {
 public:
  CommitQueue(std::uint64_t next_seq, std::int64_t last_time_us);
  CommitQueue(const CommitQueue&) = delete;
  CommitQueue& operator=(const CommitQueue&) = delete;

  // Checks times against the previous admitted event, assigns seqs, queues the slot.
  Status Admit(const std::shared_ptr<CommitSlot>& slot);
  void MarkPrepared(const std::shared_ptr<CommitSlot>& slot);

  // Writer: waits for a prepared prefix and returns up to `max_events` events' worth of
  // slots (at least one slot). Returns empty once stopped and drained.
  std::vector<std::shared_ptr<CommitSlot>> TakeGroup(std::size_t max_events);

  // Turns the queue read-only with `cause`, failing every queued batch.
  void Fail(const Status& cause);
  // Writer finishes what is queued, then TakeGroup returns empty.
  void Stop();

  std::uint64_t next_seq() const;
  std::int64_t last_time_us() const;
  Status health() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable ready_;
  std::deque<std::shared_ptr<CommitSlot>> queue_;
  std::uint64_t next_seq_;
  std::int64_t last_time_us_;
  Status failure_;
  bool stopping_ = false;
};

}  // namespace authledger::storage
