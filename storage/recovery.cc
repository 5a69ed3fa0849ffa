#include "storage/recovery.h"

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>
#include <set>

#include "storage/event_log.h"
#include "storage/event_log_impl.h"

namespace authledger::storage {

namespace {

constexpr std::string_view kRecoveryPrefix = "recovery/";

// A log's database opened raw with all its families: for salvage (read-only, RocksDB's
// checks relaxed so that a damaged file does not stop the open) or for writing a closed
// log.
class RawDb {
 public:
  enum class Mode {
    kWrite,
    kSalvage,     // read-only; the write-ahead log replayed up to its first damage
    kSkipDamage,  // read-only; every intact write-ahead-log record replayed
  };

  Status Open(const std::string& dir, Mode mode) {
    rocksdb::Options options;
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const char* name : {rocksdb::kDefaultColumnFamilyName.c_str(), kEventsFamily, kIndexFamily,
                             kMerkleFamily, kSnapshotsFamily, kMetaFamily}) {
      families.emplace_back(name, rocksdb::ColumnFamilyOptions());
    }
    rocksdb::DB* raw = nullptr;
    rocksdb::Status s;
    if (mode == Mode::kWrite) {
      s = rocksdb::DB::Open(options, dir, families, &handles_, &raw);
    } else {
      options.paranoid_checks = false;
      options.wal_recovery_mode = mode == Mode::kSalvage
                                      ? rocksdb::WALRecoveryMode::kPointInTimeRecovery
                                      : rocksdb::WALRecoveryMode::kSkipAnyCorruptedRecords;
      s = rocksdb::DB::OpenForReadOnly(options, dir, families, &handles_, &raw);
    }
    if (!s.ok()) return FromRocks(s, "opening " + dir);
    db_.reset(raw);
    return Status::Ok();
  }
  ~RawDb() {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    if (db_) static_cast<void>(db_->Close());
  }

  rocksdb::DB* db() { return db_.get(); }
  rocksdb::ColumnFamilyHandle* events() { return handles_[1]; }
  rocksdb::ColumnFamilyHandle* index() { return handles_[2]; }
  rocksdb::ColumnFamilyHandle* merkle() { return handles_[3]; }
  rocksdb::ColumnFamilyHandle* snapshots() { return handles_[4]; }
  rocksdb::ColumnFamilyHandle* meta() { return handles_[5]; }
  const std::vector<rocksdb::ColumnFamilyHandle*>& handles() { return handles_; }

  // A meta record parsed as a u64; nullopt if absent or unreadable.
  std::optional<std::uint64_t> MetaU64(const char* name) {
    std::string value;
    std::uint64_t v = 0;
    if (!db_->Get(rocksdb::ReadOptions(), meta(), name, &value).ok() || !ParseU64(value, &v)) {
      return std::nullopt;
    }
    return v;
  }

