// engine_bench: the policy engine's figures, each beside its comparison from the same run.
//
//   engine_bench check    --tokens N [--threads T] [--seconds S] [--runs R] [--hot K]
//                         [--dir D] [--keep 1]
//       CheckToken rate at N tokens (single thread and T threads) against the floor of one
//       SHA-256 of the secret plus one hash-map lookup, measured in this binary, R times
//       each (floor and check alternating) with the median, per second of wall time and
//       per CPU-second of the calling threads (on a shared machine the second is what
//       the work costs: other load takes wall time, not CPU time); bytes of memory per token;
//       Open time of the generated log. With --hot K the same again over only the first K
//       tokens (a working set that stays in the caches: the cost of the check's own work
//       rather than of its cache misses). With --keep 1 the log is kept, and reused by the
//       next run on the same --dir and --tokens (the first-use figure then needs a fresh
//       log and is left out).
//   engine_bench commands [--callers C] [--seconds S] [--dir D]
//       commands per second (personal-token creation) under C concurrent callers, with
//       p50/p99 latency.
//   engine_bench snapshot --tokens N [--runs R] [--dir D] [--keep 1]
//       snapshot write and load at N tokens: R times, one more event, WriteSnapshot on
//       the open engine, close, and Open from that snapshot; each run and the medians.
//       With --keep 1 the log is kept, and reused by the next run on the same --dir and
//       --tokens.
//   engine_bench open --dir D [--runs R]
//       Open (and close) of an existing log R times, writing nothing: the load alone,
//       beside opening the event log alone.
//
// The log for `check` is generated directly through the event log (orgs, users,
// memberships, then N personal tokens with known secrets), then opened by the engine:
// what is measured is the engine's own restore and check paths.
// The floor hashes with storage::Sha256, the SHA-256 the engine's own check uses.

#include <authledger/engine.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>
#include <unordered_map>
#include <vector>

#include "storage/event_log.h"
#include "storage/hash.h"

