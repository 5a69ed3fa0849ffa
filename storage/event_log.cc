#include "storage/event_log.h"

#include <fcntl.h>
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <thread>

#include "storage/event_log_impl.h"
#include "storage/fault_env.h"

namespace authledger::storage {

// ---- PendingAppend ----

struct PendingAppend::Slot {
  std::shared_ptr<CommitSlot> slot;
  CommitQueue* queue;
  bool prepared = false;

  // Encodes and hashes the batch on the caller's thread, then lets the writer take it.
  void EnsurePrepared() {
    if (prepared) return;
    prepared = true;
    slot->Prepare();
    queue->MarkPrepared(slot);
  }
};

PendingAppend::PendingAppend(std::shared_ptr<Slot> slot, SeqRange seqs)
    : slot_(std::move(slot)), seqs_(seqs) {}
PendingAppend::PendingAppend(PendingAppend&&) noexcept = default;
PendingAppend& PendingAppend::operator=(PendingAppend&&) noexcept = default;
PendingAppend::~PendingAppend() {
  // An admitted batch holds back every later one until it is prepared.
  if (slot_) slot_->EnsurePrepared();
}

Result<SeqRange> PendingAppend::Wait() {
  slot_->EnsurePrepared();
  Status s = slot_->slot->Wait();
  if (!s.ok()) return s;
  return seqs_;
}

namespace {

// Present in a log's directory from the start of its creation until its format version
// is durable.
constexpr const char* kCreatingMarker = "CREATING";

// RocksDB's diagnostics, appended to <dir>/LOG. RocksDB's own file logger asserts when it
// writes again after a failed write (in builds with assertions, such as Debian's), so
// that a full disk would abort the process instead of turning the log read-only; this
// one drops what it cannot write.
class DiagnosticsLog : public rocksdb::Logger {
 public:
  DiagnosticsLog(const std::string& path, rocksdb::InfoLogLevel level) : Logger(level) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  }
  ~DiagnosticsLog() override {
    if (fd_ >= 0) ::close(fd_);
  }
  DiagnosticsLog(const DiagnosticsLog&) = delete;
  DiagnosticsLog& operator=(const DiagnosticsLog&) = delete;

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    if (fd_ < 0) return;
    char line[2048];
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    std::size_t n = std::strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%SZ ", &utc);
    int body = std::vsnprintf(line + n, sizeof line - n - 1, format, ap);
    if (body < 0) return;
    n = std::min(sizeof line - 2, n + static_cast<std::size_t>(body));
    line[n++] = '\n';
    {
      // RocksDB names the damaged file here (e.g. "…/000004.log: dropping 97 bytes;
      // Corruption: checksum mismatch"), not in the status it returns.
      std::string_view text(line, n - 1);
      if (text.find("Corruption") != std::string_view::npos &&
          std::string_view(CorruptionReason(std::string(text))) != "log_damaged") {
        if (auto tag_end = text.rfind("] "); tag_end != std::string_view::npos) {
          text.remove_prefix(tag_end + 2);
        }
        std::lock_guard lock(mu_);
        last_corruption_ = text;
      }
    }
    // A failed diagnostic write is dropped: the disk's state is reported by the writes
    // that matter.
    static_cast<void>(::write(fd_, line, n));
  }

  // The last line RocksDB logged about a corruption in a file it names; empty if none.
  std::string last_corruption() const {
    std::lock_guard lock(mu_);
    return last_corruption_;
  }

 private:
  int fd_ = -1;
  mutable std::mutex mu_;
  std::string last_corruption_;
};

}  // namespace

Status EventLog::Impl::HoldDirectory() {
  dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  struct stat st {};
  if (dir_fd < 0 || ::fstat(dir_fd, &st) != 0) {
    return Status::IoError("io_error", "opening " + dir + ": " + std::strerror(errno));
  }
  dir_device = st.st_dev;
  dir_inode = st.st_ino;
  return Status::Ok();
}

Status EventLog::Impl::DirectoryStillThere() const {
  if (dir_fd < 0) return Status::Ok();
  struct stat held {};
  struct stat named {};
  if (::fstat(dir_fd, &held) == 0 && held.st_nlink == 0) {
    return Status::IoError("log_directory_gone", "the log directory " + dir + " was deleted");
  }
  if (::stat(dir.c_str(), &named) != 0 || named.st_dev != dir_device || named.st_ino != dir_inode) {
    return Status::IoError("log_directory_gone",
                           "the log directory " + dir + " was deleted or replaced");
  }
  return Status::Ok();
}

