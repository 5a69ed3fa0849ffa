// EventLog: the append-only, tamper-evident event log on RocksDB.
//
// Holds every event under a dense seq from 1 (assigned here), a subject index (org,
// user, token, IdP → seqs), the RFC 6962 Merkle tree over the canonical bytes of the
// events, and engine snapshots. Appends are atomic (a batch is all or nothing) and
// durable (fsync) when acknowledged; many threads' batches are group-committed by one
// writer thread into one RocksDB WriteBatch and one sync. If a write fails, the log
// turns read-only for the rest of its life (`health()` says why): nothing after the
// failure is acknowledged, and reopening resumes from what is durable.
//
// Only this layer includes RocksDB; this header exposes none of its types.
//
// Thread-safety: every method may be called from any number of threads at once.
// Readers see only committed (durable) events.
#pragma once

#include <authledger/status.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "storage/checkpoint.h"
#include "storage/event_codec.h"
#include "storage/hash.h"
#include "storage/subjects.h"

namespace authledger::storage {

class FaultInjector;

struct EventLogOptions {
  // Create the log if `dir` does not exist or is empty.
  bool create_if_missing = true;
  // Open without writing anything (audit tools beside a live engine read a
  // consistent view as of opening).
  bool read_only = false;
  // Ed25519 private key (PEM) used to sign checkpoints; empty = unsigned checkpoints.
  std::string checkpoint_key_file;
  // Most events one group commit writes; more waiting callers go to the next group.
  std::size_t max_group_events = 16384;
  // RocksDB block cache for reads, in bytes.
  std::size_t block_cache_bytes = 64u << 20;
  // Snapshot chunks totalling at least this many bytes are written as a table file and
  // ingested (see PutSnapshotChunks); smaller ones go through the memtable, where they
  // compact with the rest of the family instead of leaving one small file each.
  std::size_t snapshot_file_bytes = 32u << 20;
  // A writable Open indexes the events an older build appended under the narrow subject
  // kinds (NarrowIndexThrough) in write batches of this many events, each recording how
  // far the index then goes, so that an interrupted run resumes there.
  std::uint64_t narrow_index_batch_events = 1 << 16;
  // Test hook: a fault-injecting file system under the log (see fault_injection.h).
  std::shared_ptr<FaultInjector> faults;
};

// Seqs [first, last] given to one appended batch.
struct SeqRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  std::uint64_t count() const { return last + 1 - first; }
};

class EventLog;

// A batch accepted into the commit queue: its seqs are fixed, its durability is not yet
// known. Wait() encodes and hashes the batch on the calling thread (so that a caller
// may admit under its own lock and encode outside it), then blocks until the group
// holding it was synced (OK) or failed. Destroying it without Wait() still hands the
// batch to the writer. It must not outlive its log.
class PendingAppend {
 public:
  PendingAppend(PendingAppend&&) noexcept;
  PendingAppend& operator=(PendingAppend&&) noexcept;
  PendingAppend(const PendingAppend&) = delete;
  PendingAppend& operator=(const PendingAppend&) = delete;
  ~PendingAppend();

  SeqRange seqs() const { return seqs_; }
  Result<SeqRange> Wait();

 private:
  friend class EventLog;
  struct Slot;
  PendingAppend(std::shared_ptr<Slot> slot, SeqRange seqs);
  std::shared_ptr<Slot> slot_;
  SeqRange seqs_;
};

struct Snapshot {
  std::uint64_t seq = 0;  // the state covers events 1..seq
  std::string bytes;      // the header
};

class EventLog {
 public:
  // Opens or creates the log in `dir`. Refuses: a directory holding something else
  // ("not_an_event_log"), a log of a newer format ("format_too_new"), a damaged one
  // (naming what is wrong: "wal_damaged" for a damaged write-ahead-log record anywhere
  // but a torn last one, "table_file_damaged" / "manifest_damaged" when RocksDB's
  // checksums fail, the file named in the message; "log_damaged" when the recorded size,
  // last event, Merkle frontier and recorded root disagree), a missing one when
  // !create_if_missing ("log_not_found").
  static Result<std::unique_ptr<EventLog>> Open(const std::string& dir,
                                                const EventLogOptions& options);
  // Stops the writer after the queued groups are written, then closes.
  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  // ---- Appending ----