namespace authledger::bench {
namespace {

using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// CPU seconds of the whole process (every thread) so far: beside a wall time on a
// shared machine, what the work itself cost.
double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

constexpr std::int64_t kT0 = 1767225600LL * 1'000'000;
constexpr int kOrgs = 10000;
constexpr int kUsers = 100000;

std::string Secret(std::uint64_t i) {
  char buf[48];
  // The first 15 characters are the token's public prefix, unique per token.
  std::snprintf(buf, sizeof(buf), "alp_%011llu-bench-secret-material",
                static_cast<unsigned long long>(i));
  return buf;
}
std::string Org(std::uint64_t i) { return "org" + std::to_string(i); }
std::string User(std::uint64_t i) { return "user" + std::to_string(i); }

long RssBytes() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

struct Args {
  std::string mode;
  std::uint64_t tokens = 1000000;
  int threads = 2;
  int callers = 64;
  double seconds = 3;
  int runs = 3;
  std::uint64_t hot = 0;
  bool keep = false;
  std::string dir;
};

Args Parse(int argc, char** argv) {
  Args a;
  if (argc > 1) a.mode = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--tokens")
      a.tokens = std::stoull(v);
    else if (k == "--threads")
      a.threads = std::stoi(v);
    else if (k == "--callers")
      a.callers = std::stoi(v);
    else if (k == "--seconds")
      a.seconds = std::stod(v);
    else if (k == "--runs")
      a.runs = std::stoi(v);
    else if (k == "--hot")
      a.hot = std::stoull(v);
    else if (k == "--keep")
      a.keep = v == "1";
    else if (k == "--dir")
      a.dir = v;
  }
  if (a.dir.empty())
    a.dir = (std::filesystem::temp_directory_path() / "authledger-engine-bench").string();
  return a;
}

// Writes the log the engine will open: orgs, users (each a member of one org), tokens.
void Generate(const std::string& dir, std::uint64_t tokens) {
  std::filesystem::remove_all(dir);
  auto log = std::move(storage::EventLog::Open(dir, {})).value();
  std::int64_t t = kT0;
  std::vector<storage::EventDraft> batch;
  auto flush = [&] {
    if (batch.empty()) return;
    auto r = log->Append(std::move(batch));
    if (!r.ok()) {
      std::cerr << "generate: " << r.status().ToString() << "\n";
      std::exit(1);
    }
    batch.clear();
  };
  auto add = [&](auto fill) {
    storage::EventDraft d;
    d.envelope().setTimeUs(++t);
    d.envelope().initActor().setId("admin");
    fill(d.envelope().getEvent());
    batch.push_back(std::move(d));
    if (batch.size() == 10000) flush();
  };
  for (int o = 0; o < kOrgs; ++o) {
    add([&](auto e) {
      auto c = e.initOrganizationCreated();
      c.setOrgId(Org(static_cast<std::uint64_t>(o)));
      auto p = c.initPolicy();
      p.setVersion(1);
      auto providers = p.initOauthProviders(3);
      providers.set(0, "github");
      providers.set(1, "google");
      providers.set(2, "microsoft");
    });
  }
  for (int u = 0; u < kUsers; ++u) {
    add([&](auto e) {
      auto r = e.initUserRegistered();
      r.setUserId(User(static_cast<std::uint64_t>(u)));
      r.setEmail(User(static_cast<std::uint64_t>(u)) + "@example.org");
    });
    add([&](auto e) {
      auto m = e.initMemberAdded();
      m.setOrgId(Org(static_cast<std::uint64_t>(u % kOrgs)));
      m.setUserId(User(static_cast<std::uint64_t>(u)));
    });
  }
  for (std::uint64_t i = 0; i < tokens; ++i) {
    add([&](auto e) {
      auto c = e.initTokenCreated();
      std::string secret = Secret(i);
      c.setTokenPrefix(secret.substr(0, 15));
      auto h = storage::Sha256(secret);
      c.setSecretHash(capnp::Data::Reader(h.data(), h.size()));
      c.setKind(schema::TokenKind::PERSONAL);
      c.setOwnerUserId(User(i % kUsers));
      c.setMethod("password");
      c.setDescription("benchmark token");
    });
  }
  flush();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// The 1-minute load average: printed beside each set of rates, since the machine is shared.
std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one;
  in >> one;
  return one.empty() ? "?" : one;
}

struct HashOf {
  std::size_t operator()(const storage::Hash& h) const noexcept {
    std::size_t v;
    std::memcpy(&v, h.data(), sizeof(v));
    return v;
  }
};

// CPU seconds of the calling thread so far.
double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Rates {
  double wall = 0;  // calls per second of wall time, all threads together
  // Calls per CPU-second of the calling threads: per core, and what the work costs
  // whatever else the machine runs (other load takes wall time, not this).
  double per_cpu = 0;
};

// Runs `fn(x)` with pseudo-random x on `threads` threads for `seconds`. What fn returns
// is summed per thread (so that its work cannot be optimized away) and only then added
// to a shared sink: a shared counter written on every call would itself cost a cache
// line moving between cores.
template <typename Fn>
Rates Rate(int threads, double seconds, Fn fn) {
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> total{0};
  std::atomic<std::uint64_t> sink{0};
  std::vector<double> cpu(static_cast<std::size_t>(threads));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      const double cpu_start = ThreadCpuSeconds();
      std::uint64_t n = 0;
      std::uint64_t kept = 0;
      std::uint64_t x = 0x9E3779B97F4A7C15ull * static_cast<std::uint64_t>(t + 1);
      while (!stop.load(std::memory_order_relaxed)) {
        for (int k = 0; k < 256; ++k) {
          x ^= x << 13;
          x ^= x >> 7;
          x ^= x << 17;
          kept += fn(x);
          ++n;
        }
      }
      cpu[static_cast<std::size_t>(t)] = ThreadCpuSeconds() - cpu_start;
      total += n;
      sink += kept;
    });
  }
  auto start = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& th : pool) th.join();
  double cpu_total = 0;
  for (double c : cpu) cpu_total += c;
  const auto calls = static_cast<double>(total.load());
  return {calls / Since(start), cpu_total > 0 ? calls / cpu_total : 0};
}