Status EventLog::Impl::OpenDb(bool create) {
  rocksdb::Options db_options;
  db_options.create_if_missing = create;
  db_options.create_missing_column_families = create;
  db_options.max_background_jobs = 2;
  db_options.keep_log_file_num = 4;
  // Bounds the write-ahead log (and so the replay after a crash): the small, hot families
  // never fill a memtable on their own and would otherwise keep old WAL files alive.
  db_options.max_total_wal_size = 64u << 20;
  db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  auto diagnostics =
      std::make_shared<DiagnosticsLog>(dir + "/LOG", rocksdb::InfoLogLevel::WARN_LEVEL);
  db_options.info_log = diagnostics;
  // A record cut short at the end of the write-ahead log is a write a crash interrupted:
  // it was never acknowledged, and is dropped. Damage anywhere else (a flipped byte in
  // an earlier record) refuses the open ("wal_damaged") instead of silently dropping
  // every record after it, acknowledged ones included, as point-in-time recovery would.
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  if (options.faults) {
    env = NewFaultInjectingEnv(options.faults);
    db_options.env = env.get();
  }
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // Events are read mostly in long scans: large uncompressed blocks double scan speed
  // for about 1.8x the disk.
  rocksdb::BlockBasedTableOptions events_table = table;
  events_table.block_size = 64u << 10;
  rocksdb::ColumnFamilyOptions events_options = cf_options;
  events_options.compression = rocksdb::kNoCompression;
  events_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(events_table));
  // Merkle nodes arrive level by level, each level in increasing order: an insert hint
  // per level (the key's first byte) spares the memtable a search from the top.
  // Snapshots are packed Cap'n Proto already, and large: compressing them again only
  // slows the open that reads them.
  rocksdb::ColumnFamilyOptions snapshot_options = cf_options;
  snapshot_options.compression = rocksdb::kNoCompression;
  rocksdb::ColumnFamilyOptions merkle_options = cf_options;
  merkle_options.memtable_insert_with_hint_prefix_extractor.reset(
      rocksdb::NewFixedPrefixTransform(1));

  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, cf_options},
      {kEventsFamily, events_options},
      {kIndexFamily, cf_options},
      {kMerkleFamily, merkle_options},
      {kSnapshotsFamily, snapshot_options},
      {kMetaFamily, cf_options}};

  if (!create) {
    std::vector<std::string> existing;
    rocksdb::Status s = rocksdb::DB::ListColumnFamilies(db_options, dir, &existing);
    if (!s.ok()) return FromRocks(s, "reading the log's column families");
    for (const auto& f : families) {
      if (std::find(existing.begin(), existing.end(), f.name) == existing.end()) {
        return Status::InvalidArgument("not_an_event_log",
                                       dir +
                                           " is a RocksDB database but not an authledger log "
                                           "(no '" +
                                           f.name + "' family)");
      }
    }
  }
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s;
  if (options.read_only) {
    // Beside a live engine, a table file the manifest names may be deleted by the
    // engine's compaction before this open reaches it. That is not damage, and a new
    // attempt reads the newer manifest; a damaged log fails every attempt. Once open,
    // every table file is held open (max_open_files = -1), so files the engine deletes
    // later stay readable.
    constexpr int kAttempts = 8;
    db_options.max_open_files = -1;
    for (int attempt = 1;; ++attempt) {
      handles.clear();
      s = rocksdb::DB::OpenForReadOnly(db_options, dir, families, &handles, &raw);
      const bool transient = s.IsIOError() || s.IsCorruption() || s.IsPathNotFound();
      if (s.ok() || !transient || attempt == kAttempts) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(25) * attempt);
    }
  } else {
    s = rocksdb::DB::Open(db_options, dir, families, &handles, &raw);
  }
  if (!s.ok()) {
    std::string detail = diagnostics->last_corruption();
    return FromRocks(s, "opening " + dir + (detail.empty() ? "" : " (" + detail + ")"));
  }
  db.reset(raw);
  events = handles[1];
  index = handles[2];
  merkle = handles[3];
  snapshots = handles[4];
  meta = handles[5];
  return Status::Ok();
}

