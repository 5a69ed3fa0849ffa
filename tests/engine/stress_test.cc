// Stress: checks on every core while other threads submit commands, the background
// thread records token use and snapshots are written every few events. Every decision a
// checker saw must be the decision of a state the log really passed through: it is
// evaluated again, after the run, against the log folded up to the decision's revision.
// Besides: a checker's revisions never go back, an acknowledged revocation holds for
// every later check, every checkpoint's root is the log's root at its size, every
// snapshot equals the fold at its seq, and the state after closing and reopening equals
// the live one.
//
// The run is bounded by operation counts, never by wall time; it is meant to run under
// ThreadSanitizer and AddressSanitizer as well as in the normal suite.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/rules.h"
#include "engine/state_store.h"
#include "storage/event_log.h"
#include "storage/hash.h"
#include "tests/engine/engine_fixture.h"
#include "tests/engine/state_assertions.h"

namespace authledger::testing {
namespace {

using internal::State;

constexpr int kWriters = 3;                // one administrator, two users' clients
constexpr int kCommandsPerWriter = 150;    // the run's length
constexpr std::uint64_t kMinChecks = 400;  // per checker, should the writers be quick
// Decisions evaluated again after the run, per checker: a uniform sample of all it saw.
constexpr std::size_t kMaxSamples = 3000;
constexpr std::uint64_t kCheckpointEvery = 50;  // a checker asks for a checkpoint
constexpr std::size_t kPoolCapacity = 4096;
constexpr int kUsersPerOrg = 4;

// A token whose creation was acknowledged, shared with the checkers.
struct TokenSlot {
  CreatedToken token;
  std::string owner;  // user id
  bool session = false;
  // Revision returned by an acknowledged RevokeToken or EndSession; 0 = none yet.
  std::atomic<std::uint64_t> revoked_at{0};
};

// Tokens published by writers once acknowledged; slots never move, so checkers read
// them without a lock (a slot's token is written before the size that reveals it).
class TokenPool {
 public:
  TokenPool() : slots_(kPoolCapacity) {}

  void Add(CreatedToken token, std::string owner, bool session) {
    std::lock_guard lock(mu_);
    const std::size_t n = size_.load(std::memory_order_relaxed);
    if (n == slots_.size()) return;
    slots_[n].token = std::move(token);
    slots_[n].owner = std::move(owner);
    slots_[n].session = session;
    size_.store(n + 1, std::memory_order_release);
  }
  std::size_t size() const { return size_.load(std::memory_order_acquire); }
  TokenSlot& at(std::size_t i) { return slots_[i]; }

 private:
  std::mutex mu_;
  std::vector<TokenSlot> slots_;
  std::atomic<std::size_t> size_{0};
};

enum class Probe { kCheck, kExplain, kCanCreate };

// A decision seen by a checker, kept to be evaluated again after the run.
struct Sample {
  Probe probe = Probe::kCheck;
  std::size_t slot = 0;
  std::string org_id;
  CheckContext ctx;
  Decision decision;
  std::vector<TraceStep> trace;
};

// What one thread found wrong (the first few, and how many in all).
struct Findings {
  std::vector<std::string> first;
  int count = 0;
  void Add(std::string what) {
    if (first.size() < 10) first.push_back(std::move(what));
    ++count;
  }
};

std::string Describe(const Decision& d) {
  return std::string(d.allowed ? "allowed" : "denied") + " " + d.rule + "/" + d.reason +
         " token=" + d.token_prefix + " user=" + d.user_id + " org=" + d.org_id +
         " rev=" + std::to_string(d.revision);
}

bool SameDecision(const Decision& a, const Decision& b) {
  return a.allowed == b.allowed && a.reason == b.reason && a.rule == b.rule &&
         a.token_prefix == b.token_prefix && a.user_id == b.user_id && a.org_id == b.org_id &&
         a.revision == b.revision;
}

bool SameTrace(const std::vector<TraceStep>& a, const std::vector<TraceStep>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
    return x.condition == y.condition && x.passed == y.passed && x.detail == y.detail;
  });
}

