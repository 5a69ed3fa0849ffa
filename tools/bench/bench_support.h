// Pieces shared by log_bench's subcommands: realistic events, admission in time order,
// latency percentiles, bulk filling of a log, command-line flags, and the subcommands.
//
// Thread-safety: an EventFactory and a LatencySample belong to one thread; an Admission
// may be used from any number of threads at once (that is its purpose).
#pragma once

#include <authledger/status.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "storage/event_log.h"

namespace authledger::bench {

using Clock = std::chrono::steady_clock;

inline double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// splitmix64: a fast, well-mixed stream of 64-bit values; deterministic per seed.
class SplitMix {
 public:
  explicit SplitMix(std::uint64_t seed) : state_(seed) {}
  std::uint64_t Next();

 private:
  std::uint64_t state_;
};

// Builds TokenCreated events of the size the engine writes: a 20-character token prefix,
// the SHA-256 of the secret, an owner among 100k users, method "password", a 40-character
// description and a user actor with an IP and a request id. Deterministic per seed.
class EventFactory {
 public:
  explicit EventFactory(std::uint64_t seed) : random_(seed) {}

  // The event's time is left at 0: Admission stamps it.
  storage::EventDraft Make();
  std::vector<storage::EventDraft> MakeBatch(std::size_t count);

 private:
  std::uint64_t Next() { return random_.Next(); }
  SplitMix random_;
  std::uint64_t made_ = 0;
};

// Puts batches into the log in time order. The log refuses an event older than the one
// admitted before it, so concurrent committers either stamp-and-enqueue under one lock
// (kSerial: what the engine does, since `decide` runs serially; the encoding happens
// later, outside the lock, in PendingAppend::Wait or its destructor) or all carry one
// fixed time (kConcurrent: no lock at all).
class Admission {
 public:
  enum class Mode { kSerial, kConcurrent };

  Admission(storage::EventLog& log, Mode mode);

  Result<storage::PendingAppend> Enqueue(std::vector<storage::EventDraft> batch,
                                         storage::EventLog::DurableCallback on_durable = nullptr);

 private:
  storage::EventLog& log_;
  Mode mode_;
  std::mutex mu_;
  std::int64_t last_time_us_ = 0;
};

// Counts group commits by watching the durable size from the writer's callback: the log
// publishes a group's size before it runs that group's callbacks, so each new size seen
// is one RocksDB write with one sync. Observe() runs on the writer thread only; read
// groups() after every batch it observed was waited for.
class GroupCounter {
 public:
  explicit GroupCounter(const storage::EventLog& log) : log_(log) {}
  void Observe();
  std::uint64_t groups() const { return sizes_.size(); }
  // Events per group at percentile p in (0, 100], nearest rank; 0 if no group.
  std::uint64_t SizePercentile(double p) const;

 private:
  const storage::EventLog& log_;
  std::uint64_t last_size_ = 0;
  std::vector<std::uint64_t> sizes_;  // events of each group, in commit order
};

// Latencies in nanoseconds; percentiles by nearest rank.
class LatencySample {
 public:
  void Reserve(std::size_t n) { nanos_.reserve(n); }
  void Add(Clock::duration d) { nanos_.push_back(std::chrono::nanoseconds(d).count()); }
  void Merge(const LatencySample& other);
  std::size_t size() const { return nanos_.size(); }
  // Sorts once; later Add() calls must be followed by another Finish().
  void Finish();
  // In microseconds; p in (0, 100].
  double PercentileUs(double p) const;
  double MaxUs() const;

 private:
  std::vector<std::int64_t> nanos_;
};

struct FillResult {
  std::uint64_t events = 0;
  double seconds = 0;
};

// Appends `events` events in batches of `batch` from `threads` threads, with up to two
// batches per thread in flight, and waits until all are durable.
Result<FillResult> BulkFill(storage::EventLog& log, Admission& admission, std::uint64_t events,
                            std::size_t batch, unsigned threads);

// `--name value` pairs, bare `--name` switches (those named in `switches`) and positional
// words, in any order.
class Flags {
 public:
  // Fails with a message naming the offending argument.
  static Result<Flags> Parse(int argc, char** argv, const std::set<std::string>& switches);

  const std::vector<std::string>& positional() const { return positional_; }

  std::string Get(const std::string& name, const std::string& fallback) const;
  Result<std::uint64_t> GetU64(const std::string& name, std::uint64_t fallback) const;
  Result<double> GetDouble(const std::string& name, double fallback) const;
  bool Has(const std::string& name) const { return values_.count(name) != 0; }
  // Names given but never read, to refuse misspelt flags.
  std::vector<std::string> Unread() const;

 private:
  std::vector<std::string> positional_;
  std::map<std::string, std::string> values_;
  mutable std::map<std::string, bool> read_;
};

// What every subcommand is given besides its own flags.
struct Common {
  std::string dir;  // the log
  bool keep = false;
  Admission::Mode mode = Admission::Mode::kSerial;
};

// User + system CPU seconds of the whole process so far.
double CpuSeconds();
// InvalidArgument naming the first flag no subcommand read (a misspelling).
Status RequireAllRead(const Flags& flags);
// Deletes the log directory unless --keep.
void RemoveUnlessKept(const Common& common);
// Opens a new log; refuses a non-empty directory rather than append to someone's data.
Result<std::unique_ptr<storage::EventLog>> OpenFresh(const std::string& dir);
// Stored size of event 1 (all events of a run have the same size), 0 if none.
std::size_t EventBytes(const storage::EventLog& log);
// A durable callback feeding `groups`.
storage::EventLog::DurableCallback CountGroups(GroupCounter& groups);
// "<what> latency: p50 .., p99 .., max .." on stdout.
void PrintLatency(const char* what, const LatencySample& latency);

// The subcommands (append_bench.cc, read_bench.cc).
Status RunAppend1(const Flags& flags, const Common& common);
Status RunAppend64(const Flags& flags, const Common& common);
Status RunFill(const Flags& flags, const Common& common);
Status RunScan(const Flags& flags, const Common& common);
Status RunProve(const Flags& flags, const Common& common);

// Runs a benchmark's main; third-party exceptions (kj from Cap'n Proto, bad_alloc) end
// here with "<name>: <what>" on stderr and exit status 1.
int GuardedMain(const char* name, int (*main)(int, char**), int argc, char** argv);

}  // namespace authledger::bench
