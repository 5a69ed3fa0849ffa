// FaultInjector: makes the file system under an EventLog fail on command, so tests can
// show that a failed write loses nothing acknowledged and leaves nothing half-written.
//
// Pass one in EventLogOptions::faults; arm it at any time. Faults apply to the log's
// files only.
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
  // Every Sync/Fsync fails while set.
  void FailSyncs(bool on) { fail_syncs_.store(on); }
  // Clears every fault.
  void Reset() {
    wal_budget_.store(-1);
    fail_syncs_.store(false);
  }
  // How many operations were made to fail.
  std::uint64_t faults_injected() const { return injected_.load(); }

  // Used by the fault-injecting file system: how many of `size` bytes a WAL write may
  // write (== size when unarmed).
  std::uint64_t AdmitWalWrite(std::uint64_t size);
  bool SyncShouldFail();

 private:
  std::atomic<std::int64_t> wal_budget_{-1};  // -1 = unlimited
  std::atomic<bool> fail_syncs_{false};
  std::atomic<std::uint64_t> injected_{0};
};

}  // namespace authledger::storage