// The engine's CanCreatePersonalToken, over a folded state.
Decision CanCreateIn(const State& s, const std::string& session_prefix, const CheckContext& ctx) {
  Decision d;
  d.rule = "R3";
  d.revision = s.revision;
  d.token_prefix = session_prefix;
  std::string_view reason = "unknown_token";
  if (const internal::TokenRecord* session = s.FindToken(session_prefix)) {
    const internal::User& user = s.OwnerOf(*session);
    d.user_id = user.id;
    reason = internal::CreatePersonalTokenRule(s, user, *session, ctx.time_us);
    if (const internal::Organization* managing = s.ManagingOrg(user)) d.org_id = managing->id;
  }
  d.allowed = reason == internal::kOk;
  d.reason = reason;
  return d;
}

// A command's failure that no rule explains: the engine or its disk is broken.
bool Unexpected(const Status& s) {
  return s.code() == Status::Code::kIoError || s.code() == Status::Code::kCorruption ||
         s.code() == Status::Code::kUnavailable || s.reason() == "engine_read_only";
}

class Stress : public EngineTest {
 protected:
  void SetUp() override {
    // Snapshots every few events and a use recorded whenever a second has passed, so
    // that both run throughout (the clock advances a second per command).
    EngineOptions options = Options();
    options.snapshot_interval = 16;
    options.token_use_interval_us = kSecondUs;
    auto engine = Engine::Open(dir_.path(), options);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = std::move(engine).value();

    ManagedOrg("org1", "acme.com");
    ManagedOrg("org2", "beta.com");
    for (int o = 1; o <= 2; ++o) {
      const std::string org = "org" + std::to_string(o);
      const std::string domain = o == 1 ? "acme.com" : "beta.com";
      for (int u = 0; u < kUsersPerOrg; ++u) {
        const std::string user = "u" + std::to_string(o) + std::to_string(u);
        UserIn(user, user + "@" + domain, org);
        users_.push_back(user);
        managed_by_.push_back(org);
        if (u % 2 == 0) Must(engine_->AddMember(admin_, o == 1 ? "org2" : "org1", user));
      }
      Must(engine_->CreateApplicationUser(admin_, org, "app" + std::to_string(o), "deployer"));
    }
    // A few tokens to check before the writers have created any.
    for (std::size_t u = 0; u < users_.size(); ++u) {
      CreatedToken session = Login(users_[u], "password");
      pool_.Add(session, users_[u], true);
      pool_.Add(PersonalToken(session, users_[u]), users_[u], false);
    }
  }