Status EventLog::Impl::LoadCommittedState() {
  std::string value;
  rocksdb::Status s = db->Get(rocksdb::ReadOptions(), meta, kMetaFormatVersion, &value);
  if (s.IsNotFound()) {
    return Status::InvalidArgument("not_an_event_log", dir + " holds no authledger format version");
  }
  if (!s.ok()) return FromRocks(s, "reading the format version");
  std::uint64_t version = 0;
  if (!ParseU64(value, &version)) {
    return Status::Corruption("log_damaged", "the format version record is damaged");
  }
  if (version > schema::FORMAT_VERSION) {
    return Status::FailedPrecondition(
        "format_too_new", dir + " has log format " + std::to_string(version) +
                              "; this build reads up to " + std::to_string(schema::FORMAT_VERSION));
  }

  std::uint64_t stored_size = 0;
  s = db->Get(rocksdb::ReadOptions(), meta, kMetaSize, &value);
  if (s.ok() && !ParseU64(value, &stored_size)) {
    return Status::Corruption("log_damaged", "the tree size record is damaged");
  }
  if (!s.ok() && !s.IsNotFound()) return FromRocks(s, "reading the tree size");

  // The last stored event must be the one the tree size says.
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), events));
  it->SeekToLast();
  std::uint64_t last_seq = 0;
  if (it->Valid() && !ParseSeqKey(ToSpan(it->key()), &last_seq)) {
    return Status::Corruption("log_damaged", "an event key is malformed");
  }
  if (!it->status().ok()) return FromRocks(it->status(), "finding the last event");
  if (last_seq != stored_size) {
    return Status::Corruption(
        "log_damaged", "the log records " + std::to_string(stored_size) +
                           " events but the last stored event is " + std::to_string(last_seq) +
                           (last_seq < stored_size ? " (events missing at the tail)" : ""));
  }

  RocksNodeReader reader = nodes();
  auto loaded = MerkleFrontier::Load(reader, stored_size);
  if (!loaded.ok()) {
    return Status::Corruption("log_damaged",
                              "the Merkle tree does not load: " + loaded.status().ToString());
  }
  frontier.emplace(std::move(loaded).value());
  Hash root = frontier->Root();
  if (stored_size > 0) {
    s = db->Get(rocksdb::ReadOptions(), meta, kMetaRoot, &value);
    if (!s.ok()) return FromRocks(s, "reading the stored root");
    if (value.size() != root.size() || std::memcmp(value.data(), root.data(), root.size()) != 0) {
      return Status::Corruption("log_damaged",
                                "the Merkle root recomputed from the stored nodes does not "
                                "match the recorded root");
    }
  }
  std::uint64_t last_time = 0;
  s = db->Get(rocksdb::ReadOptions(), meta, kMetaLastTime, &value);
  if (s.ok() && !ParseU64(value, &last_time)) {
    return Status::Corruption("log_damaged", "the last-time record is damaged");
  }
  committed_root = root;
  committed_time_us = static_cast<std::int64_t>(last_time);
  size.store(stored_size);
  queue = std::make_unique<CommitQueue>(stored_size + 1, committed_time_us);
  return Status::Ok();
}

// ---- EventLog ----

EventLog::EventLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EventLog::~EventLog() = default;

