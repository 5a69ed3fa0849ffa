// EventLog's read side: events, subjects, the Merkle tree, integrity and snapshots.
#include <rocksdb/iterator.h>

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

Status EventLog::Scan(std::uint64_t first, std::uint64_t last,
                      const std::function<bool(const DecodedEvent&)>& visit) const {
  first = std::max<std::uint64_t>(first, 1);
  last = std::min(last, size());
  if (first > last) return Status::Ok();
  auto upper = SeqKey(last + 1);
  rocksdb::Slice upper_slice = ToSlice(upper);
  rocksdb::ReadOptions read_options;
  read_options.iterate_upper_bound = &upper_slice;
  read_options.readahead_size = 2u << 20;
  read_options.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(read_options, impl_->events));
  auto start = SeqKey(first);
  std::uint64_t expected = first;
  for (it->Seek(ToSlice(start)); it->Valid(); it->Next()) {
    std::uint64_t seq = 0;
    if (!ParseSeqKey(ToSpan(it->key()), &seq)) {
      return Status::Corruption("log_damaged", "an event key is malformed");
    }
    if (seq != expected) return MissingEvent(expected);
    auto event = DecodedEvent::Decode(ToSpan(it->value()));
    if (!event.ok()) {
      return Status::Corruption(event.status().reason(),
                                SeqMessage(seq, std::string(event.status().message())));
    }
    if (event->seq() != seq) {
      return Status::Corruption("event_tampered",
                                SeqMessage(seq, "holds seq " + std::to_string(event->seq())));
    }
    if (!visit(*event)) return Status::Ok();
    ++expected;
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scanning events");
  if (expected <= last) return MissingEvent(expected);
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

Status EventLog::PutSnapshot(std::uint64_t seq, std::string_view bytes) {
  if (seq > size()) {
    return Status::InvalidArgument(
        "snapshot_ahead_of_log",
        "snapshot at " + std::to_string(seq) + " but the log has " + std::to_string(size()));
  }
  if (Status h = health(); !h.ok()) return h;
  auto key = SeqKey(seq);
  // A snapshot is a cache of what the events say: it bypasses the write-ahead log (it
  // can be large) and is made durable by flushing its family. A crash before the flush
  // loses only the snapshot.
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
  auto key = SeqKey(std::min(at_most_seq, size()));
  it->SeekForPrev(ToSlice(key));
  if (!it->status().ok()) return FromRocks(it->status(), "finding a snapshot");
  if (!it->Valid()) return std::optional<Snapshot>();
  Snapshot snapshot;
  if (!ParseSeqKey(ToSpan(it->key()), &snapshot.seq)) {
    return Status::Corruption("log_damaged", "a snapshot key is malformed");
  }
  snapshot.bytes = it->value().ToString();
  return std::optional<Snapshot>(std::move(snapshot));
}

Result<std::vector<std::uint64_t>> EventLog::SnapshotSeqs() const {
  rocksdb::ReadOptions read_options;
  read_options.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(read_options, impl_->snapshots));
  std::vector<std::uint64_t> seqs;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::uint64_t seq = 0;
    if (!ParseSeqKey(ToSpan(it->key()), &seq)) {
      return Status::Corruption("log_damaged", "a snapshot key is malformed");
    }
    if (seq <= size()) seqs.push_back(seq);
  }
  if (!it->status().ok()) return FromRocks(it->status(), "listing snapshots");
  return seqs;
}

}  // namespace authledger::storage
