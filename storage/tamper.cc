#include "storage/tamper.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <memory>
#include <vector>

#include "storage/event_codec.h"
#include "storage/event_log_impl.h"

namespace authledger::storage::tamper {

namespace {

// The log's database opened raw, with all its families.
class RawLog {
 public:
  Status Open(const std::string& dir) {
    rocksdb::Options options;
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const char* name : {rocksdb::kDefaultColumnFamilyName.c_str(), kEventsFamily, kIndexFamily,
                             kMerkleFamily, kSnapshotsFamily, kMetaFamily}) {
      families.emplace_back(name, rocksdb::ColumnFamilyOptions());
    }
    rocksdb::DB* raw = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(options, dir, families, &handles_, &raw);
    if (!s.ok()) return FromRocks(s, "opening " + dir + " raw");
    db_.reset(raw);
    return Status::Ok();
  }
  ~RawLog() {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    if (db_) static_cast<void>(db_->Close());
  }
  rocksdb::DB* db() { return db_.get(); }
  rocksdb::ColumnFamilyHandle* events() { return handles_[1]; }
  rocksdb::ColumnFamilyHandle* index() { return handles_[2]; }
  rocksdb::ColumnFamilyHandle* merkle() { return handles_[3]; }
  rocksdb::ColumnFamilyHandle* snapshots() { return handles_[4]; }
  rocksdb::ColumnFamilyHandle* meta() { return handles_[5]; }