int RunCheck(const Args& a) {
  std::printf("load average %s\n", LoadAverage().c_str());
  const std::string marker = a.dir + "/.engine_bench_check_tokens";
  std::string kept;
  if (a.keep) std::ifstream(marker) >> kept;
  const bool reused = kept == std::to_string(a.tokens);
  if (reused) {
    std::printf("reusing the log of %llu tokens in %s\n", static_cast<unsigned long long>(a.tokens),
                a.dir.c_str());
  } else {
    std::printf("generating %llu tokens ...\n", static_cast<unsigned long long>(a.tokens));
    auto gen = Clock::now();
    Generate(a.dir, a.tokens);
    std::printf("generated in %.1f s\n", Since(gen));
  }

  // Pre-compute secrets and organization ids (the benchmark must not measure string
  // formatting).
  std::vector<std::string> secrets(a.tokens);
  for (std::uint64_t i = 0; i < a.tokens; ++i) secrets[i] = Secret(i);
  std::vector<std::string> orgs(kOrgs);
  for (int o = 0; o < kOrgs; ++o)
    orgs[static_cast<std::size_t>(o)] = Org(static_cast<std::uint64_t>(o));

  // First open: no snapshot yet, every event is folded. Closing writes a snapshot and
  // flushes the log, as a clean shutdown of a running engine does.
  if (!reused) {
    auto cold_start = Clock::now();
    auto cold = Engine::Open(a.dir);
    if (!cold.ok()) {
      std::cerr << cold.status().ToString() << "\n";
      return 1;
    }
    std::printf("open without a snapshot (fold every event): %.2f s (%llu events)\n",
                Since(cold_start), static_cast<unsigned long long>((*cold)->revision()));
    auto close_start = Clock::now();
    cold->reset();
    std::printf("close (snapshot + flush): %.2f s\n", Since(close_start));
  }
  long rss_before = RssBytes();
  auto open_start = Clock::now();
  // Steady state: every token's use is already recorded within the interval, so a check
  // records nothing (the interval is set beyond the run instead of first recording a use
  // of every token). The first-use rate, which feeds the recorder, is measured after.
  EngineOptions steady;
  steady.token_use_interval_us = std::int64_t{1} << 60;
  auto engine = Engine::Open(a.dir, steady);
  double open_s = Since(open_start);
  if (!engine.ok()) {
    std::cerr << engine.status().ToString() << "\n";
    return 1;
  }
  long rss_after = RssBytes();
  double per_token = static_cast<double>(rss_after - rss_before) / static_cast<double>(a.tokens);
  std::printf("open from the snapshot: %.2f s (%llu events)\n", open_s,
              static_cast<unsigned long long>((*engine)->revision()));
  std::printf("memory: %.0f bytes per token (engine RSS growth over open / tokens)\n", per_token);

  // The floor: SHA-256 of the secret + one lookup in a hash map of N entries.
  std::unordered_map<storage::Hash, std::uint32_t, HashOf> floor_map;
  floor_map.reserve(a.tokens);
  for (std::uint64_t i = 0; i < a.tokens; ++i) {
    floor_map.emplace(storage::Sha256(secrets[i]), static_cast<std::uint32_t>(i));
  }
  CheckContext ctx{kT0 + 1'000'000, "203.0.113.9"};
  auto org_of = [&](std::uint64_t i) -> const std::string& {
    return orgs[static_cast<std::size_t>(i % kUsers % kOrgs)];
  };
  // Each set draws its tokens uniformly from the first `n`.
  auto measure = [&](const char* what, std::uint64_t n) {
    auto floor_fn = [&](std::uint64_t x) -> std::uint64_t {
      auto it = floor_map.find(storage::Sha256(secrets[x % n]));
      return it == floor_map.end() ? 0 : it->second;
    };
    auto check_fn = [&](std::uint64_t x) -> std::uint64_t {
      std::uint64_t i = x % n;
      Decision d = (*engine)->CheckToken(secrets[i], org_of(i), ctx);
      if (!d.allowed) {
        std::fprintf(stderr, "unexpected denial: %s\n", d.reason.c_str());
        std::exit(1);
      }
      return d.revision;
    };
    for (int threads : {1, a.threads}) {
      std::vector<double> floors, checks, floors_cpu, checks_cpu;
      const std::string load_before = LoadAverage();
      for (int run = 1; run <= a.runs; ++run) {
        const Rates floor_run = Rate(threads, a.seconds, floor_fn);
        const Rates check_run = Rate(threads, a.seconds, check_fn);
        floors.push_back(floor_run.wall);
        checks.push_back(check_run.wall);
        floors_cpu.push_back(floor_run.per_cpu);
        checks_cpu.push_back(check_run.per_cpu);
        std::printf(
            "  %s, threads %d, run %d: CheckToken %.0f/s (%.0f per CPU-second), floor %.0f/s "
            "(%.0f per CPU-second)\n",
            what, threads, run, check_run.wall, check_run.per_cpu, floor_run.wall,
            floor_run.per_cpu);
      }
      const double check_rate = Median(checks), floor_rate = Median(floors);
      const double check_cpu = Median(checks_cpu), floor_cpu = Median(floors_cpu);
      std::printf(
          "%s, threads %d, median of %d: CheckToken %.0f/s (%.0f/s/thread), floor %.0f/s; "
          "cost %.2fx the floor | per CPU-second: CheckToken %.0f (%.0f ns CPU per check), "
          "floor %.0f; %.2fx | load average %s before, %s after\n",
          what, threads, a.runs, check_rate, check_rate / threads, floor_rate,
          floor_rate / check_rate, check_cpu, 1e9 / check_cpu, floor_cpu, floor_cpu / check_cpu,
          load_before.c_str(), LoadAverage().c_str());
    }
  };
  measure("all tokens", a.tokens);
  if (a.hot > 0)
    measure(("hot " + std::to_string(std::min(a.hot, a.tokens))).c_str(),
            std::min(a.hot, a.tokens));
  engine->reset();
  if (reused) {
    std::printf("first use: left out (the kept log has recorded uses)\n");
  } else {
    // First use of every token: each allowed check also hands a use to the recorder.
    auto first_use = Engine::Open(a.dir);
    if (first_use.ok()) {
      auto& e = *first_use;
      const Rates rate = Rate(a.threads, a.seconds, [&](std::uint64_t x) -> std::uint64_t {
        std::uint64_t i = x % a.tokens;
        return e->CheckToken(secrets[i], org_of(i), ctx).allowed;
      });
      std::printf(
          "threads %d, first use of each token (recording uses): CheckToken %.0f/s (%.0f per "
          "CPU-second of the checking threads)\n",
          a.threads, rate.wall, rate.per_cpu);
      first_use->reset();
    }
  }
  if (a.keep) {
    std::ofstream(marker) << a.tokens;
  } else {
    std::filesystem::remove_all(a.dir);
  }
  return 0;
}

