// log_bench: throughput and latency of the event log (storage::EventLog), measured with
// plain steady_clock timers so that every commit's latency can be kept and ranked.
// run_log_bench.sh runs it beside RocksDB's db_bench and summarizes; RESULTS.md records
// what it measured. Every subcommand ends with one machine-readable line,
// "RESULT <subcommand> key=value ...".
#include <kj/exception.h>

#include <cstdio>
#include <exception>
#include <string>

#include "tools/bench/bench_support.h"

namespace authledger::bench {
namespace {

constexpr char kUsage[] =
    R"(usage: log_bench --dir DIR [--keep] [--admission serial|concurrent] COMMAND [flags]

  append1  [--events N]                  one writer, N appends of one event each (20000)
  append64 [--committers C] [--seconds S] [--warmup W] [--driver threads|async]
                                         C committers appending one event at a time
                                         (64, 10, 1, threads): a thread each, or all
                                         driven by one thread from durable callbacks
  scan     [--events N] [--passes P]     Scan + decode of events 1..N (1000000, 3)
  prove    [--events N] [--proofs P]     InclusionProof of P random events in the tree of
                                         N events (10000000, 10000), all verified
  fill     [--events N]                  append until the log holds N events (10000000);
                                         keeps DIR
  fill, scan and prove take [--fill-threads T] [--fill-batch B] (2, 10000) for building
  the log; scan and prove report the time to open it.

DIR is the log. append1/append64 need it absent or empty; scan/prove reuse a log there
holding >= N events, else append the missing ones. DIR is deleted at the end unless
--keep (fill always keeps it). --admission serial (default) stamps times and enqueues
under one lock, as the engine's serial decide does (encoding follows outside the lock);
concurrent gives every event one fixed time and enqueues without a lock.
)";

int Main(int argc, char** argv) {
  auto flags = Flags::Parse(argc, argv, {"keep", "help"});
  if (!flags.ok()) {
    std::fprintf(stderr, "log_bench: %s\n%s", flags.status().ToString().c_str(), kUsage);
    return 2;
  }
  if (flags->Has("help") || flags->positional().size() != 1 || !flags->Has("dir")) {
    std::fputs(kUsage, flags->Has("help") ? stdout : stderr);
    return flags->Has("help") ? 0 : 2;
  }
  Common common;
  common.dir = flags->Get("dir", "");
  common.keep = flags->Has("keep");
  flags->Get("keep", "");
  const std::string admission = flags->Get("admission", "serial");
  if (admission == "concurrent") {
    common.mode = Admission::Mode::kConcurrent;
  } else if (admission != "serial") {
    std::fprintf(stderr, "log_bench: --admission is serial or concurrent, not '%s'\n",
                 admission.c_str());
    return 2;
  }

  const std::string& command = flags->positional().front();
  Status s;
  if (command == "append1") {
    s = RunAppend1(*flags, common);
  } else if (command == "append64") {
    s = RunAppend64(*flags, common);
  } else if (command == "fill") {
    s = RunFill(*flags, common);
  } else if (command == "scan") {
    s = RunScan(*flags, common);
  } else if (command == "prove") {
    s = RunProve(*flags, common);
  } else {
    std::fprintf(stderr, "log_bench: unknown command '%s'\n%s", command.c_str(), kUsage);
    return 2;
  }
  if (!s.ok()) {
    std::fprintf(stderr, "log_bench %s: %s\n", command.c_str(), s.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace authledger::bench

int main(int argc, char** argv) {
  return authledger::bench::GuardedMain("log_bench", authledger::bench::Main, argc, argv);
}
