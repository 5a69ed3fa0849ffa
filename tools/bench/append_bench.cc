// log_bench append1 / append64: durable appends of single-event commands.
#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <latch>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tools/bench/bench_support.h"

namespace authledger::bench {

Status RunAppend1(const Flags& flags, const Common& common) {
  auto events = flags.GetU64("events", 20000);
  if (!events.ok()) return events.status();
  if (Status s = RequireAllRead(flags); !s.ok()) return s;

  auto log = OpenFresh(common.dir);
  if (!log.ok()) return log.status();
  Admission admission(**log, common.mode);
  GroupCounter groups(**log);
  EventFactory factory(1);
  LatencySample latency;
  latency.Reserve(*events);
  const double cpu_start = CpuSeconds();
  const auto start = Clock::now();
  for (std::uint64_t i = 0; i < *events; ++i) {
    std::vector<storage::EventDraft> batch;
    batch.push_back(factory.Make());
    const auto t0 = Clock::now();
    auto pending = admission.Enqueue(std::move(batch), CountGroups(groups));
    if (!pending.ok()) return pending.status();
    auto done = pending->Wait();
    const auto t1 = Clock::now();
    if (!done.ok()) return done.status();
    latency.Add(t1 - t0);
  }
  const double seconds = SecondsSince(start);
  const double cpu = CpuSeconds() - cpu_start;
  latency.Finish();
  const double rate = static_cast<double>(*events) / seconds;
  const std::size_t event_bytes = EventBytes(**log);
  log->reset();
  RemoveUnlessKept(common);

  std::printf("append1: %llu events of %zu bytes in %.2f s = %.0f events/s, %.1f us CPU/event\n",
              static_cast<unsigned long long>(*events), event_bytes, seconds, rate,
              cpu * 1e6 / static_cast<double>(*events));
  PrintLatency("commit", latency);
  std::printf(
      "RESULT append1 events=%llu event_bytes=%zu seconds=%.3f events_per_s=%.0f p50_us=%.1f "
      "p99_us=%.1f max_us=%.1f groups=%llu events_per_group=%.2f cpu_us_per_event=%.1f\n",
      static_cast<unsigned long long>(*events), event_bytes, seconds, rate,
      latency.PercentileUs(50), latency.PercentileUs(99), latency.MaxUs(),
      static_cast<unsigned long long>(groups.groups()),
      static_cast<double>(*events) /
          static_cast<double>(std::max<std::uint64_t>(groups.groups(), 1)),
      cpu * 1e6 / static_cast<double>(*events));
  return Status::Ok();
}

namespace {

// The measured window: commits completing in [start, end) are counted and timed; those
// before it are the warm-up that lets RocksDB and the commit queue settle.
struct Window {
  Clock::time_point start;
  Clock::time_point end;
};

// One thread per committer, each appending one event and waiting for it, as a server
// with a thread per request would.
Status DriveThreads(Admission& admission, GroupCounter& groups, std::uint64_t committers,
                    const Window& window, std::latch& gate, LatencySample* latency) {
  std::vector<LatencySample> samples(committers);
  std::mutex error_mu;
  Status error;
  std::vector<std::thread> threads;
  for (std::uint64_t c = 0; c < committers; ++c) {
    threads.emplace_back([&, c] {
      EventFactory factory(c + 1);
      gate.wait();
      for (;;) {
        std::vector<storage::EventDraft> batch;
        batch.push_back(factory.Make());
        const auto t0 = Clock::now();
        auto pending = admission.Enqueue(std::move(batch), CountGroups(groups));
        Result<storage::SeqRange> done =
            pending.ok() ? pending->Wait() : Result<storage::SeqRange>(pending.status());
        const auto t1 = Clock::now();
        if (!done.ok()) {
          std::lock_guard lock(error_mu);
          if (error.ok()) error = done.status();
          return;
        }
        if (t1 >= window.start && t1 < window.end) samples[c].Add(t1 - t0);
        if (t1 >= window.end) return;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& sample : samples) latency->Merge(sample);
  return error;
}

// `committers` logical committers, each with one command in flight, issued by one
// submitter thread and completed from the log's durable callback, as an Asio server with
// a coroutine per connection would: no thread sleeps per command, so this measures the
// log without one thread wake-up per commit.
Status DriveAsync(storage::EventLog& log, Admission& admission, GroupCounter& groups,
                  std::uint64_t committers, const Window& window, std::latch& gate,
                  LatencySample* latency) {
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::uint64_t> ready;  // committers whose last command is durable
    std::uint64_t finished = 0;
  } state;
  // started[c] is written by the submitter before Enqueue and read by the writer thread
  // after it took the batch from the queue (the queue's lock orders the two).
  std::vector<Clock::time_point> started(committers);
  for (std::uint64_t c = 0; c < committers; ++c) state.ready.push_back(c);

  auto on_durable = [&](std::uint64_t c) {
    groups.Observe();
    const auto t1 = Clock::now();
    const bool again = t1 < window.end;
    if (t1 >= window.start && again) latency->Add(t1 - started[c]);  // writer thread only
    {
      std::lock_guard lock(state.mu);
      if (again) {
        state.ready.push_back(c);
      } else {
        ++state.finished;
      }
    }
    state.cv.notify_one();
  };

  EventFactory factory(1);
  gate.wait();
  std::vector<std::uint64_t> to_start;
  for (;;) {
    {
      std::unique_lock lock(state.mu);
      state.cv.wait_for(lock, std::chrono::milliseconds(100),
                        [&] { return !state.ready.empty() || state.finished == committers; });
      if (state.finished == committers) return Status::Ok();
      to_start.swap(state.ready);
    }
    // A failed group fails its batches without calling on_durable: watch the log's health.
    if (Status health = log.health(); !health.ok()) return health;
    for (std::uint64_t c : to_start) {
      std::vector<storage::EventDraft> batch;
      batch.push_back(factory.Make());
      started[c] = Clock::now();
      auto pending =
          admission.Enqueue(std::move(batch), [&on_durable, c](const auto&...) { on_durable(c); });
      if (!pending.ok()) return pending.status();
    }
    to_start.clear();
  }
}

}  // namespace

Status RunAppend64(const Flags& flags, const Common& common) {
  auto committers = flags.GetU64("committers", 64);
  auto seconds = flags.GetDouble("seconds", 10);
  auto warmup = flags.GetDouble("warmup", 1);
  const std::string driver = flags.Get("driver", "threads");
  if (!committers.ok()) return committers.status();
  if (!seconds.ok()) return seconds.status();
  if (!warmup.ok()) return warmup.status();
  if (Status s = RequireAllRead(flags); !s.ok()) return s;
  if (*committers == 0 || *seconds <= 0) {
    return Status::InvalidArgument("bad_flag", "--committers and --seconds must be positive");
  }
  if (driver != "threads" && driver != "async") {
    return Status::InvalidArgument("bad_flag", "--driver is threads or async, not " + driver);
  }

  auto log = OpenFresh(common.dir);
  if (!log.ok()) return log.status();
  Admission admission(**log, common.mode);
  GroupCounter groups(**log);
  LatencySample latency;
  std::latch gate(1);
  Window window;
  Status driven;
  std::thread drive([&] {
    driven = driver == "threads"
                 ? DriveThreads(admission, groups, *committers, window, gate, &latency)
                 : DriveAsync(**log, admission, groups, *committers, window, gate, &latency);
  });
  window.start = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(*warmup));
  window.end = window.start +
               std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(*seconds));
  gate.count_down();
  std::this_thread::sleep_until(window.start);
  const double cpu_start = CpuSeconds();
  std::this_thread::sleep_until(window.end);
  const double cpu = CpuSeconds() - cpu_start;
  drive.join();
  if (!driven.ok()) return driven;

