// The parent's side of the crash test: runs the crash workload (crash_workload.cc) as a
// child process (child_process.h), reads what it acknowledges from a pipe, and kills it
// with SIGKILL; when to kill (KillPlan); and `History`, what every run so far
// acknowledged, from which the tests know which events must be in the log and which
// tokens must no longer pass a check.
//
// Thread-safety: none; one test thread drives it.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "tests/reliability/child_process.h"
#include "tests/reliability/crash_protocol.h"

namespace authledger::testing {

// Path of the crash_workload executable (a compile definition of the test target).
std::string CrashWorkloadBinary();

// When to kill: once the child has acknowledged `after_acks` commands (0: without
// waiting for any, maybe while it is still opening), then after `delay_us` more.
struct KillPlan {
  std::uint32_t after_acks = 0;
  std::uint32_t delay_us = 0;
};

// Notices a child that has acknowledged nothing for two minutes: its run then ends as a
// failure instead of hanging the test (a guard, not a timing assertion).
class StuckGuard {
 public:
  // Why `run` looks stuck, or empty.
  std::string Check(const ChildRun& run);

 private:
  std::size_t seen_ = 0;
  std::chrono::steady_clock::time_point last_progress_ = std::chrono::steady_clock::now();
};

// One kill in ten without waiting for an acknowledgement (often while the engine is still
// opening), the others after 1 to 40 acknowledgements and up to 5 ms more.
KillPlan RandomPlan(std::mt19937_64& rng);

// Runs the workload on `data_dir` with `seed`, appending the engine's messages to
// `log_file`, and kills it as `plan` says.
ChildRun RunAndKill(const std::string& data_dir, const std::string& log_file, std::uint64_t seed,
                    const KillPlan& plan);

struct KnownToken {
  std::string prefix;
  std::string owner;
  std::string kind;  // session, personal, application
  std::string method;
  std::string secret;
  std::uint64_t created_at = 0;  // revision of its TokenCreated event
};

// A token that an acknowledged command took away for good.
struct GoneToken {
  KnownToken token;
  std::uint64_t by_revision = 0;
  std::string by_op;    // revoke, logout, 2fa_on, 2fa_off, unapp, expire
  bool revoked = true;  // false for "expire all tokens" (expired, not revoked)
};

// Everything acknowledged so far, over all runs, in revision order.
class History {
 public:
  // `acks` in any order (a workload with several connections reports them as they come).
  void Add(const std::vector<Ack>& acks);

  const std::vector<Ack>& acks() const { return acks_; }
  const std::vector<KnownToken>& tokens() const { return tokens_; }
  // The greatest revision or checkpoint size acknowledged.
  std::uint64_t last_acknowledged() const { return last_; }
  // Tokens revoked (or expired by their user) by an acknowledged command, each once.
  std::vector<GoneToken> GoneTokens() const;

 private:
  std::vector<Ack> acks_;
  std::vector<KnownToken> tokens_;
  std::uint64_t last_ = 0;
};

// An environment variable as a positive integer, or `fallback`.
std::uint64_t EnvCount(const char* name, std::uint64_t fallback);

}  // namespace authledger::testing