int RunSnapshot(const Args& a) {
  const std::string marker = a.dir + "/.engine_bench_tokens";
  std::string kept;
  if (a.keep) std::ifstream(marker) >> kept;
  if (kept != std::to_string(a.tokens)) {
    std::printf("generating %llu tokens ...\n", static_cast<unsigned long long>(a.tokens));
    auto gen = Clock::now();
    Generate(a.dir, a.tokens);
    std::printf("generated in %.1f s\n", Since(gen));
  }
  // No background snapshots: each run writes exactly one, in the foreground.
  EngineOptions options;
  options.snapshot_interval = std::uint64_t{1} << 62;
  auto open_start = Clock::now();
  auto engine = Engine::Open(a.dir, options);
  if (!engine.ok()) {
    std::cerr << engine.status().ToString() << "\n";
    return 1;
  }
  std::printf("first open (a kept snapshot, or folding every event): %.2f s (%llu events)\n",
              Since(open_start), static_cast<unsigned long long>((*engine)->revision()));
  std::vector<double> writes, closes, opens, write_cpus, open_cpus;
  for (int run = 1; run <= a.runs; ++run) {
    // One event first, so that each snapshot has a seq of its own, as in service (a
    // second snapshot at one seq would overlap the first and cost RocksDB a compaction).
    auto event = (*engine)->CreateOrganization(Actor::Admin("admin", "198.51.100.1"),
                                               "bench-run-" + std::to_string((*engine)->revision()),
                                               "Bench");
    if (!event.ok()) {
      std::cerr << event.status().ToString() << "\n";
      return 1;
    }
    auto write_start = Clock::now();
    double cpu_start = CpuSeconds();
    Status written = (*engine)->WriteSnapshot();
    writes.push_back(Since(write_start));
    write_cpus.push_back(CpuSeconds() - cpu_start);
    if (!written.ok()) {
      std::cerr << written.ToString() << "\n";
      return 1;
    }
    auto close_start = Clock::now();
    engine->reset();  // nothing left to snapshot
    closes.push_back(Since(close_start));
    open_start = Clock::now();
    cpu_start = CpuSeconds();
    engine = Engine::Open(a.dir, options);
    opens.push_back(Since(open_start));
    open_cpus.push_back(CpuSeconds() - cpu_start);
    if (!engine.ok()) {
      std::cerr << engine.status().ToString() << "\n";
      return 1;
    }
    std::printf(
        "run %d: write snapshot %.2f s (cpu %.2f s), close %.2f s, open from the snapshot %.2f s "
        "(cpu %.2f s)\n",
        run, writes.back(), write_cpus.back(), closes.back(), opens.back(), open_cpus.back());
  }
  std::printf(
      "median of %d: write snapshot %.2f s (cpu %.2f s), close %.2f s, open from the snapshot "
      "%.2f s (cpu %.2f s)\n",
      a.runs, Median(writes), Median(write_cpus), Median(closes), Median(opens), Median(open_cpus));
  engine->reset();
  if (a.keep) {
    std::ofstream(marker) << a.tokens;
  } else {
    std::filesystem::remove_all(a.dir);
  }
  return 0;
}