  // Called by the writer thread, after a batch is durable and before its caller is
  // woken, in seq order across batches, with the batch's events (seqs set). Must not
  // call back into the log's writes.
  using DurableCallback = std::function<void(SeqRange, const std::vector<EventDraft>&)>;

  // Validates the batch, assigns its seqs and queues it; returns at once, before
  // encoding (see PendingAppend). Refuses an
  // empty batch, a time earlier than the previous event's ("time_decreased"), an id
  // with a NUL byte, or any append once the log is read-only ("log_read_only").
  // Calls made one after another get increasing seqs in that order.
  Result<PendingAppend> Enqueue(std::vector<EventDraft> batch,
                                DurableCallback on_durable = nullptr);
  // Enqueue + Wait: returns once the batch is durable.
  Result<SeqRange> Append(std::vector<EventDraft> batch);

  // Seq the next accepted event will get (committed + queued + 1).
  std::uint64_t next_seq() const;
  // Time of the latest accepted event (queued or committed); 0 if none.
  std::int64_t last_time_us() const;
  // Number of durable events; their seqs are 1..size().
  std::uint64_t size() const;
  // OK while the log accepts appends; else why it stopped: "log_disk_full" (ENOSPC),
  // "log_directory_gone" (the directory was deleted or moved away: checked before and
  // after each group is written), "log_write_failed" (any other write or fsync error).
  Status health() const;

  // ---- Reading (durable events only) ----

  Result<DecodedEvent> Read(std::uint64_t seq) const;
  // Calls `visit` for each event in [first, last] ∩ [1, size()] in order, stopping
  // early if it returns false. Reads with a forward iterator, never the whole log.
  // `visit` may move the event out (keep it past the call): it is not read again.
  using Visit = std::function<bool(DecodedEvent&)>;
  Status Scan(std::uint64_t first, std::uint64_t last, const Visit& visit) const;
  // The first seq whose event time is ≥ time_us, or size() + 1 if none.
  Result<std::uint64_t> FirstSeqAtOrAfter(std::int64_t time_us) const;
  // Seqs of the events of `subject` in [first, last], ascending, stopping early if
  // `visit` returns false.
  Status ScanSubject(const Subject& subject, std::uint64_t first, std::uint64_t last,
                     const std::function<bool(std::uint64_t seq)>& visit) const;
  // The narrow subject kinds (see subjects.h) index every event of 1..this seq. Always
  // size() once the log was opened for writing: Open indexes, before anything else,
  // the events that a build without those kinds appended (the whole log, the first
  // time), resuming where an interrupted run stopped. A read-only open of such a log
  // sees less than size(); scoped queries then read the broad kinds.
  std::uint64_t NarrowIndexThrough() const;

  // ---- Merkle tree ----

  // Root of the tree over events 1..size (size ≤ size()).
  Result<Hash> RootAt(std::uint64_t size) const;
  // Leaf hash of event `seq` as stored in the tree.
  Result<Hash> LeafHashAt(std::uint64_t seq) const;
  // (size(), root, time of the last event), signed if a key is configured.
  Result<Checkpoint> CurrentCheckpoint() const;
  // Proof that event `seq` is leaf seq-1 of the tree of `tree_size` events.
  Result<std::vector<Hash>> InclusionProof(std::uint64_t seq, std::uint64_t tree_size) const;
  // Proof that the tree of `old_size` events is a prefix of the tree of `new_size`.
  Result<std::vector<Hash>> ConsistencyProof(std::uint64_t old_size, std::uint64_t new_size) const;
  // Scan, and also recomputes each event's leaf hash and compares it with the stored
  // leaf, then checks that the stored tree over 1..first-1 extended by the recomputed
  // leaves of first..last has the stored root at `last`. What Open of the engine runs on
  // the events after its snapshot: it costs one SHA-256 per event it folds anyway.
  // Corruption "event_tampered" (naming the seq, *bad_seq receives it) or
  // "root_mismatch"; stops early (OK) when `visit` returns false.
  Status ScanVerified(std::uint64_t first, std::uint64_t last, const Visit& visit,
                      std::uint64_t* bad_seq = nullptr) const;
  // Re-reads every event, recomputes its leaf hash, checks it decodes canonically with
  // the right seq and non-decreasing time, and recomputes the root. Fails with
  // Corruption naming the first bad seq ("event_missing", "event_tampered",
  // "event_undecodable", "root_mismatch"); *bad_seq receives it (0 if none).
  // `progress` (optional) is called with the seqs done so far.
  Status VerifyIntegrity(std::uint64_t* bad_seq = nullptr,
                         const std::function<void(std::uint64_t)>& progress = nullptr) const;

