// EventLog's internals, shared by the files that implement it (internal to storage/).
//
// Thread-safety: see event_log.h; fields say who owns them.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "storage/event_log.h"
#include "storage/group_commit.h"
#include "storage/merkle.h"
#include "storage/rocks_util.h"

namespace authledger::storage {

inline constexpr const char* kEventsFamily = "events";
inline constexpr const char* kIndexFamily = "index";
inline constexpr const char* kMerkleFamily = "merkle";
inline constexpr const char* kSnapshotsFamily = "snapshots";
inline constexpr const char* kMetaFamily = "meta";

inline constexpr const char* kMetaFormatVersion = "format_version";
inline constexpr const char* kMetaEngineVersion = "engine_version";
inline constexpr const char* kMetaSize = "tree_size";
inline constexpr const char* kMetaRoot = "tree_root";
inline constexpr const char* kMetaLastTime = "last_time_us";
// The narrow subject kinds index every event up to this seq (absent: none, a log
// written before they existed).
inline constexpr const char* kMetaNarrowIndexThrough = "narrow_index_through";
inline constexpr const char* kEngineVersion = "authledger 0.1.0";

inline std::string U64Bytes(std::uint64_t v) {
  auto key = SeqKey(v);
  return {reinterpret_cast<const char*>(key.data()), key.size()};
}

inline bool ParseU64(const std::string& s, std::uint64_t* v) {
  return ParseSeqKey({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}, v);
}

inline std::string SeqMessage(std::uint64_t seq, const std::string& what) {
  return "event " + std::to_string(seq) + ": " + what;
}

// A NodeReader over the `merkle` family.
class RocksNodeReader : public NodeReader {
 public:
  RocksNodeReader(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) : db_(db), cf_(cf) {}
  Result<Hash> PerfectNode(unsigned level, std::uint64_t index) const override {
    auto key = MerkleNodeKey(level, index);
    rocksdb::PinnableSlice value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_, ToSlice(key), &value);
    if (s.IsNotFound()) {
      return Status::Corruption("merkle_node_missing", "Merkle node (level " +
                                                           std::to_string(level) + ", index " +
                                                           std::to_string(index) + ") is missing");
    }
    if (!s.ok()) return FromRocks(s, "reading a Merkle node");
    Hash h{};
    if (value.size() != h.size()) {
      return Status::Corruption("merkle_node_damaged",
                                "Merkle node (level " + std::to_string(level) + ", index " +
                                    std::to_string(index) + ") has the wrong size");
    }
    std::memcpy(h.data(), value.data(), h.size());
    return h;
  }

 private:
  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* cf_;
};

struct EventLog::Impl {
  std::string dir;
  EventLogOptions options;
  std::unique_ptr<rocksdb::Env> env;  // outlives db
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::ColumnFamilyHandle* events = nullptr;
  rocksdb::ColumnFamilyHandle* index = nullptr;
  rocksdb::ColumnFamilyHandle* merkle = nullptr;
  rocksdb::ColumnFamilyHandle* snapshots = nullptr;
  rocksdb::ColumnFamilyHandle* meta = nullptr;
  std::optional<CheckpointSigner> signer;

  // Committed view, published by the writer after each durable group.
  std::atomic<std::uint64_t> size{0};
  mutable std::mutex committed_mu;
  Hash committed_root{};
  std::int64_t committed_time_us = 0;

  // One snapshot table file is written at a time (they share a temporary name).
  std::mutex snapshot_file_mu;
  // Seqs of the snapshots being written (from PutSnapshotChunks to PutSnapshot):
  // DeleteSnapshots, which holds the mutex throughout, leaves them alone, so that it
  // never deletes the chunks of a snapshot whose header is about to be stored.
  std::mutex snapshot_seqs_mu;
  std::multiset<std::uint64_t> snapshots_being_written;

  // Writer-owned.
  std::optional<MerkleFrontier> frontier;
  std::unique_ptr<CommitQueue> queue;
  std::thread writer;

  ~Impl() {
    if (queue) queue->Stop();
    if (writer.joinable()) writer.join();
    // A clean close flushes the memtables, so that the next open does not replay the
    // write-ahead log (the events are durable either way).
    if (db && !options.read_only && queue && queue->health().ok()) {
      rocksdb::FlushOptions flush;
      flush.wait = true;
      static_cast<void>(db->Flush(flush, handles));
    }
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
    handles.clear();
    if (db) static_cast<void>(db->Close());
    if (dir_fd >= 0) ::close(dir_fd);
  }

  RocksNodeReader nodes() const { return RocksNodeReader(db.get(), merkle); }