  std::vector<std::string> RecoveryRecords() {
    std::vector<std::string> records;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta()));
    for (it->Seek(rocksdb::Slice(kRecoveryPrefix.data(), kRecoveryPrefix.size()));
         it->Valid() &&
         it->key().starts_with(rocksdb::Slice(kRecoveryPrefix.data(), kRecoveryPrefix.size()));
         it->Next()) {
      records.push_back(it->value().ToString());
    }
    return records;
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

struct PrefixEnd {
  std::uint64_t kept = 0;
  Status why;  // OK when the prefix is the whole recorded log
};

// Pass 1: the longest prefix whose events and Merkle nodes all recompute.
PrefixEnd FindGoodPrefix(RawDb& db, std::uint64_t recorded, MerkleFrontier* frontier) {
  RocksNodeReader nodes(db.db(), db.merkle());
  rocksdb::ReadOptions read_options;
  read_options.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db.db()->NewIterator(read_options, db.events()));
  std::vector<PerfectNodeWrite> written;
  std::int64_t previous_time = 0;
  std::uint64_t expected = 1;
  auto stop = [&](std::uint64_t bad_seq, Status why) {
    return PrefixEnd{bad_seq - 1, std::move(why)};
  };
  auto first = SeqKey(1);
  for (it->Seek(ToSlice(first)); expected <= recorded; it->Next(), ++expected) {
    if (!it->Valid()) {
      if (!it->status().ok()) {
        return stop(expected, FromRocks(it->status(), SeqMessage(expected, "reading")));
      }
      return stop(expected, Status::Corruption("event_missing", SeqMessage(expected, "missing")));
    }
    std::uint64_t seq = 0;
    if (!ParseSeqKey(ToSpan(it->key()), &seq) || seq != expected) {
      return stop(expected, Status::Corruption("event_missing", SeqMessage(expected, "missing")));
    }
    auto event = DecodedEvent::Decode(ToSpan(it->value()), /*require_canonical=*/true);
    if (!event.ok()) {
      return stop(seq, Status::Corruption(event.status().reason(),
                                          SeqMessage(seq, std::string(event.status().message()))));
    }
    if (event->seq() != seq || event->time_us() < previous_time) {
      return stop(seq, Status::Corruption("event_tampered",
                                          SeqMessage(seq, "holds another seq or an earlier time")));
    }
    previous_time = event->time_us();
    written.clear();
    frontier->Append(LeafHash(ToSpan(it->value())), &written);
    // A node that does not recompute taints every event under it.
    for (const auto& node : written) {
      auto stored = nodes.PerfectNode(node.level, node.index);
      if (stored.ok() && std::equal(stored->begin(), stored->end(), node.hash.begin())) continue;
      const std::uint64_t from = (node.index << node.level) + 1;
      std::string what = node.level == 0 ? SeqMessage(seq, "bytes do not match the Merkle leaf")
                                         : "the Merkle node over events " + std::to_string(from) +
                                               ".." + std::to_string(seq) + " does not recompute";
      if (!stored.ok()) what += " (" + stored.status().ToString() + ")";
      return stop(from, Status::Corruption(
                            node.level == 0 ? "event_tampered" : "merkle_node_mismatch", what));
    }
  }
  return PrefixEnd{recorded, Status::Ok()};
}

// Pass 2: events 1..kept, their index and tree, into `out`.
Status CopyEvents(RawDb& from, RawDb& out, std::uint64_t kept, Hash* root,
                  std::int64_t* last_time) {
  rocksdb::ReadOptions read_options;
  read_options.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(from.db()->NewIterator(read_options, from.events()));
  MerkleFrontier frontier;
  std::vector<PerfectNodeWrite> written;
  rocksdb::WriteBatch batch;
  rocksdb::WriteOptions write_options;
  write_options.disableWAL = true;  // flushed at the end
  auto first = SeqKey(1);
  std::uint64_t seq = 1;
  for (it->Seek(ToSlice(first)); seq <= kept; it->Next(), ++seq) {
    if (!it->Valid()) return FromRocks(it->status(), SeqMessage(seq, "re-reading"));
    auto event = DecodedEvent::Decode(ToSpan(it->value()));
    if (!event.ok()) return event.status();
    batch.Put(out.events(), it->key(), it->value());
    for (const auto& subject : IndexSubjectsOf(event->envelope())) {
      batch.Put(out.index(), IndexKey(subject, seq), rocksdb::Slice());
    }
    written.clear();
    frontier.Append(LeafHash(ToSpan(it->value())), &written);
    for (const auto& node : written) {
      auto key = MerkleNodeKey(node.level, node.index);
      batch.Put(out.merkle(), ToSlice(key), ToSlice(node.hash));
    }
    *last_time = event->time_us();
    if (batch.Count() >= 16384) {
      rocksdb::Status s = out.db()->Write(write_options, &batch);
      if (!s.ok()) return FromRocks(s, "writing the rebuilt log");
      batch.Clear();
    }
  }
  rocksdb::Status s = out.db()->Write(write_options, &batch);
  if (!s.ok()) return FromRocks(s, "writing the rebuilt log");
  *root = frontier.Root();
  return Status::Ok();
}

