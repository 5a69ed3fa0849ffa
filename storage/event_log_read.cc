// EventLog's read side: events, subjects, the Merkle tree, integrity and snapshots.
#include <rocksdb/convenience.h>
#include <rocksdb/iterator.h>
#include <rocksdb/sst_file_writer.h>

#include <limits>

#include "storage/event_log_impl.h"

namespace authledger::storage {

namespace {

Status MissingEvent(std::uint64_t seq) {
  return Status::Corruption("event_missing", SeqMessage(seq, "missing from the log"));
}

}  // namespace

Result<DecodedEvent> EventLog::Read(std::uint64_t seq) const {
  if (seq == 0 || seq > size()) {
    return Status::NotFound("event_not_found", "no event " + std::to_string(seq) +
                                                   " (the log has " + std::to_string(size()) + ")");
  }
  auto key = SeqKey(seq);
  rocksdb::PinnableSlice value;
  rocksdb::Status s = impl_->db->Get(rocksdb::ReadOptions(), impl_->events, ToSlice(key), &value);
  if (s.IsNotFound()) return MissingEvent(seq);
  if (!s.ok()) return FromRocks(s, SeqMessage(seq, "reading"));
  auto event = DecodedEvent::Decode(ToSpan(value));
  if (!event.ok()) {
    return Status::Corruption(event.status().reason(),
                              SeqMessage(seq, std::string(event.status().message())));
  }
  if (event->seq() != seq) {
    return Status::Corruption("event_tampered",
                              SeqMessage(seq, "holds seq " + std::to_string(event->seq())));
  }
  return event;
}

Status EventLog::Scan(std::uint64_t first, std::uint64_t last, const Visit& visit) const {
  return impl_->ScanEvents(first, last, visit);
}

Status EventLog::Impl::ScanEvents(std::uint64_t first, std::uint64_t last,
                                  const Visit& visit) const {
  first = std::max<std::uint64_t>(first, 1);
  last = std::min(last, size.load());
  if (first > last) return Status::Ok();
  auto upper = SeqKey(last + 1);
  rocksdb::Slice upper_slice = ToSlice(upper);
  rocksdb::ReadOptions read_options;
  read_options.iterate_upper_bound = &upper_slice;
  read_options.readahead_size = 2u << 20;
  read_options.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(read_options, events));
  auto start = SeqKey(first);
  std::uint64_t expected = first;
  // Each event is decoded into this one object, reusing its buffer, unless the visitor
  // took it (moved it out, or swapped in another).
  DecodedEvent event;
  for (it->Seek(ToSlice(start)); it->Valid(); it->Next()) {
    std::uint64_t seq = 0;
    if (!ParseSeqKey(ToSpan(it->key()), &seq)) {
      return Status::Corruption("log_damaged", "an event key is malformed");
    }
    if (seq != expected) return MissingEvent(expected);
    if (Status decoded = event.Assign(ToSpan(it->value())); !decoded.ok()) {
      return Status::Corruption(decoded.reason(), SeqMessage(seq, std::string(decoded.message())));
    }
    if (event.seq() != seq) {
      return Status::Corruption("event_tampered",
                                SeqMessage(seq, "holds seq " + std::to_string(event.seq())));
    }
    if (!visit(event)) return Status::Ok();
    ++expected;
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scanning events");
  if (expected <= last) return MissingEvent(expected);
  return Status::Ok();
}

Status EventLog::ScanVerified(std::uint64_t first, std::uint64_t last, const Visit& visit,
                              std::uint64_t* bad_seq) const {
  if (bad_seq) *bad_seq = 0;
  first = std::max<std::uint64_t>(first, 1);
  last = std::min(last, size());
  if (first > last) return Status::Ok();
  RocksNodeReader nodes = impl_->nodes();
  auto frontier = MerkleFrontier::Load(nodes, first - 1);
  if (!frontier.ok()) return frontier.status();
  // The stored leaves of first..last, read in step with the events by a second iterator.
  auto leaf_start = MerkleNodeKey(0, first - 1);
  auto leaf_end = MerkleNodeKey(0, last);
  rocksdb::Slice leaf_upper = ToSlice(leaf_end);
  rocksdb::ReadOptions leaf_options;
  leaf_options.iterate_upper_bound = &leaf_upper;
  leaf_options.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> leaves(impl_->db->NewIterator(leaf_options, impl_->merkle));
  leaves->Seek(ToSlice(leaf_start));
  std::vector<PerfectNodeWrite> ignored;
  Status problem;
  bool stopped = false;
  Status scanned = Scan(first, last, [&](DecodedEvent& event) {
    const std::uint64_t seq = event.seq();
    const auto expected_key = MerkleNodeKey(0, seq - 1);
    Hash leaf = LeafHash(event.bytes());
    if (!leaves->Valid() || leaves->key() != ToSlice(expected_key) ||
        leaves->value() != ToSlice(leaf)) {
      if (bad_seq) *bad_seq = seq;
      problem = leaves->status().ok()
                    ? Status::Corruption("event_tampered",
                                         SeqMessage(seq, "bytes do not match the Merkle leaf"))
                    : FromRocks(leaves->status(), SeqMessage(seq, "reading the Merkle leaf"));
      return false;
    }
    leaves->Next();
    ignored.clear();
    frontier->Append(leaf, &ignored);
    if (!visit(event)) {
      stopped = true;
      return false;
    }
    return true;
  });
  if (!problem.ok()) return problem;
  if (!scanned.ok()) return scanned;
  if (stopped) return Status::Ok();
  auto root = RootAt(last);
  if (!root.ok()) return root.status();
  if (frontier->Root() != *root) {
    if (bad_seq) *bad_seq = first;
    return Status::Corruption(
        "root_mismatch", "the Merkle root recomputed over events " + std::to_string(first) + ".." +
                             std::to_string(last) +
                             " on the stored tree before them is not the stored root");
  }
  return Status::Ok();
}

Result<std::uint64_t> EventLog::FirstSeqAtOrAfter(std::int64_t time_us) const {
  // Binary search over seqs: event time never decreases along seq.
  std::uint64_t lo = 1;
  std::uint64_t hi = size() + 1;
  while (lo < hi) {
    std::uint64_t mid = lo + (hi - lo) / 2;
    auto event = Read(mid);
    if (!event.ok()) return event.status();
    if (event->time_us() >= time_us) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return lo;
}

Status EventLog::ScanSubject(const Subject& subject, std::uint64_t first, std::uint64_t last,
                             const std::function<bool(std::uint64_t seq)>& visit) const {
  last = std::min(last, size());
  if (first > last) return Status::Ok();
  std::string prefix = IndexPrefix(subject);
  std::string start = IndexKey(subject, first);
  std::string upper = IndexKey(subject, last);
  upper.push_back('\0');  // just past the key of `last`
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions read_options;
  read_options.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(read_options, impl_->index));
  for (it->Seek(start); it->Valid(); it->Next()) {
    rocksdb::Slice key = it->key();
    if (key.size() != prefix.size() + 8 || !key.starts_with(prefix)) {
      return Status::Corruption("index_damaged", "a subject index key is malformed");
    }
    std::uint64_t seq = 0;
    ParseSeqKey(ToSpan(rocksdb::Slice(key.data() + prefix.size(), 8)), &seq);
    if (!visit(seq)) return Status::Ok();
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scanning the subject index");
  return Status::Ok();
}

// ---- Merkle tree ----

Result<Hash> EventLog::RootAt(std::uint64_t tree_size) const {
  if (tree_size > size()) {
    return Status::InvalidArgument(
        "proof_out_of_range",
        "tree size " + std::to_string(tree_size) + " exceeds the log's " + std::to_string(size()));
  }
  if (tree_size == size()) {
    std::lock_guard lock(impl_->committed_mu);
    if (impl_->size.load() == tree_size) return impl_->committed_root;
  }
  return storage::RootAt(impl_->nodes(), tree_size);
}

Result<Hash> EventLog::LeafHashAt(std::uint64_t seq) const {
  if (seq == 0 || seq > size()) {
    return Status::NotFound("event_not_found", "no event " + std::to_string(seq));
  }
  return impl_->nodes().PerfectNode(0, seq - 1);
}

Result<Checkpoint> EventLog::CurrentCheckpoint() const {
  Checkpoint checkpoint;
  {
    std::lock_guard lock(impl_->committed_mu);
    checkpoint.size = impl_->size.load();
    checkpoint.root = impl_->committed_root;
    checkpoint.time_us = impl_->committed_time_us;
  }
  if (checkpoint.size == 0) checkpoint.root = EmptyRoot();
  if (impl_->signer) impl_->signer->Sign(&checkpoint);
  return checkpoint;
}

Result<std::vector<Hash>> EventLog::InclusionProof(std::uint64_t seq,
                                                   std::uint64_t tree_size) const {
  if (tree_size > size() || seq == 0 || seq > tree_size) {
    return Status::InvalidArgument("proof_out_of_range",
                                   "no event " + std::to_string(seq) + " in a tree of " +
                                       std::to_string(tree_size) + " (log size " +
                                       std::to_string(size()) + ")");
  }
  return storage::InclusionProof(impl_->nodes(), seq - 1, tree_size);
}

Result<std::vector<Hash>> EventLog::ConsistencyProof(std::uint64_t old_size,
                                                     std::uint64_t new_size) const {
  if (new_size > size()) {
    return Status::InvalidArgument(
        "proof_out_of_range",
        "tree size " + std::to_string(new_size) + " exceeds the log's " + std::to_string(size()));
  }
  return storage::ConsistencyProof(impl_->nodes(), old_size, new_size);
}

Status EventLog::VerifyIntegrity(std::uint64_t* bad_seq,
                                 const std::function<void(std::uint64_t)>& progress) const {
  if (bad_seq) *bad_seq = 0;
  const std::uint64_t n = size();
  MerkleFrontier rebuilt;
  std::vector<PerfectNodeWrite> ignored;
  std::int64_t previous_time = 0;
  RocksNodeReader nodes = impl_->nodes();
  Status problem;
  auto fail = [&](std::uint64_t seq, Status s) {
    if (bad_seq) *bad_seq = seq;
    problem = std::move(s);
    return false;
  };
  // Scan already reports missing seqs and undecodable bytes; this adds canonical form,
  // leaf hashes and time order.
  Status scanned = Scan(1, n, [&](const DecodedEvent& event) {
    std::uint64_t seq = event.seq();
    auto canonical = DecodedEvent::Decode(event.bytes(), /*require_canonical=*/true);
    if (!canonical.ok()) {
      return fail(seq,
                  Status::Corruption("event_tampered", SeqMessage(seq, "bytes are not canonical")));
    }
    Hash leaf = LeafHash(event.bytes());
    auto stored = nodes.PerfectNode(0, seq - 1);
    if (!stored.ok()) return fail(seq, stored.status());
    if (*stored != leaf) {
      return fail(seq, Status::Corruption("event_tampered",
                                          SeqMessage(seq, "bytes do not match the Merkle leaf")));
    }
    if (event.time_us() < previous_time) {
      return fail(seq,
                  Status::Corruption("event_tampered",
                                     SeqMessage(seq, "time is earlier than the previous event's")));
    }
    previous_time = event.time_us();
    ignored.clear();
    rebuilt.Append(leaf, &ignored);
    if (progress && seq % 65536 == 0) progress(seq);
    return true;
  });
  if (!problem.ok()) return problem;
  if (!scanned.ok()) {
    if (bad_seq) {
      std::string_view msg = scanned.message();
      constexpr std::string_view kPrefix = "event ";
      if (msg.substr(0, kPrefix.size()) == kPrefix) {
        *bad_seq = std::strtoull(std::string(msg.substr(kPrefix.size())).c_str(), nullptr, 10);
      }
    }
    return scanned;
  }
  auto root = RootAt(n);
  if (!root.ok()) return root.status();
  if (rebuilt.Root() != *root) {
    return Status::Corruption("root_mismatch",
                              "the root recomputed from the events differs from the stored tree");
  }
  if (progress) progress(n);
  return Status::Ok();
}

// ---- Snapshots ----
//
// A header is stored under its seq's key, as whole snapshots were before chunks existed,
// and chunk c of the snapshot at seq under seq ‖ c (8 + 4 bytes, big-endian), right after
// its header. Each snapshot is thus one contiguous key range, disjoint from the others':
// a table file holding one snapshot overlaps no other, so RocksDB moves it down the
// levels without rewriting it (and ingests large chunks straight into the last level).
// A key of 8 bytes is a header; chunks whose header is missing (a snapshot cut short)
// are skipped over, never taken for one.

namespace {

constexpr std::size_t kHeaderKeySize = 8;
constexpr std::size_t kChunkKeySize = 12;

std::string ChunkKey(std::uint64_t seq, std::uint32_t chunk) {
  std::string key = U64Bytes(seq);
  for (int shift = 24; shift >= 0; shift -= 8) key += static_cast<char>(chunk >> shift);
  return key;
}

// The seq of a header or chunk key; false for a key of any other shape.
bool ParseSnapshotKey(const rocksdb::Slice& key, std::uint64_t* seq) {
  if (key.size() != kHeaderKeySize && key.size() != kChunkKeySize) return false;
  return ParseSeqKey(ToSpan(rocksdb::Slice(key.data(), kHeaderKeySize)), seq);
}

std::string ChunkName(std::uint64_t seq, std::uint32_t chunk) {
  return "chunk " + std::to_string(chunk) + " of the snapshot at " + std::to_string(seq);
}

// The seq's chunk keys: [ChunkKey(seq, 0), ChunkKey(seq, max)], its header key excluded.
struct ChunkRange {
  explicit ChunkRange(std::uint64_t seq)
      : first(ChunkKey(seq, 0)), last(ChunkKey(seq, std::numeric_limits<std::uint32_t>::max())) {}
  std::string first;
  std::string last;
};

// Snapshots are written for a state the log holds, and not once appends stopped.
Status SnapshotWritable(const EventLog& log, std::uint64_t seq) {
  if (seq > log.size()) {
    return Status::InvalidArgument(
        "snapshot_ahead_of_log",
        "snapshot at " + std::to_string(seq) + " but the log has " + std::to_string(log.size()));
  }
  return log.health();
}

}  // namespace

void EventLog::EndSnapshotWrite(std::uint64_t seq) {
  std::lock_guard lock(impl_->snapshot_seqs_mu);
  auto it = impl_->snapshots_being_written.find(seq);
  if (it != impl_->snapshots_being_written.end()) impl_->snapshots_being_written.erase(it);
}

Status EventLog::PutSnapshotChunks(std::uint64_t seq, std::span<const std::string_view> chunks) {
  if (Status w = SnapshotWritable(*this, seq); !w.ok()) return w;
  if (chunks.size() > std::numeric_limits<std::uint32_t>::max()) {
    return Status::InvalidArgument("snapshot_too_large", "more chunks than 32-bit numbers");
  }
  // Being written until PutSnapshot stores its header (or this fails).
  {
    std::lock_guard lock(impl_->snapshot_seqs_mu);
    impl_->snapshots_being_written.insert(seq);
  }
  Status s = WriteSnapshotChunks(seq, chunks);
  if (!s.ok()) EndSnapshotWrite(seq);
  return s;
}

Status EventLog::WriteSnapshotChunks(std::uint64_t seq, std::span<const std::string_view> chunks) {
  if (chunks.empty()) return Status::Ok();
  std::size_t total = 0;
  for (auto chunk : chunks) total += chunk.size();
  if (total < impl_->options.snapshot_file_bytes) {
    rocksdb::WriteBatch batch;
    for (std::uint32_t c = 0; c < chunks.size(); ++c) {
      batch.Put(impl_->snapshots, ChunkKey(seq, c),
                rocksdb::Slice(chunks[c].data(), chunks[c].size()));
    }
    rocksdb::WriteOptions write_options;
    write_options.disableWAL = true;  // PutSnapshot's flush makes them durable
    rocksdb::Status s = impl_->db->Write(write_options, &batch);
    if (!s.ok()) return FromRocks(s, "writing the snapshot chunks at " + std::to_string(seq));
    return Status::Ok();
  }
  // Large chunks (a GiB at 10M tokens) are written sequentially into one table file and
  // ingested: through the memtable they would be copied twice more, flushed as a dozen
  // level-0 files and then compacted, i.e. written again, in the background. Their key
  // range (one seq) overlaps no other file's, so the file lands in the last level as is.
  std::lock_guard lock(impl_->snapshot_file_mu);
  const std::string path = impl_->dir + "/snapshot_chunks.sst.tmp";
  rocksdb::Options options(impl_->db->GetDBOptions(), impl_->db->GetOptions(impl_->snapshots));
  rocksdb::SstFileWriter writer(rocksdb::EnvOptions(options), options, impl_->snapshots);
  rocksdb::Status s = writer.Open(path);
  for (std::uint32_t c = 0; s.ok() && c < chunks.size(); ++c) {
    s = writer.Put(ChunkKey(seq, c), rocksdb::Slice(chunks[c].data(), chunks[c].size()));
  }
  if (s.ok()) s = writer.Finish();  // syncs the file
  if (s.ok()) {
    rocksdb::IngestExternalFileOptions ingest;
    ingest.move_files = true;
    s = impl_->db->IngestExternalFile(impl_->snapshots, {path}, ingest);
  }
  // Gone once moved in; left behind by a failure, or by a crash until the next call.
  static_cast<void>(options.env->DeleteFile(path));
  if (!s.ok()) return FromRocks(s, "writing the snapshot chunks at " + std::to_string(seq));
  return Status::Ok();
}

Status EventLog::PutSnapshot(std::uint64_t seq, std::string_view bytes) {
  Status s = WriteSnapshotHeader(seq, bytes);
  EndSnapshotWrite(seq);
  return s;
}

Status EventLog::WriteSnapshotHeader(std::uint64_t seq, std::string_view bytes) {
  if (Status w = SnapshotWritable(*this, seq); !w.ok()) return w;
  auto key = SeqKey(seq);
  // The header bypasses the write-ahead log, like the chunks before it, and the flush
  // makes both durable: a memtable's chunks are flushed with it or before it, and
  // ingested chunks already are. A crash before the flush loses only the snapshot.
  rocksdb::WriteOptions write_options;
  write_options.disableWAL = true;
  rocksdb::Status s = impl_->db->Put(write_options, impl_->snapshots, ToSlice(key),
                                     rocksdb::Slice(bytes.data(), bytes.size()));
  if (s.ok()) {
    rocksdb::FlushOptions flush;
    flush.wait = true;
    s = impl_->db->Flush(flush, impl_->snapshots);
  }
  if (!s.ok()) return FromRocks(s, "writing the snapshot at " + std::to_string(seq));
  return Status::Ok();
}

Result<std::optional<Snapshot>> EventLog::NearestSnapshot(std::uint64_t at_most_seq) const {
  rocksdb::ReadOptions read_options;
  read_options.fill_cache = false;  // a snapshot is read once, and may be large
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(read_options, impl_->snapshots));
  std::string target = U64Bytes(std::min(at_most_seq, size()));
  for (;;) {
    // The last key at or before the target: a header, or a chunk after its header.
    it->SeekForPrev(target);
    if (!it->status().ok()) return FromRocks(it->status(), "finding a snapshot");
    if (!it->Valid()) return std::optional<Snapshot>();
    Snapshot snapshot;
    if (!ParseSnapshotKey(it->key(), &snapshot.seq)) {
      return Status::Corruption("log_damaged", "a snapshot key is malformed");
    }
    if (it->key().size() == kHeaderKeySize) {
      snapshot.bytes = it->value().ToString();
      return std::optional<Snapshot>(std::move(snapshot));
    }
    const std::string header_key = U64Bytes(snapshot.seq);
    rocksdb::PinnableSlice header;
    rocksdb::Status s = impl_->db->Get(read_options, impl_->snapshots, header_key, &header);
    if (s.ok()) {
      snapshot.bytes = header.ToString();
      return std::optional<Snapshot>(std::move(snapshot));
    }
    if (!s.IsNotFound()) return FromRocks(s, "reading a snapshot header");
    // Chunks without a header: look below them.
    if (snapshot.seq == 0) return std::optional<Snapshot>();
    target = ChunkKey(snapshot.seq - 1, std::numeric_limits<std::uint32_t>::max());
  }
}

Status EventLog::ReadSnapshotChunk(std::uint64_t seq, std::uint32_t chunk,
                                   const std::function<Status(std::string_view)>& use) const {
  rocksdb::ReadOptions read_options;
  read_options.fill_cache = false;
  rocksdb::PinnableSlice value;  // pins the block read, sparing a copy of the value
  rocksdb::Status s = impl_->db->Get(read_options, impl_->snapshots, ChunkKey(seq, chunk), &value);
  if (s.IsNotFound()) {
    return Status::NotFound("snapshot_chunk_missing", ChunkName(seq, chunk) + " is missing");
  }
  if (!s.ok()) return FromRocks(s, "reading " + ChunkName(seq, chunk));
  return use(std::string_view(value.data(), value.size()));
}

Result<std::vector<std::uint64_t>> EventLog::SnapshotSeqs() const {
  rocksdb::ReadOptions read_options;
  read_options.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(read_options, impl_->snapshots));
  std::vector<std::uint64_t> seqs;
  // From each snapshot's first key straight to the next snapshot's, over its chunks.
  for (it->SeekToFirst(); it->Valid();) {
    std::uint64_t seq = 0;
    if (!ParseSnapshotKey(it->key(), &seq)) {
      return Status::Corruption("log_damaged", "a snapshot key is malformed");
    }
    if (seq > size()) break;
    if (it->key().size() == kHeaderKeySize) seqs.push_back(seq);
    it->Seek(U64Bytes(seq + 1));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "listing snapshots");
  return seqs;
}

