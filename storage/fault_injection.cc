#include <rocksdb/file_system.h>

#include <string>

#include "storage/fault_env.h"

namespace authledger::storage {

std::uint64_t FaultInjector::Take(std::atomic<std::int64_t>& budget, std::uint64_t size) {
  std::int64_t left = budget.load();
  while (left >= 0) {
    auto take = static_cast<std::int64_t>(size) <= left ? static_cast<std::int64_t>(size) : left;
    if (budget.compare_exchange_weak(left, left - take)) return static_cast<std::uint64_t>(take);
  }
  return size;
}

std::uint64_t FaultInjector::AdmitWrite(std::uint64_t size, bool wal) {
  std::uint64_t allowed = Take(disk_budget_, size);
  // What the disk refused is not offered to the WAL budget (nothing was written).
  if (wal && allowed > 0) {
    std::uint64_t wal_allowed = Take(wal_budget_, allowed);
    if (wal_allowed < allowed) {
      // Give back what the disk budget counted but the WAL fault stopped.
      if (disk_budget_.load() >= 0)
        disk_budget_.fetch_add(static_cast<std::int64_t>(allowed - wal_allowed));
      allowed = wal_allowed;
    }
  }
  if (allowed < size) injected_.fetch_add(1);
  return allowed;
}

bool FaultInjector::SyncShouldFail() {
  if (!fail_syncs_.load()) return false;
  injected_.fetch_add(1);
  return true;
}

bool FaultInjector::DirectoryChangeShouldFail() {
  if (!deny_directory_changes_.load()) return false;
  injected_.fetch_add(1);
  return true;
}

namespace {

bool IsWal(const std::string& fname) {
  return fname.size() > 4 && fname.compare(fname.size() - 4, 4, ".log") == 0;
}

rocksdb::IOStatus Denied(const std::string& what, const std::string& fname) {
  return rocksdb::IOStatus::IOError("injected fault: " + what + " " + fname, "Permission denied");
}

class FaultyWritableFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FaultyWritableFile(std::unique_ptr<rocksdb::FSWritableFile> file,
                     std::shared_ptr<FaultInjector> faults, bool wal)
      : FSWritableFileOwnerWrapper(std::move(file)), faults_(std::move(faults)), wal_(wal) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
    const bool disk_full_before = faults_->DiskFull();
    std::uint64_t allowed = faults_->AdmitWrite(data.size(), wal_);
    if (allowed == data.size()) return target()->Append(data, options, dbg);
    if (allowed > 0) {
      rocksdb::IOStatus s = target()->Append(rocksdb::Slice(data.data(), allowed), options, dbg);
      if (!s.ok()) return s;
      s = target()->Flush(options, dbg);
      if (!s.ok()) return s;
    }
    if (disk_full_before || faults_->DiskFull()) {
      return rocksdb::IOStatus::NoSpace("injected fault: no space left on device");
    }
    return rocksdb::IOStatus::IOError("injected fault: torn write-ahead-log write");
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           const rocksdb::DataVerificationInfo& /*info*/,
                           rocksdb::IODebugContext* dbg) override {
    return Append(data, options, dbg);
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, std::uint64_t offset,
                                     const rocksdb::IOOptions& options,
                                     rocksdb::IODebugContext* dbg) override {
    if (faults_->AdmitWrite(data.size(), wal_) < data.size()) {
      return rocksdb::IOStatus::NoSpace("injected fault: no space left on device");
    }
    return target()->PositionedAppend(data, offset, options, dbg);
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, std::uint64_t offset,
                                     const rocksdb::IOOptions& options,
                                     const rocksdb::DataVerificationInfo& /*info*/,
                                     rocksdb::IODebugContext* dbg) override {
    return PositionedAppend(data, offset, options, dbg);
  }
  // fallocate(2) on a full disk fails with ENOSPC.
  rocksdb::IOStatus Allocate(std::uint64_t offset, std::uint64_t len,
                             const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override {
    if (faults_->DiskFull()) {
      faults_->CountFault();
      return rocksdb::IOStatus::NoSpace("injected fault: no space to preallocate");
    }
    return target()->Allocate(offset, len, options, dbg);
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

class FaultyDirectory : public rocksdb::FSDirectoryWrapper {
 public:
  FaultyDirectory(std::unique_ptr<rocksdb::FSDirectory> dir, std::shared_ptr<FaultInjector> faults)
      : FSDirectoryWrapper(std::move(dir)), faults_(std::move(faults)) {}

  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    if (faults_->SyncShouldFail())
      return rocksdb::IOStatus::IOError("injected fault: directory fsync failed");
    return FSDirectoryWrapper::Fsync(options, dbg);
  }
  rocksdb::IOStatus FsyncWithDirOptions(const rocksdb::IOOptions& options,
                                        rocksdb::IODebugContext* dbg,
                                        const rocksdb::DirFsyncOptions& dir_options) override {
    if (faults_->SyncShouldFail())
      return rocksdb::IOStatus::IOError("injected fault: directory fsync failed");
    return FSDirectoryWrapper::FsyncWithDirOptions(options, dbg, dir_options);
  }

 private:
  std::shared_ptr<FaultInjector> faults_;
};

class FaultyFileSystem : public rocksdb::FileSystemWrapper {
 public:
  explicit FaultyFileSystem(std::shared_ptr<FaultInjector> faults)
      : FileSystemWrapper(rocksdb::FileSystem::Default()), faults_(std::move(faults)) {}

  const char* Name() const override { return "AuthledgerFaultyFileSystem"; }

  rocksdb::IOStatus NewWritableFile(const std::string& fname, const rocksdb::FileOptions& opts,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override {
    if (faults_->DirectoryChangeShouldFail()) return Denied("creating", fname);
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
    if (faults_->DirectoryChangeShouldFail()) return Denied("renaming", old_fname);
    std::unique_ptr<rocksdb::FSWritableFile> file;
    rocksdb::IOStatus s = target()->ReuseWritableFile(fname, old_fname, opts, &file, dbg);
    if (s.ok())
      *result = std::make_unique<FaultyWritableFile>(std::move(file), faults_, IsWal(fname));
    return s;
  }
  rocksdb::IOStatus NewDirectory(const std::string& name, const rocksdb::IOOptions& io_opts,
                                 std::unique_ptr<rocksdb::FSDirectory>* result,
                                 rocksdb::IODebugContext* dbg) override {
    std::unique_ptr<rocksdb::FSDirectory> dir;
    rocksdb::IOStatus s = target()->NewDirectory(name, io_opts, &dir, dbg);
    if (s.ok()) *result = std::make_unique<FaultyDirectory>(std::move(dir), faults_);
    return s;
  }
  rocksdb::IOStatus RenameFile(const std::string& src, const std::string& dest,
                               const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override {
    if (faults_->DirectoryChangeShouldFail()) return Denied("renaming", src);
    return target()->RenameFile(src, dest, options, dbg);
  }
  rocksdb::IOStatus LinkFile(const std::string& src, const std::string& dest,
                             const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override {
    if (faults_->DirectoryChangeShouldFail()) return Denied("linking", src);
    return target()->LinkFile(src, dest, options, dbg);
  }
  rocksdb::IOStatus DeleteFile(const std::string& fname, const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override {
    if (faults_->DirectoryChangeShouldFail()) return Denied("deleting", fname);
    return target()->DeleteFile(fname, options, dbg);
  }
  rocksdb::IOStatus CreateDir(const std::string& dirname, const rocksdb::IOOptions& options,
                              rocksdb::IODebugContext* dbg) override {
    if (faults_->DirectoryChangeShouldFail()) return Denied("creating", dirname);
    return target()->CreateDir(dirname, options, dbg);
  }

 private:
  std::shared_ptr<FaultInjector> faults_;
};

}  // namespace

std::unique_ptr<rocksdb::Env> NewFaultInjectingEnv(std::shared_ptr<FaultInjector> faults) {
  return rocksdb::NewCompositeEnv(std::make_shared<FaultyFileSystem>(std::move(faults)));
}

}  // namespace authledger::storage