  // One writer's commands; `admin` writers change policies, allowlists, 2FA and users,
  // the others log in, create and revoke tokens.
  void Write(int writer, bool admin, Findings& findings) {
    std::mt19937 rng(1000 + static_cast<unsigned>(writer));
    std::uint64_t last = 0;
    auto acknowledged = [&](const char* what, const Status& status, std::uint64_t revision) {
      if (!status.ok()) {
        if (Unexpected(status)) findings.Add(std::string(what) + ": " + status.ToString());
        return false;
      }
      if (revision <= last) {
        findings.Add(std::string(what) + " returned revision " + std::to_string(revision) +
                     " after " + std::to_string(last));
      }
      if (engine_->revision() < revision) {
        findings.Add(std::string(what) + " returned before its revision was published");
      }
      last = revision;
      return true;
    };
    auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
    for (int i = 0; i < kCommandsPerWriter; ++i) {
      Advance(1);
      const std::size_t u = pick(users_.size());
      const std::string& user = users_[u];
      const std::string org = "org" + std::to_string(1 + pick(2));
      const unsigned roll = rng() % 100;
      if (admin) {
        if (roll < 35) {
          PolicyUpdate update;
          update.two_factor_required = rng() % 3 == 0;
          update.password_auth_enabled = rng() % 4 != 0;
          update.personal_tokens_enabled = rng() % 5 != 0;
          update.personal_tokens_require_allowed_auth_method = rng() % 2 == 0;
          update.oauth_enabled = rng() % 2 == 0;
          auto r = engine_->UpdatePolicy(admin_, org, update);
          acknowledged("UpdatePolicy", r.status(), r.ok() ? r->revision : 0);
        } else if (roll < 45) {
          std::vector<std::string> cidrs = {"198.51.100.0/24"};
          if (rng() % 2 == 0) cidrs.push_back("203.0.113.0/24");
          auto r = engine_->UpdateIpAllowlist(admin_, org, rng() % 2 == 0, cidrs);
          acknowledged("UpdateIpAllowlist", r.status(), r.ok() ? *r : 0);
        } else if (roll < 65) {
          auto r = rng() % 2 == 0 ? engine_->EnableTwoFactor(Actor::User(user), user)
                                  : engine_->DisableTwoFactor(Actor::User(user), user);
          acknowledged("SetTwoFactor", r.status(), r.ok() ? *r : 0);
        } else if (roll < 80) {
          auto r = rng() % 3 == 0 ? engine_->DeactivateUser(admin_, managed_by_[u], user)
                                  : engine_->ReactivateUser(admin_, managed_by_[u], user);
          acknowledged("(De)activateUser", r.status(), r.ok() ? *r : 0);
        } else if (roll < 85) {
          auto r = engine_->ExpireUserTokens(admin_, user);
          acknowledged("ExpireUserTokens", r.status(), r.ok() ? *r : 0);
        } else if (roll < 95) {
          PolicyUpdate update;
          update.saml_enabled = false;
          (void)engine_->DryRunPolicy(admin_, org, update);
        } else {
          Status s = engine_->WriteSnapshot();  // beside the background thread's
          if (!s.ok()) findings.Add("WriteSnapshot: " + s.ToString());
        }
        continue;
      }
      if (roll < 25) {
        static const char* const kMethods[] = {"password", "oauth:github", "oauth:google"};
        auto r = engine_->RecordLogin(Actor::User(user), {user, kMethods[pick(3)], rng() % 2 == 0});
        if (acknowledged("RecordLogin", r.status(), r.ok() ? r->revision : 0)) {
          pool_.Add(*r, user, true);
        }
        continue;
      }
      const std::size_t n = pick(pool_.size());
      TokenSlot& slot = pool_.at(n);
      if (roll < 50) {
        if (!slot.session) continue;
        TokenSpec spec;
        if (rng() % 3 == 0) {
          spec.max_age_seconds = 600;
          spec.extend_when_used = true;
        } else if (rng() % 2 == 0) {
          spec.ip_allowlist = {"203.0.113.0/24"};
        }
        auto r =
            engine_->CreatePersonalToken(Actor::User(slot.owner), slot.token.token_prefix, spec);
        if (acknowledged("CreatePersonalToken", r.status(), r.ok() ? r->revision : 0)) {
          pool_.Add(*r, slot.owner, false);
        }
      } else if (roll < 60) {
        const std::string app = "app" + org.substr(3);
        auto r = engine_->CreateApplicationToken(admin_, org, app, {});
        if (acknowledged("CreateApplicationToken", r.status(), r.ok() ? r->revision : 0)) {
          pool_.Add(*r, app, false);
        }
      } else if (roll < 90) {
        auto r = slot.session && rng() % 2 == 0
                     ? engine_->EndSession(Actor::User(slot.owner), slot.token.token_prefix)
                     : engine_->RevokeToken(Actor::User(slot.owner), slot.token.token_prefix);
        if (acknowledged("RevokeToken", r.status(), r.ok() ? *r : 0)) {
          std::uint64_t none = 0;
          slot.revoked_at.compare_exchange_strong(none, *r);
        }
      } else {
        engine_->FlushTokenUse();
      }
    }
  }

