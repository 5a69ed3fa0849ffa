#include <rocksdb/file_system.h>

#include <string>

#include "storage/fault_env.h"

namespace authledger::storage {

std::uint64_t FaultInjector::AdmitWalWrite(std::uint64_t size) {
  std::int64_t budget = wal_budget_.load();
  while (budget >= 0) {
    auto take =
        static_cast<std::int64_t>(size) <= budget ? static_cast<std::int64_t>(size) : budget;
    if (wal_budget_.compare_exchange_weak(budget, budget - take)) {
      if (static_cast<std::uint64_t>(take) < size) injected_.fetch_add(1);
      return static_cast<std::uint64_t>(take);
    }
  }
  return size;
}

bool FaultInjector::SyncShouldFail() {
  if (!fail_syncs_.load()) return false;
  injected_.fetch_add(1);
  return true;
}

namespace {

bool IsWal(const std::string& fname) {
  return fname.size() > 4 && fname.compare(fname.size() - 4, 4, ".log") == 0;
}

class FaultyWritableFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FaultyWritableFile(std::unique_ptr<rocksdb::FSWritableFile> file,
                     std::shared_ptr<FaultInjector> faults, bool wal)
      : FSWritableFileOwnerWrapper(std::move(file)), faults_(std::move(faults)), wal_(wal) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
    if (!wal_) return target()->Append(data, options, dbg);
    std::uint64_t allowed = faults_->AdmitWalWrite(data.size());
    if (allowed == data.size()) return target()->Append(data, options, dbg);
    if (allowed > 0) {
      rocksdb::IOStatus s = target()->Append(rocksdb::Slice(data.data(), allowed), options, dbg);
      if (!s.ok()) return s;
      s = target()->Flush(options, dbg);
      if (!s.ok()) return s;
    }
    return rocksdb::IOStatus::IOError("injected fault: torn write-ahead-log write");
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           const rocksdb::DataVerificationInfo& /*info*/,
                           rocksdb::IODebugContext* dbg) override {
    return Append(data, options, dbg);
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
    if (faults_->SyncShouldFail()) return rocksdb::IOStatus::IOError("injected fault: sync failed");
    return target()->Sync(options, dbg);
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    if (faults_->SyncShouldFail())
      return rocksdb::IOStatus::IOError("injected fault: fsync failed");
    return target()->Fsync(options, dbg);
  }

 private:
  std::shared_ptr<FaultInjector> faults_;
  bool wal_;
};

class FaultyFileSystem : public rocksdb::FileSystemWrapper {
 public:
  explicit FaultyFileSystem(std::shared_ptr<FaultInjector> faults)
      : FileSystemWrapper(rocksdb::FileSystem::Default()), faults_(std::move(faults)) {}

  const char* Name() const override { return "AuthledgerFaultyFileSystem"; }

  rocksdb::IOStatus NewWritableFile(const std::string& fname, const rocksdb::FileOptions& opts,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override {
    std::unique_ptr<rocksdb::FSWritableFile> file;
    rocksdb::IOStatus s = target()->NewWritableFile(fname, opts, &file, dbg);
    if (s.ok())
      *result = std::make_unique<FaultyWritableFile>(std::move(file), faults_, IsWal(fname));
    return s;
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& fname, const rocksdb::FileOptions& opts,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override {
    std::unique_ptr<rocksdb::FSWritableFile> file;
    rocksdb::IOStatus s = target()->ReopenWritableFile(fname, opts, &file, dbg);
    if (s.ok())
      *result = std::make_unique<FaultyWritableFile>(std::move(file), faults_, IsWal(fname));
    return s;
  }
  rocksdb::IOStatus ReuseWritableFile(const std::string& fname, const std::string& old_fname,
                                      const rocksdb::FileOptions& opts,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      rocksdb::IODebugContext* dbg) override {
    std::unique_ptr<rocksdb::FSWritableFile> file;
    rocksdb::IOStatus s = target()->ReuseWritableFile(fname, old_fname, opts, &file, dbg);
    if (s.ok())
      *result = std::make_unique<FaultyWritableFile>(std::move(file), faults_, IsWal(fname));
    return s;
  }

 private:
  std::shared_ptr<FaultInjector> faults_;
};

}  // namespace

std::unique_ptr<rocksdb::Env> NewFaultInjectingEnv(std::shared_ptr<FaultInjector> faults) {
  return rocksdb::NewCompositeEnv(std::make_shared<FaultyFileSystem>(std::move(faults)));
}

}  // namespace authledger::storage
