// What the crash tests check after every kill, the same whether the child that died ran
// the engine itself (crash_test.cc) or was the server (server_crash_test.cc): every
// event the child was told was durable is in the log, as the child saw it (its type, its
// token, the Merkle root of the log right after it); seqs are dense; the Merkle root
// recomputes and every stored snapshot matches a replay; the engine reopened on the
// directory has exactly the state folded from the first event; and no token whose
// revocation was acknowledged passes a check.
//
// RunKillSeries is the test's loop: many kills in a row on one data directory, each
// followed by all of the above.
//
// Thread-safety: GoogleTest assertions; the test's thread only.
#pragma once

#include <authledger/engine.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tests/reliability/crash_harness.h"

namespace authledger::testing {

// The log as the crash left it, opened read-only before any engine touches it: it holds
// every acknowledged event (those of `this_run` checked one by one, as the child saw
// them), its seqs are dense, and the largest acknowledged checkpoint keeps its root.
void ExpectLogHoldsEverythingAcknowledged(const std::string& dir, const History& history,
                                          const std::vector<Ack>& this_run);

// verify: every leaf and the root recompute, every stored snapshot equals the replay.
void ExpectLogVerifies(const std::string& dir);

// The engine reopened on a copy of the directory at `crash_dir` (so that the next child
// recovers from what the crash left, not from what closing this engine writes): its
// state equals the log folded from scratch, and every token taken away by an
// acknowledged command stays refused. Sets *checkpoint to the reopened engine's.
void ExpectEngineRecovers(const std::string& crash_dir, const std::string& dir,
                          const History& history, LogCheckpoint* checkpoint);

// A check of `gone`'s token (`allowed`, `reason`) refuses it, for the reason its
// revocation or expiry gives; `where` names who answered, for the failure message.
void ExpectStaysRefused(const GoneToken& gone, bool allowed, const std::string& reason,
                        const std::string& where);

// One crash test: kills of children on one data directory, each followed by every check
// above and then by `also_check`.
struct KillSeries {
  std::string name;        // for the summary line: "crash test", …
  std::string data_dir;    // the directory the children run on
  std::string reopen_dir;  // where ExpectEngineRecovers copies it to
  // Starts a child on data_dir with `seed` and kills it as `plan` says.
  std::function<ChildRun(std::uint64_t seed, const KillPlan& plan)> run_and_kill;
  // More checks after every kill, given what the reopened engine's checkpoint was; may
  // be empty.
  std::function<void(const History& history, const LogCheckpoint& reopened)> also_check;
};

// Kills AUTHLEDGER_CRASH_ROUNDS times (`ci_rounds` when unset), with the random choices
// of AUTHLEDGER_CRASH_SEED (random when unset, and then printed), stopping at the first
// kill after which a check fails; prints the run's figures.
void RunKillSeries(const KillSeries& series, std::uint64_t ci_rounds);

}  // namespace authledger::testing