  Result<std::string> Get(rocksdb::ColumnFamilyHandle* cf, std::uint64_t seq) {
    auto key = SeqKey(seq);
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf, ToSlice(key), &value);
    if (!s.ok()) return FromRocks(s, "reading event " + std::to_string(seq));
    return value;
  }
  Status Put(rocksdb::ColumnFamilyHandle* cf, std::uint64_t seq, const std::string& value) {
    auto key = SeqKey(seq);
    rocksdb::WriteOptions options;
    options.sync = true;
    rocksdb::Status s = db_->Put(options, cf, ToSlice(key), value);
    return s.ok() ? Status::Ok() : FromRocks(s, "writing event " + std::to_string(seq));
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

}  // namespace

Status FlipEventByte(const std::string& dir, std::uint64_t seq, std::size_t offset) {
  RawLog log;
  if (Status s = log.Open(dir); !s.ok()) return s;
  auto value = log.Get(log.events(), seq);
  if (!value.ok()) return value.status();
  if (offset >= value->size()) {
    return Status::InvalidArgument("offset_out_of_range", "event is shorter than the offset");
  }
  (*value)[offset] = static_cast<char>((*value)[offset] ^ 1);
  return log.Put(log.events(), seq, *value);
}

Status OverwriteEvent(const std::string& dir, std::uint64_t seq, const std::string& bytes) {
  RawLog log;
  if (Status s = log.Open(dir); !s.ok()) return s;
  return log.Put(log.events(), seq, bytes);
}

Status DeleteEvent(const std::string& dir, std::uint64_t seq) {
  RawLog log;
  if (Status s = log.Open(dir); !s.ok()) return s;
  auto key = SeqKey(seq);
  rocksdb::WriteOptions options;
  options.sync = true;
  rocksdb::Status s = log.db()->Delete(options, log.events(), ToSlice(key));
  return s.ok() ? Status::Ok() : FromRocks(s, "deleting");
}

Status SwapEvents(const std::string& dir, std::uint64_t a, std::uint64_t b) {
  RawLog log;
  if (Status s = log.Open(dir); !s.ok()) return s;
  auto va = log.Get(log.events(), a);
  if (!va.ok()) return va.status();
  auto vb = log.Get(log.events(), b);
  if (!vb.ok()) return vb.status();
  if (Status s = log.Put(log.events(), a, *vb); !s.ok()) return s;
  return log.Put(log.events(), b, *va);
}

Status TruncateTail(const std::string& dir, std::uint64_t keep) {
  RawLog log;
  if (Status s = log.Open(dir); !s.ok()) return s;
  std::string size_value;
  rocksdb::Status rs = log.db()->Get(rocksdb::ReadOptions(), log.meta(), kMetaSize, &size_value);
  if (!rs.ok()) return FromRocks(rs, "reading the size");
  std::uint64_t size = 0;
  ParseU64(size_value, &size);
  rocksdb::WriteBatch batch;
  for (std::uint64_t seq = keep + 1; seq <= size; ++seq) {
    auto key = SeqKey(seq);
    batch.Delete(log.events(), ToSlice(key));
  }
  RocksNodeReader nodes(log.db(), log.merkle());
  auto root = RootAt(nodes, keep);
  if (!root.ok()) return root.status();
  batch.Put(log.meta(), kMetaSize, U64Bytes(keep));
  batch.Put(log.meta(), kMetaRoot, ToSlice(*root));
  rocksdb::WriteOptions options;
  options.sync = true;
  rs = log.db()->Write(options, &batch);
  return rs.ok() ? Status::Ok() : FromRocks(rs, "truncating");
}

Status CopySnapshot(const std::string& from_dir, const std::string& dir, std::uint64_t seq) {
  std::vector<std::pair<std::string, std::string>> keys;
  {
    RawLog from;
    if (Status s = from.Open(from_dir); !s.ok()) return s;
    std::unique_ptr<rocksdb::Iterator> it(
        from.db()->NewIterator(rocksdb::ReadOptions(), from.snapshots()));
    const std::string first = U64Bytes(seq);
    for (it->Seek(first); it->Valid() && it->key().starts_with(first); it->Next()) {
      keys.emplace_back(it->key().ToString(), it->value().ToString());
    }
    if (!it->status().ok()) return FromRocks(it->status(), "reading the snapshot");
  }
  if (keys.empty()) return Status::NotFound("snapshot_not_found", "no snapshot to copy");
  RawLog log;
  if (Status s = log.Open(dir); !s.ok()) return s;
  rocksdb::WriteBatch batch;
  batch.DeleteRange(log.snapshots(), U64Bytes(seq), U64Bytes(seq + 1));
  for (const auto& [key, value] : keys) batch.Put(log.snapshots(), key, value);
  rocksdb::WriteOptions options;
  options.sync = true;
  rocksdb::Status rs = log.db()->Write(options, &batch);
  return rs.ok() ? Status::Ok() : FromRocks(rs, "writing the snapshot");
}

Status DeleteSnapshot(const std::string& dir, std::uint64_t seq) {
  RawLog log;
  if (Status s = log.Open(dir); !s.ok()) return s;
  rocksdb::WriteOptions options;
  options.sync = true;
  rocksdb::Status s =
      log.db()->DeleteRange(options, log.snapshots(), U64Bytes(seq), U64Bytes(seq + 1));
  return s.ok() ? Status::Ok() : FromRocks(s, "deleting the snapshot");
}

Status SetFormatVersion(const std::string& dir, std::uint64_t version) {
  RawLog log;
  if (Status s = log.Open(dir); !s.ok()) return s;
  rocksdb::WriteOptions options;
  options.sync = true;
  rocksdb::Status s = log.db()->Put(options, log.meta(), kMetaFormatVersion, U64Bytes(version));
  return s.ok() ? Status::Ok() : FromRocks(s, "writing the format version");
}

Status RemoveNarrowIndex(const std::string& dir, std::uint64_t keep_through) {
  RawLog log;
  if (Status s = log.Open(dir); !s.ok()) return s;
  rocksdb::WriteBatch batch;
  std::unique_ptr<rocksdb::Iterator> it(log.db()->NewIterator(rocksdb::ReadOptions(), log.index()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const rocksdb::Slice key = it->key();
    std::uint64_t seq = 0;
    if (key.size() < 10 ||
        !ParseSeqKey(ToSpan(rocksdb::Slice(key.data() + key.size() - 8, 8)), &seq)) {
      return Status::Corruption("index_damaged", "a subject index key is malformed");
    }
    for (auto kind : {SubjectKind::kOrganizationConfig, SubjectKind::kIdpConfig,
                      SubjectKind::kUserAccount, SubjectKind::kTokenLifecycle}) {
      if (key[0] == static_cast<char>(kind) && seq > keep_through) batch.Delete(log.index(), key);
    }
  }
  if (!it->status().ok()) return FromRocks(it->status(), "reading the index");
  if (keep_through == 0) {
    batch.Delete(log.meta(), kMetaNarrowIndexThrough);
  } else {
    batch.Put(log.meta(), kMetaNarrowIndexThrough, U64Bytes(keep_through));
  }
  rocksdb::WriteOptions options;
  options.sync = true;
  rocksdb::Status s = log.db()->Write(options, &batch);
  return s.ok() ? Status::Ok() : FromRocks(s, "removing the narrow index");
}

}  // namespace authledger::storage::tamper