// The snapshots at or before `kept`, copied; those past it dropped. Snapshots are a
// cache: if the family has a damaged block, the snapshot being read and every one after
// it are dropped (the engine folds the events instead).
Status CopySnapshots(RawDb& from, RawDb& out, std::uint64_t kept, PrefixCopy* copy) {
  rocksdb::ReadOptions read_options;
  read_options.fill_cache = false;
  rocksdb::WriteOptions write_options;
  write_options.disableWAL = true;
  std::set<std::uint64_t> kept_seqs;
  std::set<std::uint64_t> dropped_seqs;
  std::unique_ptr<rocksdb::Iterator> it(from.db()->NewIterator(read_options, from.snapshots()));
  std::uint64_t seq = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    rocksdb::Slice key = it->key();
    if ((key.size() != 8 && key.size() != 12) ||
        !ParseSeqKey(ToSpan(rocksdb::Slice(key.data(), 8)), &seq)) {
      continue;  // not a snapshot key: not copied
    }
    if (seq > kept || seq == 0) {
      if (key.size() == 8) dropped_seqs.insert(seq);
      continue;
    }
    rocksdb::Status s = out.db()->Put(write_options, out.snapshots(), key, it->value());
    if (!s.ok()) return FromRocks(s, "copying the snapshot at " + std::to_string(seq));
    if (key.size() == 8) kept_seqs.insert(seq);
  }
  if (!it->status().ok()) {
    copy->snapshot_problem = "the snapshots after seq " + std::to_string(seq) +
                             " do not read back (" + it->status().ToString() +
                             "): the one being read and any after it are dropped";
    if (seq > 0 && seq <= kept) {
      dropped_seqs.insert(seq);
      kept_seqs.erase(seq);
      rocksdb::Status s =
          out.db()->DeleteRange(write_options, out.snapshots(), U64Bytes(seq), U64Bytes(seq + 1));
      if (!s.ok()) return FromRocks(s, "dropping the snapshot at " + std::to_string(seq));
    }
  }
  copy->snapshots_kept.assign(kept_seqs.begin(), kept_seqs.end());
  copy->snapshots_dropped.assign(dropped_seqs.begin(), dropped_seqs.end());
  return Status::Ok();
}

Status FlushAll(RawDb& db, const std::string& what) {
  rocksdb::FlushOptions flush;
  flush.wait = true;
  rocksdb::Status s = db.db()->Flush(flush, db.handles());
  if (s.ok()) s = db.db()->SyncWAL();
  return s.ok() ? Status::Ok() : FromRocks(s, what);
}

}  // namespace

Result<PrefixCopy> CopyGoodPrefix(const std::string& damaged_dir, const std::string& new_dir) {
  PrefixCopy copy;
  // What the log says it holds: every intact record of the write-ahead log applied.
  std::optional<std::uint64_t> claimed;
  {
    RawDb all;
    if (all.Open(damaged_dir, RawDb::Mode::kSkipDamage).ok()) claimed = all.MetaU64(kMetaSize);
  }
  RawDb from;
  if (Status s = from.Open(damaged_dir, RawDb::Mode::kSalvage); !s.ok()) return s;
  std::optional<std::uint64_t> salvaged = from.MetaU64(kMetaSize);
  if (!salvaged.has_value()) {
    // Without its size, the log is as long as its last event.
    std::unique_ptr<rocksdb::Iterator> it(
        from.db()->NewIterator(rocksdb::ReadOptions(), from.events()));
    it->SeekToLast();
    std::uint64_t last = 0;
    if (it->Valid() && ParseSeqKey(ToSpan(it->key()), &last)) salvaged = last;
  }
  copy.recorded_size = std::max(claimed.value_or(0), salvaged.value_or(0));
  copy.earlier_recoveries = from.RecoveryRecords();

  MerkleFrontier frontier;
  PrefixEnd end = FindGoodPrefix(from, salvaged.value_or(0), &frontier);
  copy.kept = end.kept;
  if (!end.why.ok()) {
    copy.reason = std::string(end.why.reason());
    copy.message = std::string(end.why.message());
  } else if (copy.kept < copy.recorded_size) {
    // The events past the salvaged size were in write-ahead-log records after a damaged
    // one.
    copy.reason = "wal_damaged";
    copy.message = "the write-ahead log is damaged: events " + std::to_string(copy.kept + 1) +
                   ".." + std::to_string(copy.recorded_size) + " were in records after the damage";
  } else {
    std::string stored;
    if (copy.kept > 0 &&
        (!from.db()->Get(rocksdb::ReadOptions(), from.meta(), kMetaRoot, &stored).ok() ||
         stored != std::string(reinterpret_cast<const char*>(frontier.Root().data()),
                               frontier.Root().size()))) {
      copy.root_rewritten = true;
    }
  }

  // The new log, created as the engine creates one, then filled raw.
  {
    EventLogOptions create;
    auto created = EventLog::Open(new_dir, create);
    if (!created.ok()) return created.status();
  }
  RawDb out;
  if (Status s = out.Open(new_dir, RawDb::Mode::kWrite); !s.ok()) return s;
  Hash root{};
  std::int64_t last_time = 0;
  if (Status s = CopyEvents(from, out, copy.kept, &root, &last_time); !s.ok()) return s;
  if (Status s = CopySnapshots(from, out, copy.kept, &copy); !s.ok()) return s;
  rocksdb::WriteBatch meta;
  std::string format;
  if (from.db()->Get(rocksdb::ReadOptions(), from.meta(), kMetaFormatVersion, &format).ok()) {
    meta.Put(out.meta(), kMetaFormatVersion, format);
  }
  meta.Put(out.meta(), kMetaSize, U64Bytes(copy.kept));
  if (copy.kept > 0) meta.Put(out.meta(), kMetaRoot, ToSlice(root));
  meta.Put(out.meta(), kMetaLastTime, U64Bytes(static_cast<std::uint64_t>(last_time)));
  meta.Put(out.meta(), kMetaNarrowIndexThrough, U64Bytes(copy.kept));
  {
    std::unique_ptr<rocksdb::Iterator> it(
        from.db()->NewIterator(rocksdb::ReadOptions(), from.meta()));
    for (it->Seek(rocksdb::Slice(kRecoveryPrefix.data(), kRecoveryPrefix.size()));
         it->Valid() &&
         it->key().starts_with(rocksdb::Slice(kRecoveryPrefix.data(), kRecoveryPrefix.size()));
         it->Next()) {
      meta.Put(out.meta(), it->key(), it->value());
    }
  }
  rocksdb::WriteOptions write_options;
  write_options.sync = true;
  rocksdb::Status s = out.db()->Write(write_options, &meta);
  if (!s.ok()) return FromRocks(s, "writing the rebuilt log's records");
  if (Status f = FlushAll(out, "flushing the rebuilt log"); !f.ok()) return f;
  return copy;
}