Result<EventLog::DeletedSnapshots> EventLog::DeleteSnapshots(std::span<const std::uint64_t> seqs,
                                                             bool orphans) {
  if (Status h = health(); !h.ok()) return h;
  // Held throughout, so that no snapshot starts being written at a seq between the
  // check below and the dropping of its files.
  std::lock_guard lock(impl_->snapshot_seqs_mu);
  auto being_written = [&](std::uint64_t seq) {
    return impl_->snapshots_being_written.contains(seq);
  };
  DeletedSnapshots deleted;
  for (std::uint64_t seq : seqs) {
    if (!being_written(seq)) deleted.seqs.push_back(seq);
  }
  if (orphans) {
    // A seq whose first key is a chunk's has no header (the header key sorts first).
    rocksdb::ReadOptions read_options;
    read_options.fill_cache = false;
    std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(read_options, impl_->snapshots));
    for (it->SeekToFirst(); it->Valid();) {
      std::uint64_t seq = 0;
      if (!ParseSnapshotKey(it->key(), &seq)) {
        return Status::Corruption("log_damaged", "a snapshot key is malformed");
      }
      if (seq > size()) break;
      if (it->key().size() == kChunkKeySize && !being_written(seq)) deleted.orphans.push_back(seq);
      it->Seek(U64Bytes(seq + 1));
    }
    if (!it->status().ok()) return FromRocks(it->status(), "listing snapshot chunks");
  }
  std::vector<std::uint64_t> all = deleted.seqs;
  all.insert(all.end(), deleted.orphans.begin(), deleted.orphans.end());
  if (all.empty()) return deleted;

  // 1. Headers and chunks, durably, like PutSnapshot: bypassing the write-ahead log,
  //    then flushed (one memtable, so one table file: all or nothing).
  rocksdb::WriteBatch batch;
  for (std::uint64_t seq : all) {
    rocksdb::Status s = batch.DeleteRange(impl_->snapshots, U64Bytes(seq), U64Bytes(seq + 1));
    if (!s.ok()) return FromRocks(s, "deleting the snapshot at " + std::to_string(seq));
  }
  rocksdb::WriteOptions write_options;
  write_options.disableWAL = true;
  rocksdb::Status s = impl_->db->Write(write_options, &batch);
  if (s.ok()) {
    rocksdb::FlushOptions flush;
    flush.wait = true;
    s = impl_->db->Flush(flush, impl_->snapshots);
  }
  if (!s.ok()) return FromRocks(s, "deleting snapshots");

  // 2. Only now, the deletion being durable, the files holding nothing but those chunks.
  //    The ranges leave out the header keys: a file holding a header's deletion is never
  //    dropped, so a header once deleted stays deleted. At worst (a file holding a
  //    chunk's deletion dropped while an older copy of that chunk survives in another
  //    file) a chunk without a header reappears, which nothing reads and the next
  //    sweep of orphans deletes.
  std::vector<ChunkRange> keys;
  keys.reserve(all.size());
  for (std::uint64_t seq : all) keys.emplace_back(seq);
  std::vector<rocksdb::Slice> slices;
  slices.reserve(2 * keys.size());
  std::vector<rocksdb::RangePtr> ranges;
  ranges.reserve(keys.size());
  for (const auto& k : keys) {
    slices.emplace_back(k.first);
    slices.emplace_back(k.last);
    ranges.emplace_back(&slices[slices.size() - 2], &slices.back());
  }
  s = rocksdb::DeleteFilesInRanges(impl_->db.get(), impl_->snapshots, ranges.data(), ranges.size(),
                                   /*include_end=*/true);
  if (!s.ok()) return FromRocks(s, "dropping the files of deleted snapshots");
  return deleted;
}

}  // namespace authledger::storage
