// log_bench fill / scan / prove: building a large log, reading it back, and proving
// inclusion in it.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "storage/merkle.h"
#include "tools/bench/bench_support.h"

namespace authledger::bench {

namespace {

struct FillFlags {
  std::uint64_t threads = 2;
  std::uint64_t batch = 10000;
};

Result<FillFlags> ReadFillFlags(const Flags& flags) {
  auto threads = flags.GetU64("fill-threads", 2);
  auto batch = flags.GetU64("fill-batch", 10000);
  if (!threads.ok()) return threads.status();
  if (!batch.ok()) return batch.status();
  if (*threads == 0 || *batch == 0) {
    return Status::InvalidArgument("bad_flag", "--fill-threads and --fill-batch must be positive");
  }
  return FillFlags{*threads, *batch};
}

// `what`: "existing" for the first open of what DIR held (this replays the RocksDB WAL
// the last writer left), "reopened" for an open right after a clean close.
void PrintOpen(const char* what, std::uint64_t events, double seconds) {
  std::printf("open (%s log of %llu events): %.1f ms\n", what,
              static_cast<unsigned long long>(events), seconds * 1e3);
  std::printf("RESULT open log=%s events=%llu open_ms=%.1f\n", what,
              static_cast<unsigned long long>(events), seconds * 1e3);
}

// Appends events to the log in DIR until it holds at least `events`, reporting the bulk
// append rate when it had to.
Status FillTo(const Common& common, std::uint64_t events, const FillFlags& fill) {
  const auto open_start = Clock::now();
  auto log = storage::EventLog::Open(common.dir, storage::EventLogOptions());
  if (!log.ok()) return log.status();
  const std::uint64_t have = (*log)->size();
  PrintOpen("existing", have, SecondsSince(open_start));
  if (have >= events) {
    std::printf("reusing %s: %llu events\n", common.dir.c_str(),
                static_cast<unsigned long long>(have));
    return Status::Ok();
  }
  Admission admission(**log, common.mode);
  const double cpu_start = CpuSeconds();
  auto filled =
      BulkFill(**log, admission, events - have, fill.batch, static_cast<unsigned>(fill.threads));
  if (!filled.ok()) return filled.status();
  const double cpu = CpuSeconds() - cpu_start;
  const double rate = static_cast<double>(filled->events) / filled->seconds;
  const double cpu_us = cpu * 1e6 / static_cast<double>(filled->events);
  std::printf(
      "fill: %llu events in %.1f s = %.0f events/s (batches of %llu, %llu threads), "
      "%.2f us CPU/event\n",
      static_cast<unsigned long long>(filled->events), filled->seconds, rate,
      static_cast<unsigned long long>(fill.batch), static_cast<unsigned long long>(fill.threads),
      cpu_us);
  std::printf(
      "RESULT fill events=%llu seconds=%.3f events_per_s=%.0f batch=%llu threads=%llu "
      "cpu_us_per_event=%.2f\n",
      static_cast<unsigned long long>(filled->events), filled->seconds, rate,
      static_cast<unsigned long long>(fill.batch), static_cast<unsigned long long>(fill.threads),
      cpu_us);
  return Status::Ok();
}

// FillTo, then opens the log afresh, reporting the time to open, so that what follows
// reads the log as a restarted process would.
Result<std::unique_ptr<storage::EventLog>> OpenFilled(const Common& common, std::uint64_t events,
                                                      const FillFlags& fill) {
  if (Status s = FillTo(common, events, fill); !s.ok()) return s;
  const auto start = Clock::now();
  auto log = storage::EventLog::Open(common.dir, storage::EventLogOptions());
  const double open_seconds = SecondsSince(start);
  if (!log.ok()) return log.status();
  PrintOpen("reopened", (*log)->size(), open_seconds);
  return log;
}

}  // namespace

Status RunFill(const Flags& flags, const Common& common) {
  auto events = flags.GetU64("events", 10000000);
  auto fill = ReadFillFlags(flags);
  if (!events.ok()) return events.status();
  if (!fill.ok()) return fill.status();
  if (Status s = RequireAllRead(flags); !s.ok()) return s;
  return FillTo(common, *events, *fill);
}

Status RunScan(const Flags& flags, const Common& common) {
  auto events = flags.GetU64("events", 1000000);
  auto passes = flags.GetU64("passes", 3);
  auto fill = ReadFillFlags(flags);
  if (!events.ok()) return events.status();
  if (!passes.ok()) return passes.status();
  if (!fill.ok()) return fill.status();
  if (Status s = RequireAllRead(flags); !s.ok()) return s;
  if (*events == 0 || *passes == 0) {
    return Status::InvalidArgument("bad_flag", "--events and --passes must be positive");
  }

  auto log = OpenFilled(common, *events, *fill);
  if (!log.ok()) return log.status();
  std::vector<double> rates;
  for (std::uint64_t pass = 0; pass < *passes; ++pass) {
    std::uint64_t seen = 0;
    std::uint64_t checksum = 0;
    const auto start = Clock::now();
    Status s = (*log)->Scan(1, *events, [&](const storage::DecodedEvent& event) {
      // Touch what a replay reads, so that decoding cannot be skipped.
      auto body = event.envelope().getEvent();
      if (body.which() == schema::Envelope::Event::TOKEN_CREATED) {
        auto token = body.getTokenCreated();
        checksum += token.getTokenPrefix().size() + token.getOwnerUserId().size() +
                    token.getSecretHash()[0] + event.envelope().getActor().getIp().size();
      }
      ++seen;
      return true;
    });
    const double seconds = SecondsSince(start);
    if (!s.ok()) return s;
    if (seen != *events) {
      return Status::Corruption("scan_short", "scanned " + std::to_string(seen) + " of " +
                                                  std::to_string(*events) + " events");
    }
    rates.push_back(static_cast<double>(seen) / seconds);
    std::printf("scan pass %llu: %llu events in %.3f s = %.0f events/s (checksum %llu)\n",
                static_cast<unsigned long long>(pass + 1), static_cast<unsigned long long>(seen),
                seconds, rates.back(), static_cast<unsigned long long>(checksum));
  }
  log->reset();
  RemoveUnlessKept(common);
  std::sort(rates.begin(), rates.end());
  std::printf("RESULT scan events=%llu passes=%zu events_per_s=%.0f best_events_per_s=%.0f\n",
              static_cast<unsigned long long>(*events), rates.size(), rates[rates.size() / 2],
              rates.back());
  return Status::Ok();
}

Status RunProve(const Flags& flags, const Common& common) {
  auto events = flags.GetU64("events", 10000000);
  auto proofs = flags.GetU64("proofs", 10000);
  auto fill = ReadFillFlags(flags);
  if (!events.ok()) return events.status();
  if (!proofs.ok()) return proofs.status();
  if (!fill.ok()) return fill.status();
  if (Status s = RequireAllRead(flags); !s.ok()) return s;
  if (*events == 0 || *proofs == 0) {
    return Status::InvalidArgument("bad_flag", "--events and --proofs must be positive");
  }

  auto log = OpenFilled(common, *events, *fill);
  if (!log.ok()) return log.status();
  const std::uint64_t tree_size = *events;
  auto root = (*log)->RootAt(tree_size);
  if (!root.ok()) return root.status();

  SplitMix random(42);
  std::vector<std::uint64_t> chosen(*proofs);
  std::vector<std::vector<storage::Hash>> paths(*proofs);
  LatencySample latency;
  latency.Reserve(*proofs);
  const auto start = Clock::now();
  for (std::uint64_t i = 0; i < *proofs; ++i) {
    chosen[i] = 1 + random.Next() % tree_size;
    const auto t0 = Clock::now();
    auto proof = (*log)->InclusionProof(chosen[i], tree_size);
    const auto t1 = Clock::now();
    if (!proof.ok()) return proof.status();
    latency.Add(t1 - t0);
    paths[i] = std::move(proof).value();
  }
  const double seconds = SecondsSince(start);
  latency.Finish();

  // Every proof must verify against the root, from a leaf hash recomputed from the event's
  // bytes; a damaged proof must not.
  std::size_t hashes = 0;
  for (std::uint64_t i = 0; i < *proofs; ++i) {
    auto event = (*log)->Read(chosen[i]);
    if (!event.ok()) return event.status();
    const storage::Hash leaf = storage::LeafHash(event->bytes());
    if (!storage::VerifyInclusion(leaf, chosen[i] - 1, tree_size, paths[i], *root)) {
      return Status::Corruption(
          "proof_rejected", "the proof of event " + std::to_string(chosen[i]) + " does not verify");
    }
    hashes += paths[i].size();
    if (i == 0 && !paths[i].empty()) {
      auto damaged = paths[i];
      damaged.front()[7] ^= 0x01;
      if (storage::VerifyInclusion(leaf, chosen[i] - 1, tree_size, damaged, *root)) {
        return Status::Corruption("proof_accepted", "a damaged proof verified");
      }
    }
  }
  log->reset();
  RemoveUnlessKept(common);

  const double rate = static_cast<double>(*proofs) / seconds;
  std::printf(
      "prove: %llu proofs in a tree of %llu events in %.3f s = %.0f proofs/s, "
      "%.1f hashes each, all verified\n",
      static_cast<unsigned long long>(*proofs), static_cast<unsigned long long>(tree_size), seconds,
      rate, static_cast<double>(hashes) / static_cast<double>(*proofs));
  PrintLatency("proof", latency);
  std::printf(
      "RESULT prove events=%llu proofs=%llu proofs_per_s=%.0f p50_us=%.1f p99_us=%.1f "
      "max_us=%.1f hashes_per_proof=%.1f verified=%llu\n",
      static_cast<unsigned long long>(tree_size), static_cast<unsigned long long>(*proofs), rate,
      latency.PercentileUs(50), latency.PercentileUs(99), latency.MaxUs(),
      static_cast<double>(hashes) / static_cast<double>(*proofs),
      static_cast<unsigned long long>(*proofs));
  return Status::Ok();
}

}  // namespace authledger::bench