  // Checks until the writers are done (and at least kMinChecks), keeping samples.
  void Check(int checker, const std::atomic<bool>& writers_done, std::vector<Sample>& samples,
             std::vector<LogCheckpoint>& checkpoints, Findings& findings, std::uint64_t& checks) {
    std::mt19937 rng(2000 + static_cast<unsigned>(checker));
    static const char* const kOrgs[] = {"org1", "org2", "org9"};
    static const char* const kIps[] = {"203.0.113.7", "198.51.100.9"};
    std::uint64_t last = 0;
    for (checks = 0; checks < kMinChecks || !writers_done.load(); ++checks) {
      const std::size_t n = rng() % pool_.size();
      const TokenSlot& slot = pool_.at(n);
      // Read in this order: a revocation acknowledged before the check began is
      // published, so `published` is at least its revision.
      const std::uint64_t revoked_at = slot.revoked_at.load();
      const std::uint64_t published = engine_->revision();
      Sample s;
      s.slot = n;
      s.org_id = kOrgs[rng() % 3];
      s.ctx = {now(), kIps[rng() % 2]};
      const unsigned roll = rng() % 10;
      if (roll < 6) {
        s.probe = Probe::kCheck;
        s.decision = engine_->CheckToken(slot.token.secret, s.org_id, s.ctx);
      } else if (roll < 8 || !slot.session) {
        s.probe = Probe::kExplain;
        Explanation e = engine_->Explain(slot.token.secret, s.org_id, s.ctx);
        s.decision = std::move(e.decision);
        s.trace = std::move(e.trace);
      } else {
        s.probe = Probe::kCanCreate;
        s.decision = engine_->CanCreatePersonalToken(slot.token.token_prefix, s.ctx);
      }
      const Decision& d = s.decision;
      if (d.revision < last || d.revision < published) {
        findings.Add("revision went back: " + Describe(d) + " after " + std::to_string(last) +
                     ", published " + std::to_string(published));
      }
      last = d.revision;
      if (d.reason == "unknown_token")
        findings.Add("an acknowledged token unknown: " + Describe(d));
      if (revoked_at != 0 && d.allowed) {
        findings.Add("revoked at " + std::to_string(revoked_at) + " yet " + Describe(d));
      }
      if (samples.size() < kMaxSamples) {
        samples.push_back(std::move(s));
      } else if (const std::uint64_t j = rng() % (checks + 1); j < kMaxSamples) {
        samples[j] = std::move(s);
      }
      if (checks % kCheckpointEvery == 0) {
        auto c = engine_->Checkpoint();
        if (!c.ok()) {
          findings.Add("Checkpoint: " + c.status().ToString());
        } else if (c->size < last) {
          findings.Add("a checkpoint of " + std::to_string(c->size) +
                       " events after a decision at " + std::to_string(last));
        } else {
          checkpoints.push_back(*std::move(c));
        }
      }
    }
  }

  std::vector<std::string> users_;
  std::vector<std::string> managed_by_;  // org managing users_[i]
  TokenPool pool_;
};