  // ---- Snapshots ----
  //
  // A snapshot is a header value under its seq, plus any number of chunks: values stored
  // beside it (the engine's token records, ~7 MiB each), so that no value is huge and
  // chunks load in parallel. The log does not interpret either; the header says how
  // many chunks there are. A snapshot is a cache of what the events say: it bypasses
  // the write-ahead log and is made durable by PutSnapshot.

  // Stores chunks 0..chunks.size()-1 of the snapshot at `seq`. They stay invisible until
  // PutSnapshot stores the header: write the chunks first and the header last, so that a
  // snapshot cut short (a crash, a failed write) is never found. Chunks totalling
  // EventLogOptions::snapshot_file_bytes or more are written as one table file ingested
  // into RocksDB, bypassing the memtable and compaction.
  Status PutSnapshotChunks(std::uint64_t seq, std::span<const std::string_view> chunks);
  // Stores the header of the snapshot at `seq` (the whole snapshot if it has no chunks)
  // and makes it and its chunks durable.
  Status PutSnapshot(std::uint64_t seq, std::string_view bytes);
  // The snapshot (its header) with the greatest seq ≤ at_most_seq, if any.
  Result<std::optional<Snapshot>> NearestSnapshot(std::uint64_t at_most_seq) const;
  // Passes the bytes of chunk `chunk` of the snapshot at `seq` to `use` (valid only
  // during the call) and returns what it returns; NotFound("snapshot_chunk_missing") if
  // there is no such chunk. Reads without filling the block cache.
  Status ReadSnapshotChunk(std::uint64_t seq, std::uint32_t chunk,
                           const std::function<Status(std::string_view)>& use) const;
  // The seqs of every stored snapshot (header) within the log, ascending.
  Result<std::vector<std::uint64_t>> SnapshotSeqs() const;

  // What DeleteSnapshots deleted.
  struct DeletedSnapshots {
    std::vector<std::uint64_t> seqs;     // whole snapshots (header and chunks)
    std::vector<std::uint64_t> orphans;  // chunks stored without a header
  };
  // Deletes the snapshots at `seqs` (headers and chunks) and, with `orphans`, every
  // chunk within the log stored without a header (a snapshot whose write a crash cut
  // short). Headers and chunks go in one batch made durable by a flush: a crash leaves
  // each snapshot whole or gone, never a header without its chunks. Then the table
  // files that held nothing but the deleted chunks (the large, ingested ones) are
  // dropped, so that their space is free at once rather than after some compaction. A
  // snapshot being written meanwhile (between PutSnapshotChunks and PutSnapshot) is
  // left alone. Refused once the log is read-only.
  Result<DeletedSnapshots> DeleteSnapshots(std::span<const std::uint64_t> seqs,
                                           bool orphans = false);

  const std::string& dir() const;

 private:
  struct Impl;
  explicit EventLog(std::unique_ptr<Impl> impl);
  // PutSnapshotChunks and PutSnapshot but for marking the seq as being written.
  Status WriteSnapshotChunks(std::uint64_t seq, std::span<const std::string_view> chunks);
  Status WriteSnapshotHeader(std::uint64_t seq, std::string_view bytes);
  void EndSnapshotWrite(std::uint64_t seq);
  std::unique_ptr<Impl> impl_;
};

}  // namespace authledger::storage
