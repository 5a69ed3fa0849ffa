// Restart: the state after reopening equals the state before closing, field by field,
// whether it comes from a snapshot plus the tail or from the events alone.
#include <gtest/gtest.h>

#include <set>

#include "engine/engine_impl.h"
#include "engine/snapshot.h"
#include "storage/event_log.h"
#include "tests/engine/engine_fixture.h"

namespace authledger::testing {
namespace {

using internal::EngineImpl;
using internal::Idx;
using internal::State;

State Published(const Engine& engine) {
  return dynamic_cast<const EngineImpl&>(engine).PublishedState();
}

// Field-by-field comparison, so a failure names what differs.
void ExpectSameState(const State& a, const State& b) {
  EXPECT_EQ(a.revision, b.revision);
  EXPECT_EQ(a.last_time_us, b.last_time_us);
  ASSERT_EQ(a.orgs.size(), b.orgs.size());
  for (std::size_t i = 0; i < a.orgs.size(); ++i) {
    const auto& org = a.orgs[i];
    const auto& other = b.orgs[i];
    EXPECT_EQ(org.id, other.id);
    EXPECT_EQ(org.name, other.name) << org.id;
    EXPECT_EQ(org.policy, other.policy) << org.id;
    EXPECT_EQ(org.allowlist, other.allowlist) << org.id;
    EXPECT_EQ(org.allowlist_ranges, other.allowlist_ranges) << org.id;
    EXPECT_EQ(org.domains, other.domains) << org.id;
    EXPECT_EQ(org.idps, other.idps) << org.id;
    EXPECT_EQ(org.members, other.members) << org.id;
    EXPECT_EQ(org.application_users, other.application_users) << org.id;
  }
  EXPECT_EQ(a.org_index, b.org_index);
  EXPECT_EQ(a.idps, b.idps);
  ASSERT_EQ(a.users.size(), b.users.size());
  for (std::size_t i = 0; i < a.users.size(); ++i) {
    EXPECT_TRUE(a.users[i] == b.users[i]) << "user " << a.users[i].id << " differs";
  }
  EXPECT_EQ(a.user_index, b.user_index);
  EXPECT_EQ(a.domain_owner, b.domain_owner);
  EXPECT_EQ(a.methods, b.methods);
  EXPECT_EQ(a.ip_lists, b.ip_lists);
  ASSERT_EQ(a.tokens.size(), b.tokens.size());
  for (Idx i = 0; i < a.tokens.size(); ++i) {
    const auto& token = a.tokens.at(i);
    const auto& other = b.tokens.at(i);
    EXPECT_EQ(token.prefix.view(), other.prefix.view());
    EXPECT_EQ(token.secret_hash, other.secret_hash) << token.prefix.view();
    EXPECT_EQ(token.revoked, other.revoked) << token.prefix.view();
    EXPECT_EQ(token.last_used_us, other.last_used_us) << token.prefix.view();
    EXPECT_TRUE(token == other) << "token " << token.prefix.view() << " differs";
    EXPECT_EQ(b.tokens.Find(token.prefix.view()), i) << "the index finds every token";
  }
  EXPECT_TRUE(a == b);
}

class Restart : public EngineTest {
 protected:
  // A history touching every kind of state.
  void PlayHistory() {
    ManagedOrg("org1", "acme.com");
    Must(engine_->CreateOrganization(admin_, "org2", "Other"));
    UserIn("alice", "alice@acme.com", "org1");
    UserIn("bob", "bob@gmail.com", "org1");
    Must(engine_->AddMember(admin_, "org2", "alice"));
    Must(engine_->AddIdp(admin_, "org1", {"idp1", "Acme SSO", {"acme.com"}, 3600, true}));
    Must(engine_->UpdateIpAllowlist(admin_, "org2", true, {"198.51.100.0/24", "2001:db8::/32"}));
    auto session = Login("alice", "password");
    TokenSpec spec;
    spec.description = "ci deploys";
    spec.max_age_seconds = 7200;
    spec.extend_when_used = true;
    spec.ip_allowlist = {"203.0.113.0/24"};
    spec.scopes = {"project:read", "service:write"};
    auto personal = PersonalToken(session, "alice", spec);
    Login("bob", "oauth:github");
    Login("alice", "saml:idp1");
    Must(engine_->CreateApplicationUser(admin_, "org1", "app1", "deployer"));
    Must(engine_->CreateApplicationToken(admin_, "org1", "app1", {}));
    Advance(120);
    EXPECT_TRUE(Check(personal, "org1").allowed);
    engine_->FlushTokenUse();
    PolicyUpdate update;
    update.two_factor_required = true;
    update.oauth_providers = std::vector<std::string>{"google"};
    Must(SetPolicy("org1", update));
    Must(engine_->EnableTwoFactor(Actor::User("alice"), "alice"));
    Must(engine_->ExpireUserTokens(admin_, "bob"));
    Must(engine_->DeactivateUser(admin_, "org1", "alice"));
    Must(engine_->RemoveIdp(admin_, "org1", "idp1"));
  }
};

TEST_F(Restart, StateAfterReopenEqualsStateBeforeCloseFromSnapshot) {
  PlayHistory();
  State before = Published(*engine_);
  ASSERT_GT(before.revision, 20u);
  Reopen();  // closing writes a snapshot at the last revision
  ExpectSameState(before, Published(*engine_));
}

TEST_F(Restart, StateAfterReopenEqualsStateBeforeCloseFromEventsAlone) {
  PlayHistory();
  State before = Published(*engine_);
  engine_.reset();
  // The same log replayed from the first event, with no snapshot at all.
  auto log = std::move(storage::EventLog::Open(dir_.path(), {})).value();
  State replayed;
  ASSERT_TRUE(log->Scan(1, log->size(),
                        [&](const storage::DecodedEvent& e) {
                          internal::Evolve(replayed, e.envelope());
                          return true;
                        })
                  .ok());
  ExpectSameState(before, replayed);
}

TEST_F(Restart, ASnapshotPlusTheTailGivesTheSameStateAsAFullReplay) {
  PlayHistory();
  ASSERT_TRUE(engine_->WriteSnapshot().ok());
  std::uint64_t snapshot_at = engine_->revision();
  Must(engine_->ReactivateUser(admin_, "org1", "alice"));
  Login("alice", "password", true);
  State before = Published(*engine_);
  ASSERT_GT(before.revision, snapshot_at);
  // Reopen reads the snapshot at `snapshot_at` (or the one closing writes) and the tail.
  Reopen();
  ExpectSameState(before, Published(*engine_));
  Login("bob", "password");
  EXPECT_EQ(engine_->revision(), before.revision + 1) << "seqs continue after reopening";
}

TEST_F(Restart, SnapshotsRoundTripExactly) {
  PlayHistory();
  State state = Published(*engine_);
  auto decoded = internal::DecodeSnapshot(internal::EncodeSnapshot(state));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  ExpectSameState(state, *decoded);
}

TEST_F(Restart, GarbageIsNotMistakenForASnapshot) {
  auto decoded = internal::DecodeSnapshot("not a snapshot at all");
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().reason(), "snapshot_undecodable");
}

TEST_F(Restart, SnapshotsAreWrittenInTheBackgroundEveryIntervalEvents) {
  engine_.reset();
  EngineOptions options = Options();
  options.snapshot_interval = 10;
  engine_ = std::move(Engine::Open(dir_.path(), options)).value();
  ManagedOrg("org1", "acme.com");
  for (int i = 0; i < 30; ++i) {
    Must(engine_->RegisterUser(admin_, "u" + std::to_string(i), "u@x.org"));
  }
  // The background thread writes the snapshot after the events are durable; wait for it
  // by closing (the close itself writes one only if none covers the last revision).
  std::uint64_t last = engine_->revision();
  engine_.reset();
  auto log = std::move(storage::EventLog::Open(dir_.path(), {})).value();
  int snapshots = 0;
  std::uint64_t at = last;
  while (true) {
    auto s = log->NearestSnapshot(at);
    ASSERT_TRUE(s.ok());
    if (!s->has_value()) break;
    ++snapshots;
    auto state = internal::DecodeSnapshot((*s)->bytes);
    ASSERT_TRUE(state.ok());
    EXPECT_EQ(state->revision, (*s)->seq);
    if ((*s)->seq == 0) break;
    at = (*s)->seq - 1;
  }
  EXPECT_GE(snapshots, 2) << "expected interval snapshots besides the closing one";
}

TEST_F(Restart, ASnapshotThatDisagreesWithItsSeqIsRefused) {
  ManagedOrg("org1", "acme.com");
  State state = Published(*engine_);
  engine_.reset();
  {
    auto log = std::move(storage::EventLog::Open(dir_.path(), {})).value();
    state.revision = 1;  // claims to be the state after event 1, stored at seq 2
    ASSERT_TRUE(log->PutSnapshot(2, internal::EncodeSnapshot(state)).ok());
  }
  auto engine = Engine::Open(dir_.path(), Options());
  ASSERT_FALSE(engine.ok());
  EXPECT_EQ(engine.status().reason(), "snapshot_mismatch");
}

TEST_F(Restart, TwoFactorRevocationsAreInTheSameBatchAndNameTheirCause) {
  ManagedOrg("org1", "acme.com");
  UserIn("alice", "alice@acme.com", "org1");
  auto session = Login("alice", "password");
  auto personal = PersonalToken(session, "alice");
  Login("alice", "oauth:google");  // not password-made: stays
  std::uint64_t before = engine_->revision();
  std::uint64_t after = Must(engine_->EnableTwoFactor(Actor::User("alice"), "alice"));
  ASSERT_EQ(after, before + 3) << "the 2FA event and two revocations, one batch";
  engine_.reset();
  storage::EventLogOptions options;
  options.read_only = true;
  auto log = std::move(storage::EventLog::Open(dir_.path(), options)).value();
  auto twofa = log->Read(before + 1);
  ASSERT_TRUE(twofa.ok());
  EXPECT_TRUE(twofa->envelope().getEvent().isTwoFactorEnabled());
  std::set<std::string> revoked;
  for (std::uint64_t seq = before + 2; seq <= after; ++seq) {
    auto e = log->Read(seq);
    ASSERT_TRUE(e.ok());
    ASSERT_TRUE(e->envelope().getEvent().isTokenRevoked());
    auto r = e->envelope().getEvent().getTokenRevoked();
    EXPECT_EQ(e->envelope().getCause(), before + 1) << "cause = the 2FA event";
    EXPECT_EQ(r.getReason(), schema::RevocationReason::TWO_FACTOR_CHANGED);
    EXPECT_EQ(e->time_us(), twofa->time_us());
    revoked.insert(r.getTokenPrefix().cStr());
  }
  EXPECT_EQ(revoked, (std::set<std::string>{session.token_prefix, personal.token_prefix}));
}

}  // namespace
}  // namespace authledger::testing