TEST_F(Stress, ChecksOnEveryCoreSeeOnlyStatesTheLogPassedThroughWhileCommandsRun) {
  const int checkers = std::max(2u, std::thread::hardware_concurrency());
  std::atomic<bool> writers_done{false};
  std::vector<Findings> findings(static_cast<std::size_t>(kWriters + checkers));
  std::vector<std::vector<Sample>> samples(static_cast<std::size_t>(checkers));
  std::vector<std::vector<LogCheckpoint>> checkpoints(static_cast<std::size_t>(checkers));
  std::vector<std::uint64_t> checks(static_cast<std::size_t>(checkers));
  {
    std::vector<std::thread> checker_threads;
    for (int c = 0; c < checkers; ++c) {
      const auto i = static_cast<std::size_t>(c);
      checker_threads.emplace_back([&, c, i] {
        Check(c, writers_done, samples[i], checkpoints[i], findings[kWriters + i], checks[i]);
      });
    }
    std::vector<std::thread> writer_threads;
    for (int w = 0; w < kWriters; ++w) {
      writer_threads.emplace_back(
          [&, w] { Write(w, w == 0, findings[static_cast<std::size_t>(w)]); });
    }
    for (auto& t : writer_threads) t.join();
    writers_done.store(true);
    for (auto& t : checker_threads) t.join();
  }
  for (const auto& f : findings) {
    EXPECT_EQ(f.count, 0) << ::testing::PrintToString(f.first);
  }
  ASSERT_TRUE(engine_->health().ok()) << engine_->health().ToString();

  engine_->FlushTokenUse();
  const State live = Published(*engine_);
  std::size_t revoked = 0;
  for (std::size_t i = 0; i < pool_.size(); ++i) revoked += pool_.at(i).revoked_at.load() != 0;
  EXPECT_GT(revoked, 10u) << "the writers revoked too little to test";
  EXPECT_GT(pool_.size(), 50u);

  // Every sampled decision again, against the log folded up to its revision; every
  // snapshot against the fold at its seq.
  engine_.reset();
  {
    auto opened = storage::EventLog::Open(dir_.path(), {});
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    const storage::EventLog& log = **opened;
    ASSERT_EQ(log.size(), live.revision);
    std::vector<Sample> all;
    for (auto& v : samples) std::move(v.begin(), v.end(), std::back_inserter(all));
    std::sort(all.begin(), all.end(), [](const Sample& a, const Sample& b) {
      return a.decision.revision < b.decision.revision;
    });
    std::vector<std::uint64_t> snapshot_seqs;
    for (std::uint64_t at = log.size(); at > 0;) {
      auto s = log.NearestSnapshot(at);
      ASSERT_TRUE(s.ok()) << s.status().ToString();
      if (!s->has_value() || (*s)->seq == 0) break;
      snapshot_seqs.push_back((*s)->seq);
      at = (*s)->seq - 1;
    }
    EXPECT_GE(snapshot_seqs.size(), 3u) << "snapshots were not written during the run";
    std::sort(snapshot_seqs.begin(), snapshot_seqs.end());
    std::vector<std::uint64_t> stops = snapshot_seqs;
    for (const auto& s : all) stops.push_back(s.decision.revision);
    stops.push_back(log.size());
    std::sort(stops.begin(), stops.end());
    stops.erase(std::unique(stops.begin(), stops.end()), stops.end());

    State state;
    std::size_t next = 0, mismatches = 0, token_uses = 0, allowed = 0, revoked_seen = 0;
    for (std::uint64_t stop : stops) {
      ASSERT_TRUE(log.Scan(state.revision + 1, stop,
                           [&](const storage::DecodedEvent& e) {
                             token_uses += e.envelope().getEvent().isTokenUsed();
                             internal::Evolve(state, e.envelope());
                             return true;
                           })
                      .ok());
      ASSERT_EQ(state.revision, stop);
      for (; next < all.size() && all[next].decision.revision == stop; ++next) {
        const Sample& s = all[next];
        const std::string& prefix = pool_.at(s.slot).token.token_prefix;
        Decision expected;
        std::vector<TraceStep> trace;
        if (s.probe == Probe::kCanCreate) {
          expected = CanCreateIn(state, prefix, s.ctx);
        } else {
          expected = internal::CheckTokenAgainst(state, state.FindToken(prefix), s.org_id, s.ctx,
                                                 s.probe == Probe::kExplain ? &trace : nullptr);
        }
        allowed += s.decision.allowed;
        revoked_seen += s.decision.reason == "token_revoked";
        if (!SameDecision(expected, s.decision) || !SameTrace(trace, s.trace)) {
          if (++mismatches <= 10) {
            ADD_FAILURE() << "seen " << Describe(s.decision) << ", the log at that revision says "
                          << Describe(expected);
          }
        }
      }
      if (std::binary_search(snapshot_seqs.begin(), snapshot_seqs.end(), stop)) {
        auto loaded = internal::LoadState(log, stop);
        ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
        ASSERT_EQ(loaded->snapshot_seq, stop);
        ExpectSameState(state, loaded->state);
      }
    }
    EXPECT_EQ(next, all.size());
    EXPECT_EQ(mismatches, 0u);
    // Both answers were sampled, or the comparison proves little.
    EXPECT_GT(allowed, 0u);
    EXPECT_GT(revoked_seen, 0u);
    EXPECT_GT(all.size(), 100u);
    EXPECT_GT(token_uses, 0u) << "no token use was recorded during the run";

    // A checkpoint taken while groups were being committed names a size and the root of
    // exactly that many events.
    std::size_t checkpoints_seen = 0;
    for (const auto& v : checkpoints) {
      for (const auto& c : v) {
        auto root = log.RootAt(c.size);
        ASSERT_TRUE(root.ok()) << root.status().ToString();
        EXPECT_EQ(storage::ToHex(*root), c.root_hex) << "checkpoint of size " << c.size;
        ++checkpoints_seen;
      }
    }
    EXPECT_GT(checkpoints_seen, 0u);
    ExpectSameState(live, state);
  }

  Open();
  ExpectSameState(live, Published(*engine_));
  for (std::size_t i = 0; i < pool_.size(); ++i) {
    if (pool_.at(i).revoked_at.load() == 0) continue;
    Decision d = engine_->CheckToken(pool_.at(i).token.secret, "org1", At());
    EXPECT_EQ(d.reason, "token_revoked") << Describe(d);
  }
  std::uint64_t total = 0;
  for (auto c : checks) total += c;
  RecordProperty("checks", std::to_string(total));
}

}  // namespace
}  // namespace authledger::testing
