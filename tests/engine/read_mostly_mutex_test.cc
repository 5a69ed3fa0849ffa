// The engine's state lock: writes exclude every read and are not starved by a stream of
// them, short reads on any thread go on while a write waits behind a long read, and a
// long read excludes writes throughout.
#include "engine/read_mostly_mutex.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <vector>

namespace authledger::testing {
namespace {

using internal::LongReadLock;
using internal::ReadMostlyMutex;

// Ends the test program, saying what did not happen, unless destroyed within `limit`: a
// starved writer or a blocked reader would otherwise hang until ctest's timeout without
// saying which. (The limits are far beyond what these tests take under the sanitizers.)
class Watchdog {
 public:
  Watchdog(std::chrono::seconds limit, const char* what)
      : thread_([this, limit, what] {
          std::unique_lock lock(mu_);
          if (!done_cv_.wait_for(lock, limit, [&] { return done_; })) {
            std::fprintf(stderr, "FAILED: %s did not happen within %lld s\n", what,
                         static_cast<long long>(limit.count()));
            std::fflush(stderr);
            std::abort();
          }
        }) {}
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
  ~Watchdog() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    done_cv_.notify_one();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable done_cv_;
  bool done_ = false;
  std::thread thread_;  // last: started once the members above exist
};

constexpr std::chrono::seconds kLimit{120};

// Two fields a writer changes together: a reader must never see them apart.
struct Pair {
  std::uint64_t a = 0, b = 0;
};

// The readers read without pause: with a reader-preferring lock per slot and nothing
// else, the writer would wait for a moment when no reader holds a slot, in vain.
TEST(ReadMostlyMutex, ReadersOnEveryThreadNeverSeeAHalfDoneWriteNorStarveTheWriter) {
  ReadMostlyMutex mu;
  Pair pair;
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> torn{0}, reads{0};
  std::vector<std::thread> readers;
  // More threads than cores (CI has two), so that readers are preempted inside a read.
  for (int i = 0; i < 6; ++i) {
    readers.emplace_back([&, long_reads = i % 3 == 0] {
      while (!done.load()) {
        Pair seen;
        if (long_reads) {
          LongReadLock lock(mu);
          seen = pair;
        } else {
          std::shared_lock lock(mu);
          seen = pair;
        }
        if (seen.a != seen.b) torn.fetch_add(1);
        reads.fetch_add(1);
      }
    });
  }
  // Every reader reading before the writes begin, and at least 1000 reads during them
  // (the writes could otherwise all be over before a reader is first scheduled).
  std::uint64_t writes = 0;
  {
    Watchdog watchdog(kLimit, "1000 writes among a stream of reads (a starved writer)");
    while (reads.load() < readers.size()) std::this_thread::yield();
    const std::uint64_t reads_before = reads.load();
    while (writes < 1000 || reads.load() - reads_before < 1000) {
      std::unique_lock lock(mu);
      ++writes;
      pair.a = writes;
      pair.b = writes;
    }
    done = true;
    for (auto& t : readers) t.join();
  }
  EXPECT_EQ(torn.load(), 0u);
  EXPECT_EQ(pair.a, writes);
}

TEST(ReadMostlyMutex, ShortReadsGoOnWhileAWriterWaitsBehindALongRead) {
  ReadMostlyMutex mu;
  std::atomic<bool> written{false};
  std::thread writer;
  Watchdog watchdog(kLimit, "short reads while a writer waits behind a long read, then the write");
  {
    LongReadLock long_read(mu);
    writer = std::thread([&] {
      std::unique_lock lock(mu);
      written = true;
    });
    // Short reads on threads of every slot (more threads than slots) complete while the
    // writer waits.
    std::vector<std::thread> readers;
    std::atomic<std::size_t> completed{0};
    for (std::size_t i = 0; i < ReadMostlyMutex::kSlots + 1; ++i) {
      readers.emplace_back([&] {
        for (int r = 0; r < 100; ++r) {
          std::shared_lock lock(mu);
        }
        completed.fetch_add(1);
      });
    }
    for (auto& t : readers) t.join();
    EXPECT_EQ(completed.load(), ReadMostlyMutex::kSlots + 1);
    EXPECT_FALSE(written.load()) << "a writer got in during a long read";
  }
  writer.join();
  EXPECT_TRUE(written.load());
}

}  // namespace
}  // namespace authledger::testing