Status DropSnapshots(const std::string& dir, const std::vector<std::uint64_t>& seqs) {
  if (seqs.empty()) return Status::Ok();
  RawDb db;
  if (Status s = db.Open(dir, RawDb::Mode::kWrite); !s.ok()) return s;
  rocksdb::WriteOptions write_options;
  write_options.sync = true;
  for (auto seq : seqs) {
    rocksdb::Status s =
        db.db()->DeleteRange(write_options, db.snapshots(), U64Bytes(seq), U64Bytes(seq + 1));
    if (!s.ok()) return FromRocks(s, "dropping the snapshot at " + std::to_string(seq));
  }
  return FlushAll(db, "dropping snapshots");
}

Status AddRecoveryRecord(const std::string& dir, std::int64_t time_us, const std::string& text) {
  RawDb db;
  if (Status s = db.Open(dir, RawDb::Mode::kWrite); !s.ok()) return s;
  rocksdb::WriteOptions write_options;
  write_options.sync = true;
  std::string key(kRecoveryPrefix);
  key += U64Bytes(static_cast<std::uint64_t>(time_us));
  rocksdb::Status s = db.db()->Put(write_options, db.meta(), key, text);
  if (!s.ok()) return FromRocks(s, "writing the recovery record");
  return FlushAll(db, "writing the recovery record");
}

Result<std::vector<std::string>> RecoveryRecords(const std::string& dir) {
  RawDb db;
  if (Status s = db.Open(dir, RawDb::Mode::kSkipDamage); !s.ok()) return s;
  return db.RecoveryRecords();
}

Result<LogLock> LogLock::Lock(const std::string& dir) {
  rocksdb::FileLock* lock = nullptr;
  rocksdb::Status s = rocksdb::Env::Default()->LockFile(dir + "/LOCK", &lock);
  if (!s.ok()) {
    return Status::FailedPrecondition("log_in_use", "the log at " + dir +
                                                        " is open elsewhere (stop the engine "
                                                        "first): " +
                                                        s.ToString());
  }
  return LogLock(lock);
}

LogLock::LogLock(LogLock&& other) noexcept : lock_(other.lock_) { other.lock_ = nullptr; }

LogLock::~LogLock() {
  if (lock_) {
    static_cast<void>(rocksdb::Env::Default()->UnlockFile(static_cast<rocksdb::FileLock*>(lock_)));
  }
}

}  // namespace authledger::storage