  latency.Finish();
  const auto events = static_cast<double>(latency.size());
  const double rate = events / *seconds;
  const std::uint64_t total_events = (*log)->size();
  const double per_group = static_cast<double>(total_events) /
                           static_cast<double>(std::max<std::uint64_t>(groups.groups(), 1));
  const std::size_t event_bytes = EventBytes(**log);
  log->reset();
  RemoveUnlessKept(common);

  std::printf(
      "append64 (%s): %llu committers, %.0f events of %zu bytes in %.1f s = %.0f events/s, "
      "%.1f us CPU/event\n",
      driver.c_str(), static_cast<unsigned long long>(*committers), events, event_bytes, *seconds,
      rate, cpu * 1e6 / std::max(events, 1.0));
  PrintLatency("commit", latency);
  std::printf(
      "groups: %llu for %llu events (warm-up included) = %.1f events per sync; "
      "group size p10 %llu, p50 %llu, p90 %llu\n",
      static_cast<unsigned long long>(groups.groups()),
      static_cast<unsigned long long>(total_events), per_group,
      static_cast<unsigned long long>(groups.SizePercentile(10)),
      static_cast<unsigned long long>(groups.SizePercentile(50)),
      static_cast<unsigned long long>(groups.SizePercentile(90)));
  std::printf(
      "RESULT append64 driver=%s committers=%llu events=%.0f seconds=%.3f events_per_s=%.0f "
      "p50_us=%.1f p99_us=%.1f max_us=%.1f events_per_group=%.2f group_p10=%llu "
      "group_p50=%llu group_p90=%llu cpu_us_per_event=%.1f\n",
      driver.c_str(), static_cast<unsigned long long>(*committers), events, *seconds, rate,
      latency.PercentileUs(50), latency.PercentileUs(99), latency.MaxUs(), per_group,
      static_cast<unsigned long long>(groups.SizePercentile(10)),
      static_cast<unsigned long long>(groups.SizePercentile(50)),
      static_cast<unsigned long long>(groups.SizePercentile(90)),
      cpu * 1e6 / std::max(events, 1.0));
  return Status::Ok();
}

}  // namespace authledger::bench
