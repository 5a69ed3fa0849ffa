#include "tests/reliability/crash_checks.h"

#include <authledger/log_tools.h>
#include <capnp/dynamic.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <random>

#include "storage/event_log.h"
#include "storage/hash.h"
#include "tests/engine/state_assertions.h"
#include "tests/reliability/workload_universe.h"

namespace authledger::testing {
namespace {

// The event's name in the schema's union ("tokenCreated", …).
std::string EventType(schema::Envelope::Reader envelope) {
  KJ_IF_MAYBE (field, capnp::toDynamic(envelope.getEvent()).which()) {
    return field->getProto().getName();
  }
  return "unknown";
}

// What the last event of the batch a command appends may be: the command's own event,
// or the last revocation it caused in the same batch.
const std::vector<std::string>& LastEventTypes(const std::string& op) {
  static const std::map<std::string, std::vector<std::string>> kTypes = {
      {"org", {"organizationCreated"}},
      {"verify", {"domainVerified"}},
      {"unverify", {"domainUnverified"}},
      {"idp", {"idpAdded"}},
      {"unidp", {"idpRemoved"}},
      {"user", {"userRegistered"}},
      {"member", {"memberAdded"}},
      {"unmember", {"memberRemoved"}},
      {"deactivate", {"userDeactivated"}},
      {"reactivate", {"userReactivated"}},
      {"app", {"applicationUserCreated"}},
      {"unapp", {"applicationUserDeleted", "tokenRevoked"}},
      {"session", {"tokenCreated"}},
      {"personal", {"tokenCreated"}},
      {"application", {"tokenCreated"}},
      {"revoke", {"tokenRevoked"}},
      {"logout", {"tokenRevoked"}},
      {"2fa_on", {"twoFactorEnabled", "tokenRevoked"}},
      {"2fa_off", {"twoFactorDisabled", "tokenRevoked"}},
      {"policy", {"policyChanged"}},
      {"allowlist", {"ipAllowlistChanged"}},
      {"expire", {"userTokensExpired"}},
  };
  static const std::vector<std::string> kNone;
  auto it = kTypes.find(op);
  return it == kTypes.end() ? kNone : it->second;
}

// The acknowledged event at `ack.revision` is the one the child was acknowledged for,
// and the log's first `checkpoint_size` events still have the root the child saw.
void ExpectAcknowledgedEvent(const storage::EventLog& log, const Ack& ack) {
  auto event = log.Read(ack.revision);
  ASSERT_TRUE(event.ok()) << "acknowledged event " << ack.revision << " (" << ack.op
                          << "): " << event.status().ToString();
  auto envelope = event->envelope();
  const std::string type = EventType(envelope);
  const auto& allowed = LastEventTypes(ack.op);
  EXPECT_NE(std::find(allowed.begin(), allowed.end(), type), allowed.end())
      << "event " << ack.revision << " is " << type << ", acknowledged for " << ack.op;
  if (ack.MadeToken() && envelope.getEvent().isTokenCreated()) {
    auto created = envelope.getEvent().getTokenCreated();
    EXPECT_EQ(std::string(created.getTokenPrefix()), ack.subject) << "event " << ack.revision;
    EXPECT_EQ(std::string(created.getOwnerUserId()), ack.owner) << "event " << ack.revision;
    EXPECT_EQ(std::string(created.getMethod()), ack.method) << "event " << ack.revision;
    auto hash = created.getSecretHash();
    EXPECT_EQ(storage::ToHex(std::span<const std::uint8_t>(hash.begin(), hash.size())),
              storage::ToHex(storage::Sha256(ack.secret)))
        << "event " << ack.revision << " holds the hash of another secret";
  }
  if ((ack.op == "revoke" || ack.op == "logout") && envelope.getEvent().isTokenRevoked()) {
    EXPECT_EQ(std::string(envelope.getEvent().getTokenRevoked().getTokenPrefix()), ack.subject)
        << "event " << ack.revision;
  }
  if (!ack.HasCheckpoint()) return;
  auto root = log.RootAt(ack.checkpoint_size);
  ASSERT_TRUE(root.ok()) << root.status().ToString();
  EXPECT_EQ(storage::ToHex(*root), ack.checkpoint_root)
      << "the root of the first " << ack.checkpoint_size << " events changed";
}

// The state after events 1..seq, folded from the first event (no snapshot).
internal::State FoldedFromScratch(const storage::EventLog& log, std::uint64_t seq) {
  internal::State state;
  Status s = log.Scan(1, seq, [&](const storage::DecodedEvent& e) {
    internal::Evolve(state, e.envelope());
    return true;
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return state;
}

// False while the directory holds no log yet, or only one whose first creation was cut
// short (Open had not returned, so nothing can have been acknowledged there).
bool LogWasCreated(const std::string& dir) {
  storage::EventLogOptions options;
  options.read_only = true;
  auto opened = storage::EventLog::Open(dir, options);
  return opened.ok() || opened.status().reason() != "log_not_found";
}

}  // namespace

void ExpectLogHoldsEverythingAcknowledged(const std::string& dir, const History& history,
                                          const std::vector<Ack>& this_run) {
  storage::EventLogOptions options;
  options.read_only = true;
  auto opened = storage::EventLog::Open(dir, options);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  const storage::EventLog& log = **opened;
  const std::uint64_t size = log.size();
  ASSERT_GE(size, history.last_acknowledged()) << "acknowledged events are missing";

  std::uint64_t expected = 1;
  Status scanned = log.Scan(1, size, [&](const storage::DecodedEvent& e) {
    if (e.seq() != expected) return false;
    ++expected;
    return true;
  });
  ASSERT_TRUE(scanned.ok()) << scanned.ToString();
  ASSERT_EQ(expected, size + 1) << "seqs are not dense: expected seq " << expected;

  for (const Ack& ack : this_run) ASSERT_NO_FATAL_FAILURE(ExpectAcknowledgedEvent(log, ack));
  // The largest checkpoint of every run so far: its root commits to all events before it.
  auto largest = std::max_element(
      history.acks().begin(), history.acks().end(),
      [](const Ack& a, const Ack& b) { return a.checkpoint_size < b.checkpoint_size; });
  if (largest != history.acks().end() && largest->HasCheckpoint()) {
    auto root = log.RootAt(largest->checkpoint_size);
    ASSERT_TRUE(root.ok()) << root.status().ToString();
    EXPECT_EQ(storage::ToHex(*root), largest->checkpoint_root)
        << "the root of the first " << largest->checkpoint_size << " events changed";
  }
}

void ExpectLogVerifies(const std::string& dir) {
  auto report = VerifyLog(dir);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->ok()) << report->problem << " at seq " << report->bad_seq << ": "
                            << report->message;
}

void ExpectEngineRecovers(const std::string& crash_dir, const std::string& dir,
                          const History& history, LogCheckpoint* checkpoint) {
  std::filesystem::remove_all(dir);
  std::filesystem::copy(crash_dir, dir, std::filesystem::copy_options::recursive);
  auto opened = Engine::Open(dir);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  const Engine& engine = **opened;
  storage::EventLogOptions options;
  options.read_only = true;
  auto log = storage::EventLog::Open(dir, options);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  ASSERT_EQ(engine.revision(), (*log)->size());
  ExpectSameState(Published(engine), FoldedFromScratch(**log, (*log)->size()));
  auto reopened = engine.Checkpoint();
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  *checkpoint = *reopened;

  const CheckContext now{NowUs(), kUserIp};
  for (const GoneToken& gone : history.GoneTokens()) {
    Decision d = engine.CheckToken(gone.token.secret, "o0", now);
    ExpectStaysRefused(gone, d.allowed, d.reason, "the reopened engine");
  }
}

void ExpectStaysRefused(const GoneToken& gone, bool allowed, const std::string& reason,
                        const std::string& where) {
  EXPECT_FALSE(allowed) << "token " << gone.token.prefix << " passes a check by " << where
                        << " after " << gone.by_op << " at revision " << gone.by_revision;
  // "Token live" is checked first, so the reason is about the token, not the org.
  if (gone.revoked) {
    EXPECT_EQ(reason, "token_revoked") << "token " << gone.token.prefix << ", " << gone.by_op
                                       << " at " << gone.by_revision << ", checked by " << where;
  } else {
    EXPECT_TRUE(reason == "token_revoked" || reason == "token_expired" ||
                reason == "token_expired_by_user")
        << "token " << gone.token.prefix << " is " << reason << " after " << gone.by_op << " at "
        << gone.by_revision << ", checked by " << where;
  }
}

void RunKillSeries(const KillSeries& series, std::uint64_t ci_rounds) {
  const std::uint64_t rounds = EnvCount("AUTHLEDGER_CRASH_ROUNDS", ci_rounds);
  const std::uint64_t seed = EnvCount("AUTHLEDGER_CRASH_SEED", std::random_device{}());
  SCOPED_TRACE("AUTHLEDGER_CRASH_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  History history;
  std::uint64_t kills_before_open = 0;
  std::uint64_t kills = 0;
  const auto start = std::chrono::steady_clock::now();
  for (std::uint64_t round = 1; round <= rounds; ++round) {
    SCOPED_TRACE("kill " + std::to_string(round) + " of " + std::to_string(rounds));
    const KillPlan plan = RandomPlan(rng);
    ChildRun run = series.run_and_kill(rng(), plan);
    ++kills;
    ASSERT_TRUE(run.error.empty()) << run.error;
    if (run.opened_at) {
      EXPECT_GE(*run.opened_at, history.last_acknowledged()) << "the child reopened without "
                                                                "events acknowledged before";
    } else {
      ++kills_before_open;
    }
    history.Add(run.acks);
    // Killed before the very first open had created the log: nothing acknowledged,
    // nothing to check yet; a later round creates it (and the kill-during-creation
    // test covers a creation cut short).
    if (history.acks().empty() && !LogWasCreated(series.data_dir)) continue;
    ASSERT_NO_FATAL_FAILURE(
        ExpectLogHoldsEverythingAcknowledged(series.data_dir, history, run.acks));
    ASSERT_NO_FATAL_FAILURE(ExpectLogVerifies(series.data_dir));
    LogCheckpoint reopened;
    ASSERT_NO_FATAL_FAILURE(
        ExpectEngineRecovers(series.data_dir, series.reopen_dir, history, &reopened));
    if (series.also_check) {
      ASSERT_NO_FATAL_FAILURE(series.also_check(history, reopened));
    }
    if (::testing::Test::HasFailure()) break;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << series.name << ": seed " << seed << ", " << kills << " kills (" << kills_before_open
            << " before the child had opened), " << history.acks().size()
            << " acknowledged commands, log size " << history.last_acknowledged()
            << " at the last acknowledgement, " << history.tokens().size() << " tokens, "
            << history.GoneTokens().size() << " of them revoked or expired and checked after "
            << "every reopen, " << seconds << " s\n";
  EXPECT_GT(history.acks().size(), 0u) << "the workload acknowledged nothing";
}

}  // namespace authledger::testing