  void WriterLoop() {
    for (;;) {
      auto group = queue->TakeGroup(options.max_group_events);
      if (group.empty()) return;
      Status s = WriteGroup(group);
      if (!s.ok()) {
        queue->Fail(s);
        for (auto& slot : group) slot->Complete(s);
        continue;
      }
      for (auto& slot : group) {
        if (slot->on_durable) slot->on_durable(slot->first_seq, slot->last_seq(), slot->drafts);
        slot->Complete(Status::Ok());
      }
    }
  }

  Status WriteGroup(const std::vector<std::shared_ptr<CommitSlot>>& group) {
    rocksdb::WriteBatch batch;
    std::vector<PerfectNodeWrite> nodes_written;
    std::int64_t last_time = 0;
    for (const auto& slot : group) {
      for (std::size_t i = 0; i < slot->drafts.size(); ++i) {
        std::uint64_t seq = slot->first_seq + i;
        auto key = SeqKey(seq);
        batch.Put(events, ToSlice(key), ToSlice(AsBytes(slot->bytes[i])));
        for (const auto& subject : slot->subjects[i]) {
          batch.Put(index, IndexKey(subject, seq), rocksdb::Slice());
        }
        nodes_written.clear();
        frontier->Append(slot->leaves[i], &nodes_written);
        for (const auto& node : nodes_written) {
          auto node_key = MerkleNodeKey(node.level, node.index);
          batch.Put(merkle, ToSlice(node_key), ToSlice(node.hash));
        }
      }
      last_time = slot->last_time_us;
    }
    // Deleting the directory does not stop writes to the files already open (unlinked
    // files stay writable, and fsync succeeds), so that a group written after a `rm -rf`
    // would be acknowledged and lost. One fstat and one stat per group (not per event),
    // before the write (so that nothing is written into a directory moved away) and
    // after it (a deletion during the write), see it.
    const std::string range = "events " + std::to_string(group.front()->first_seq) + ".." +
                              std::to_string(group.back()->last_seq());
    if (Status gone = DirectoryStillThere(); !gone.ok()) {
      return Status::IoError(gone.reason(),
                             "not writing " + range + ": " + std::string(gone.message()));
    }
    Hash root = frontier->Root();
    batch.Put(meta, kMetaSize, U64Bytes(frontier->size()));
    batch.Put(meta, kMetaRoot, ToSlice(root));
    batch.Put(meta, kMetaLastTime, U64Bytes(static_cast<std::uint64_t>(last_time)));
    // Open brought the narrow kinds up to date before the writer started.
    batch.Put(meta, kMetaNarrowIndexThrough, U64Bytes(frontier->size()));
    rocksdb::WriteOptions write_options;
    write_options.sync = true;
    rocksdb::Status s = db->Write(write_options, &batch);
    if (!s.ok()) {
      // A full disk has its own reason: the operator's fix (free space) differs.
      return Status::IoError(s.IsNoSpace() ? "log_disk_full" : "log_write_failed",
                             "writing " + range + ": " + s.ToString());
    }
    if (Status gone = DirectoryStillThere(); !gone.ok()) {
      return Status::IoError(gone.reason(),
                             "writing " + range + ": " + std::string(gone.message()));
    }
    {
      std::lock_guard lock(committed_mu);
      committed_root = root;
      committed_time_us = last_time;
      // Under the lock with the root: a checkpoint (or RootAt) reading them together
      // must never pair the new root with the old size.
      size.store(frontier->size(), std::memory_order_release);
    }
    return Status::Ok();
  }

  Status OpenDb(bool create);
  Status LoadCommittedState();
  // EventLog::Scan: the events first..last (clamped to the log), checked to be dense,
  // decodable and holding their own seq, each handed to `visit` until it returns false.
  Status ScanEvents(std::uint64_t first, std::uint64_t last, const EventLog::Visit& visit) const;
  // Reads how far the narrow subject kinds go; unless read-only, first indexes the
  // events past that (event_log_narrow.cc).
  Status LoadNarrowIndex();
  // As read at Open. It matters only to a read-only log: a writable Open indexes every
  // event before it returns, and the writer indexes each event it appends.
  std::uint64_t narrow_index_through = 0;

  // The log's directory, held open since Open to notice it being deleted or replaced.
  int dir_fd = -1;
  std::uint64_t dir_device = 0;
  std::uint64_t dir_inode = 0;
  // Remembers the directory's identity (at Open).
  Status HoldDirectory();
  // IoError("log_directory_gone") once the directory was deleted, or its path now
  // names another directory.
  Status DirectoryStillThere() const;
};

}  // namespace authledger::storage