Result<std::unique_ptr<EventLog>> EventLog::Open(const std::string& dir,
                                                 const EventLogOptions& options) {
  namespace fs = std::filesystem;
  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  impl->options = options;

  // The key first: a bad key file must not leave a new, empty log behind.
  if (!options.checkpoint_key_file.empty()) {
    auto signer = CheckpointSigner::FromPrivateKeyFile(options.checkpoint_key_file);
    if (!signer.ok()) return signer.status();
    impl->signer.emplace(std::move(signer).value());
  }

  std::error_code ec;
  bool exists = fs::exists(dir, ec);
  bool empty = !exists || fs::is_empty(dir, ec);
  if (exists && !fs::is_directory(dir, ec)) {
    return Status::InvalidArgument("not_an_event_log", dir + " is not a directory");
  }
  // A log is created under a marker file that goes away only once its format version
  // is durable. A directory still holding the marker is a creation a crash cut short:
  // Open had not returned, so nothing was ever acknowledged there; it starts over.
  const fs::path marker = fs::path(dir) / kCreatingMarker;
  bool interrupted = false;
  if (exists && !empty && fs::exists(marker, ec)) {
    if (!options.create_if_missing || options.read_only) {
      return Status::NotFound("log_not_found",
                              dir + " holds only a log whose creation was cut short");
    }
    for (const auto& entry : fs::directory_iterator(dir, ec)) fs::remove_all(entry.path(), ec);
    if (ec) return Status::IoError("io_error", "clearing " + dir + ": " + ec.message());
    empty = true;
    interrupted = true;
  }
  bool create = empty;
  if (create) {
    if (!options.create_if_missing || options.read_only) {
      return Status::NotFound("log_not_found", "no event log at " + dir);
    }
    if (!exists && ::mkdir(dir.c_str(), 0700) != 0) {
      return Status::IoError("io_error", "creating " + dir + ": " + std::strerror(errno));
    }
    if (::chmod(dir.c_str(), 0700) != 0) {
      return Status::IoError("io_error", "restricting " + dir + ": " + std::strerror(errno));
    }
  } else if (!fs::exists(fs::path(dir) / "CURRENT", ec)) {
    return Status::InvalidArgument("not_an_event_log",
                                   dir + " is not empty and holds no authledger log");
  }

  if (Status s = impl->HoldDirectory(); !s.ok()) return s;
  if (create) {
    const int fd = ::open(marker.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || ::fsync(fd) != 0 || ::close(fd) != 0 || ::fsync(impl->dir_fd) != 0) {
      return Status::IoError("io_error",
                             "marking " + dir + " as being created: " + std::strerror(errno));
    }
  }
  if (Status s = impl->OpenDb(create); !s.ok()) return s;
  if (create) {
    rocksdb::WriteBatch batch;
    batch.Put(impl->meta, kMetaFormatVersion, U64Bytes(schema::FORMAT_VERSION));
    batch.Put(impl->meta, kMetaEngineVersion, kEngineVersion);
    batch.Put(impl->meta, kMetaSize, U64Bytes(0));
    rocksdb::WriteOptions write_options;
    write_options.sync = true;
    rocksdb::Status s = impl->db->Write(write_options, &batch);
    if (!s.ok()) return FromRocks(s, "initializing " + dir);
    if (::unlink(marker.c_str()) != 0 || ::fsync(impl->dir_fd) != 0) {
      return Status::IoError("io_error",
                             "finishing the creation of " + dir + ": " + std::strerror(errno));
    }
    if (interrupted) {
      rocksdb::Warn(impl->db->GetDBOptions().info_log,
                    "authledger: the creation of this log had been cut short; created it anew");
    }
  }
  if (Status s = impl->LoadCommittedState(); !s.ok()) return s;
  if (Status s = impl->LoadNarrowIndex(); !s.ok()) return s;

  if (options.read_only) {
    impl->queue->Fail(
        Status::FailedPrecondition("log_opened_read_only", "the log was opened read-only"));
  } else {
    Impl* raw = impl.get();
    impl->writer = std::thread([raw] { raw->WriterLoop(); });
  }
  return std::unique_ptr<EventLog>(new EventLog(std::move(impl)));
}

Result<PendingAppend> EventLog::Enqueue(std::vector<EventDraft> batch, DurableCallback on_durable) {
  if (batch.empty()) return Status::InvalidArgument("empty_batch", "a batch holds no event");
  auto slot = std::make_shared<CommitSlot>();
  slot->subjects.reserve(batch.size());
  for (const auto& draft : batch) {
    auto subjects = IndexSubjectsOf(draft.reader());
    for (const auto& subject : subjects) {
      if (subject.id.find('\0') != std::string::npos) {
        return Status::InvalidArgument("invalid_id", "an id contains a NUL byte");
      }
    }
    slot->subjects.push_back(std::move(subjects));
  }
  slot->drafts = std::move(batch);
  if (on_durable) {
    slot->on_durable = [cb = std::move(on_durable)](std::uint64_t first, std::uint64_t last,
                                                    const std::vector<EventDraft>& drafts) {
      cb(SeqRange{first, last}, drafts);
    };
  }
  if (Status s = impl_->queue->Admit(slot); !s.ok()) return s;
  SeqRange seqs{slot->first_seq, slot->last_seq()};
  return PendingAppend(
      std::make_shared<PendingAppend::Slot>(PendingAppend::Slot{slot, impl_->queue.get()}), seqs);
}

Result<SeqRange> EventLog::Append(std::vector<EventDraft> batch) {
  auto pending = Enqueue(std::move(batch));
  if (!pending.ok()) return pending.status();
  return pending->Wait();
}

std::uint64_t EventLog::next_seq() const { return impl_->queue->next_seq(); }
std::int64_t EventLog::last_time_us() const { return impl_->queue->last_time_us(); }
std::uint64_t EventLog::size() const { return impl_->size.load(std::memory_order_acquire); }
Status EventLog::health() const { return impl_->queue->health(); }
const std::string& EventLog::dir() const { return impl_->dir; }

}  // namespace authledger::storage
