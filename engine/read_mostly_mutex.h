// A reader-writer lock for state read on every request and written now and then
// (internal to engine/).
//
// One std::shared_mutex is one cache line that every reader writes (its reader count):
// two cores checking tokens at once pass that line back and forth on every check, which
// caps two threads at about one thread's rate. Here each thread takes a shared lock on
// its own slot, on its own cache line, so short reads on different cores never touch the
// same line; a writer takes every slot exclusively.
//
// Three kinds of access:
//   - short reads (std::shared_lock: a check) lock their thread's slot shared;
//   - long reads (LongReadLock: a snapshot's copy of the whole state, about a second at
//     10M tokens; Decide; a dry run) lock the write lock shared;
//   - a write (std::unique_lock) locks the write lock exclusively first. That lock
//     prefers writers (a waiting write holds back new long reads), and a write waits
//     there for the long reads already in while short reads go on. Then it raises a
//     flag that turns new short reads away to wait at a gate it holds, so that a stream
//     of short reads cannot starve it (std::shared_mutex lets new readers in while a
//     writer waits), and locks every slot, each as soon as the reads already in it end.
// A short read already in its slot finishes; a long read never waits for a short one.
//
// Thread-safety: every member from any thread. A short read is released by the thread
// that took it. A thread holding a read of either kind must not take another (a write
// may be waiting for it while holding what the second one needs).
#pragma once

#include <pthread.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <mutex>
#include <shared_mutex>

namespace authledger::internal {

class ReadMostlyMutex {
 public:
  static constexpr std::size_t kSlots = 16;

  ReadMostlyMutex() {
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&write_lock_, &attr);
    pthread_rwlockattr_destroy(&attr);
  }
  ~ReadMostlyMutex() { pthread_rwlock_destroy(&write_lock_); }
  ReadMostlyMutex(const ReadMostlyMutex&) = delete;
  ReadMostlyMutex& operator=(const ReadMostlyMutex&) = delete;

  void lock() {
    pthread_rwlock_wrlock(&write_lock_);
    gate_.lock();
    writer_waiting_.store(true);
    for (auto& slot : slots_) slot.mu.lock();
  }
  void unlock() {
    for (auto& slot : slots_) slot.mu.unlock();
    writer_waiting_.store(false);
    gate_.unlock();
    pthread_rwlock_unlock(&write_lock_);
  }

  void lock_shared() {
    std::shared_mutex& mu = slots_[ThreadSlot()].mu;
    for (;;) {
      mu.lock_shared();
      if (!writer_waiting_.load()) return;
      // A write is under way: make way, and wait for it at the gate.
      mu.unlock_shared();
      std::shared_lock wait(gate_);
    }
  }
  void unlock_shared() { slots_[ThreadSlot()].mu.unlock_shared(); }

  void LockLongRead() { pthread_rwlock_rdlock(&write_lock_); }
  void UnlockLongRead() { pthread_rwlock_unlock(&write_lock_); }

 private:
  // The calling thread's slot: threads take them in turn as they first read, so up to
  // kSlots threads each have their own.
  static std::size_t ThreadSlot() {
    static std::atomic<std::size_t> next{0};
    thread_local const std::size_t slot = next.fetch_add(1, std::memory_order_relaxed) % kSlots;
    return slot;
  }

  struct alignas(64) Slot {
    std::shared_mutex mu;
  };
  std::array<Slot, kSlots> slots_;
  // Read by every short read, written only by writes: shared by the cores' caches.
  alignas(64) std::atomic<bool> writer_waiting_{false};
  alignas(64) std::shared_mutex gate_;  // held by a write while writer_waiting_
  alignas(64) pthread_rwlock_t write_lock_;
};

// A long read of a ReadMostlyMutex for its lifetime.
class LongReadLock {
 public:
  explicit LongReadLock(ReadMostlyMutex& mu) : mu_(mu) { mu_.LockLongRead(); }
  ~LongReadLock() { mu_.UnlockLongRead(); }
  LongReadLock(const LongReadLock&) = delete;
  LongReadLock& operator=(const LongReadLock&) = delete;

 private:
  ReadMostlyMutex& mu_;
};

}  // namespace authledger::internal
