// FaultInjector: makes the file system under an EventLog fail on command, so tests can
// show that a failed write loses nothing acknowledged and leaves nothing half-written.
//
// Pass one in EventLogOptions::faults (or to internal::OpenEngine); arm it at any time.
// Faults apply to the files of that log only, never to the rest of the machine.
//
// Why an injector and not a real small file system: a size-limited tmpfs or a loop
// device needs mount(2), i.e. root with CAP_SYS_ADMIN. Some machines that run the tests
// grant it (this one does: tests/faults/disk_fault_test.cc then also fills a real
// 4 MiB tmpfs, and skips that test where mount(2) is refused), most CI runners do not;
// and running as root, chmod cannot make a directory read-only (root bypasses
// permission bits). The injector works everywhere, and fails exactly the operation asked.
//
// Thread-safety: all methods may be called from any thread while the log runs.
#pragma once

#include <atomic>
#include <cstdint>

namespace authledger::storage {

class FaultInjector {
 public:
  FaultInjector() = default;
  FaultInjector(const FaultInjector&) = delete;
  FaultInjector& operator=(const FaultInjector&) = delete;

  // The write-ahead log accepts `bytes` more bytes; the write crossing the limit
  // writes what fits and fails (a torn write), and every later write fails too.
  void FailWalWritesAfter(std::uint64_t bytes) {
    wal_budget_.store(static_cast<std::int64_t>(bytes));
  }
  // A full disk: every file of the log (write-ahead log, table files, MANIFEST,
  // OPTIONS, …) accepts `bytes` more bytes in all; the write crossing the limit writes
  // what fits and fails with RocksDB's NoSpace (ENOSPC), as does every later write or
  // preallocation, until Reset().
  void FailAllWritesAfter(std::uint64_t bytes) {
    disk_budget_.store(static_cast<std::int64_t>(bytes));
  }
  // Every Sync/Fsync of a file or directory fails while set (EIO from fsync).
  void FailSyncs(bool on) { fail_syncs_.store(on); }
  // A read-only directory: creating, renaming, linking or deleting a file in the log's
  // directory fails with "Permission denied" (EACCES) while set. Files already open
  // keep accepting writes, as they do under chmod a-w.
  void DenyDirectoryChanges(bool on) { deny_directory_changes_.store(on); }
  // Clears every fault.
  void Reset() {
    wal_budget_.store(-1);
    disk_budget_.store(-1);
    fail_syncs_.store(false);
    deny_directory_changes_.store(false);
  }
  // How many operations were made to fail.
  std::uint64_t faults_injected() const { return injected_.load(); }

  // ---- Used by the fault-injecting file system ----

  // How many of `size` bytes a write may write (== size when unarmed); `wal` says the
  // file is a write-ahead log. Counts a fault when it returns less.
  std::uint64_t AdmitWrite(std::uint64_t size, bool wal);
  bool DiskFull() const { return disk_budget_.load() == 0; }
  bool SyncShouldFail();
  bool DirectoryChangeShouldFail();
  void CountFault() { injected_.fetch_add(1); }

 private:
  static std::uint64_t Take(std::atomic<std::int64_t>& budget, std::uint64_t size);

  std::atomic<std::int64_t> wal_budget_{-1};   // -1 = unlimited
  std::atomic<std::int64_t> disk_budget_{-1};  // -1 = unlimited
  std::atomic<bool> fail_syncs_{false};
  std::atomic<bool> deny_directory_changes_{false};
  std::atomic<std::uint64_t> injected_{0};
};

}  // namespace authledger::storage