int RunOpen(const Args& a) {
  EngineOptions options;
  options.snapshot_interval = std::uint64_t{1} << 62;
  std::vector<double> logs, opens, cpus;
  for (int run = 1; run <= a.runs; ++run) {
    // The event log alone first (RocksDB's open), for how much of the engine's is its own.
    auto log_start = Clock::now();
    {
      auto log = storage::EventLog::Open(a.dir, {});
      if (!log.ok()) {
        std::cerr << log.status().ToString() << "\n";
        return 1;
      }
    }
    logs.push_back(Since(log_start));
    auto open_start = Clock::now();
    const double cpu_start = CpuSeconds();
    auto engine = Engine::Open(a.dir, options);
    opens.push_back(Since(open_start));
    cpus.push_back(CpuSeconds() - cpu_start);
    if (!engine.ok()) {
      std::cerr << engine.status().ToString() << "\n";
      return 1;
    }
    std::printf("run %d: open %.2f s (cpu %.2f s, %llu events); the event log alone %.2f s\n", run,
                opens.back(), cpus.back(), static_cast<unsigned long long>((*engine)->revision()),
                logs.back());
  }
  std::printf("median of %d: open %.2f s (cpu %.2f s); the event log alone %.2f s\n", a.runs,
              Median(opens), Median(cpus), Median(logs));
  return 0;
}

int RunCommands(const Args& a) {
  std::filesystem::remove_all(a.dir);
  auto engine = std::move(Engine::Open(a.dir)).value();
  Actor admin = Actor::Admin("admin", "198.51.100.1");
  engine->CreateOrganization(admin, "org1", "Org");
  std::vector<std::string> sessions(static_cast<std::size_t>(a.callers));
  for (int c = 0; c < a.callers; ++c) {
    std::string user = "user" + std::to_string(c);
    engine->RegisterUser(admin, user, user + "@example.org");
    engine->AddMember(admin, "org1", user);
    sessions[static_cast<std::size_t>(c)] =
        (*engine->RecordLogin(Actor::User(user), {user, "password", false})).token_prefix;
  }
  std::atomic<bool> stop{false};
  std::vector<std::vector<double>> latencies(static_cast<std::size_t>(a.callers));
  std::vector<std::thread> pool;
  std::uint64_t start_rev = engine->revision();
  auto start = Clock::now();
  for (int c = 0; c < a.callers; ++c) {
    pool.emplace_back([&, c] {
      Actor user = Actor::User("user" + std::to_string(c));
      auto& mine = latencies[static_cast<std::size_t>(c)];
      while (!stop.load()) {
        auto t = Clock::now();
        auto r = engine->CreatePersonalToken(user, sessions[static_cast<std::size_t>(c)], {});
        if (!r.ok()) {
          std::fprintf(stderr, "command failed: %s\n", r.status().ToString().c_str());
          std::exit(1);
        }
        mine.push_back(Since(t) * 1e6);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(a.seconds));
  stop = true;
  for (auto& th : pool) th.join();
  double elapsed = Since(start);
  std::vector<double> all;
  for (auto& v : latencies) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    return all.empty() ? 0.0
                       : all[static_cast<std::size_t>(p * static_cast<double>(all.size() - 1))];
  };
  std::printf("commands: %d callers, %.0f commands/s, %llu events, p50 %.0f us, p99 %.0f us\n",
              a.callers, static_cast<double>(all.size()) / elapsed,
              static_cast<unsigned long long>(engine->revision() - start_rev), pct(0.5), pct(0.99));
  engine.reset();
  std::filesystem::remove_all(a.dir);
  return 0;
}

}  // namespace
}  // namespace authledger::bench

int main(int argc, char** argv) {
  auto args = authledger::bench::Parse(argc, argv);
  if (args.mode == "check") return authledger::bench::RunCheck(args);
  if (args.mode == "commands") return authledger::bench::RunCommands(args);
  if (args.mode == "snapshot") return authledger::bench::RunSnapshot(args);
  if (args.mode == "open") return authledger::bench::RunOpen(args);
  std::fprintf(stderr,
               "usage: engine_bench check|commands|snapshot|open [--tokens N] [--threads T] "
               "[--callers C] [--seconds S] [--runs R] [--keep 1] [--dir D]\n");
  return 2;
}
