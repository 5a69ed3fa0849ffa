// Stories: what administrators and users of the policy live through, end to end, through
// the public Engine API. Each story follows one situation across several commands and
// checks (DESIGN §2–3): soft rules that follow the current policy, revocations that are
// permanent, cross-organization SAML, application tokens, optimistic concurrency, dry runs.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <vector>

#include "tests/engine/engine_fixture.h"

namespace authledger::testing {
namespace {

using ::testing::AssertionFailure;
using ::testing::AssertionResult;
using ::testing::AssertionSuccess;

AssertionResult Allowed(const Decision& d) {
  if (d.allowed && d.reason == "ok") return AssertionSuccess();
  return AssertionFailure() << "denied by " << d.rule << " with " << d.reason;
}

AssertionResult DeniedBy(const Decision& d, std::string_view rule, std::string_view reason) {
  if (!d.allowed && d.rule == rule && d.reason == reason) return AssertionSuccess();
  return AssertionFailure() << "expected denial by " << rule << " with " << reason << ", got "
                            << (d.allowed ? "allowed" : "denied") << " by " << d.rule << " with "
                            << d.reason;
}

class Story : public EngineTest {
 protected:
  std::uint64_t Settled() {
    engine_->FlushTokenUse();
    return engine_->revision();
  }
  PolicyChange Policy(const std::string& org_id, const PolicyUpdate& update) {
    return Must(SetPolicy(org_id, update), "policy update");
  }
  // password off, oauth off, SAML on (the org has an IdP).
  static PolicyUpdate SsoOnly() {
    PolicyUpdate u;
    u.password_auth_enabled = false;
    u.oauth_enabled = false;
    u.saml_enabled = true;
    return u;
  }
};

// (a) + (b)
TEST_F(Story, PasswordTokenStopsWorkingWhenTheOrgGoesSsoOnlyAndWorksAgainWhenPasswordReturns) {
  ManagedOrg("acme", "acme.com");
  Must(engine_->AddIdp(admin_, "acme", {"acme-sso", "Acme SSO", {"acme.com"}, 86400, false}));
  UserIn("alice", "alice@acme.com", "acme");
  auto token = PersonalToken(Login("alice", "password"), "alice");
  ASSERT_TRUE(Allowed(Check(token, "acme")));

  PolicyUpdate sso = SsoOnly();
  sso.personal_tokens_require_allowed_auth_method = true;
  Policy("acme", sso);
  EXPECT_TRUE(DeniedBy(Check(token, "acme"), "R4", "token_auth_method_not_allowed"));

  PolicyUpdate password_back;
  password_back.password_auth_enabled = true;
  Policy("acme", password_back);
  EXPECT_TRUE(Allowed(Check(token, "acme"))) << "the rule is soft: loosening restores the token";
}

TEST_F(Story, APasswordTokenDeniedByOneOrgKeepsWorkingForAnotherOrgThatAllowsPassword) {
  ManagedOrg("acme", "acme.com");
  Must(engine_->AddIdp(admin_, "acme", {"acme-sso", "Acme SSO", {"acme.com"}, 86400, false}));
  Must(engine_->CreateOrganization(admin_, "partner", "Partner Ltd"));
  UserIn("alice", "alice@acme.com", "acme");
  Must(engine_->AddMember(admin_, "partner", "alice"));
  auto token = PersonalToken(Login("alice", "password"), "alice");

  PolicyUpdate sso = SsoOnly();
  sso.personal_tokens_require_allowed_auth_method = true;
  Policy("acme", sso);
  PolicyUpdate strict_partner;
  strict_partner.personal_tokens_require_allowed_auth_method = true;
  Policy("partner", strict_partner);  // requires an allowed method, and password is one

  EXPECT_TRUE(DeniedBy(Check(token, "acme"), "R4", "token_auth_method_not_allowed"));
  EXPECT_TRUE(Allowed(Check(token, "partner")));
}

// (c)
TEST_F(Story, Requiring2faDeniesPasswordSessionsWithout2faButNotThatUsersPersonalTokens) {
  ManagedOrg("acme", "acme.com");
  UserIn("alice", "alice@acme.com", "acme");
  auto session = Login("alice", "password", /*two_factor=*/false);
  auto token = PersonalToken(session, "alice");
  auto session_with_2fa = Login("alice", "password", /*two_factor=*/true);

  PolicyUpdate u;
  u.two_factor_required = true;
  Policy("acme", u);
  EXPECT_TRUE(DeniedBy(Check(session, "acme"), "R2", "mfa_required_by_organization"));
  EXPECT_TRUE(Allowed(Check(session_with_2fa, "acme")));
  EXPECT_TRUE(Allowed(Check(token, "acme"))) << "2FA is not checked for tokens";
  // A login without 2FA still succeeds (R1 does not look at 2FA); its session is denied.
  auto later = Login("alice", "password", /*two_factor=*/false);
  EXPECT_TRUE(DeniedBy(Check(later, "acme"), "R2", "mfa_required_by_organization"));
}

// (d)
class StoryTwoFactorChange : public Story {
 protected:
  void SetUp() override {
    Story::SetUp();
    ManagedOrg("acme", "acme.com");
    Must(engine_->AddIdp(admin_, "acme", {"acme-sso", "Acme SSO", {"acme.com"}, 86400, false}));
    UserIn("alice", "alice@acme.com", "acme");
    UserIn("bob", "bob@acme.com", "acme");
    password_session_ = Login("alice", "password");
    password_token_ = PersonalToken(password_session_, "alice");
    saml_session_ = Login("alice", "saml:acme-sso");
    saml_token_ = PersonalToken(saml_session_, "alice");
    oauth_token_ = PersonalToken(Login("alice", "oauth:google"), "alice");
    bobs_token_ = PersonalToken(Login("bob", "password"), "bob");
  }

  void ExpectPasswordTokensRevokedAndOthersLive() {
    EXPECT_TRUE(DeniedBy(Check(password_session_, "acme"), "live", "token_revoked"));
    EXPECT_TRUE(DeniedBy(Check(password_token_, "acme"), "live", "token_revoked"));
    EXPECT_TRUE(Allowed(Check(saml_session_, "acme")));
    EXPECT_TRUE(Allowed(Check(saml_token_, "acme")));
    EXPECT_TRUE(Allowed(Check(oauth_token_, "acme")));
    EXPECT_TRUE(Allowed(Check(bobs_token_, "acme"))) << "another user's tokens are untouched";
  }

  CreatedToken password_session_, password_token_, saml_session_, saml_token_, oauth_token_,
      bobs_token_;
};

TEST_F(StoryTwoFactorChange, EnablingTwoFactorRevokesPasswordTokensAndSessionsForGood) {
  const std::uint64_t before = Settled();
  auto revision = Must(engine_->EnableTwoFactor(Actor::User("alice"), "alice"));
  EXPECT_EQ(revision, before + 3) << "the 2FA event and two revocations, in one batch";
  ExpectPasswordTokensRevokedAndOthersLive();

  // Loosening the policy does not bring a revoked token back...
  PolicyUpdate loose;
  loose.two_factor_required = false;
  loose.password_auth_enabled = true;
  loose.personal_tokens_enabled = true;
  Policy("acme", loose);
  ExpectPasswordTokensRevokedAndOthersLive();
  // ...nor does reopening the engine.
  Reopen();
  ExpectPasswordTokensRevokedAndOthersLive();
  EXPECT_TRUE(DeniedBy(engine_->CanCreatePersonalToken(password_session_.token_prefix, At()), "R3",
                       "token_revoked"));
}

TEST_F(StoryTwoFactorChange, DisablingTwoFactorRevokesPasswordTokensAndSessionsForGood) {
  Must(engine_->EnableTwoFactor(Actor::User("alice"), "alice"));
  // New password credentials, made with 2FA after enabling it.
  auto session = Login("alice", "password", /*two_factor=*/true);
  auto token = PersonalToken(session, "alice");
  ASSERT_TRUE(Allowed(Check(token, "acme")));

  Must(engine_->DisableTwoFactor(Actor::User("alice"), "alice"));
  EXPECT_TRUE(DeniedBy(Check(session, "acme"), "live", "token_revoked"));
  EXPECT_TRUE(DeniedBy(Check(token, "acme"), "live", "token_revoked"));
  EXPECT_TRUE(Allowed(Check(saml_token_, "acme")));
  Reopen();
  EXPECT_TRUE(DeniedBy(Check(token, "acme"), "live", "token_revoked"));
  EXPECT_TRUE(Allowed(Check(saml_session_, "acme")));
  EXPECT_TRUE(Allowed(Check(saml_token_, "acme")));
}

TEST_F(StoryTwoFactorChange, PasswordCredentialsMadeAfterTheChangeWork) {
  Must(engine_->EnableTwoFactor(Actor::User("alice"), "alice"));
  auto token = PersonalToken(Login("alice", "password", true), "alice");
  EXPECT_TRUE(Allowed(Check(token, "acme")));
}

TEST_F(StoryTwoFactorChange, SettingTwoFactorToWhatItIsAlreadyIsRefusedAndRevokesNothing) {
  const std::uint64_t before = Settled();
  auto r = engine_->DisableTwoFactor(Actor::User("alice"), "alice");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), "two_factor_already_disabled");
  EXPECT_EQ(Settled(), before);
  EXPECT_TRUE(Allowed(Check(password_token_, "acme")));
}

// (e)
TEST_F(Story, PersonalTokensDisabledByAnOrgBindItsManagedUsersAtCreationAndEveryoneAtUse) {
  ManagedOrg("acme", "acme.com");
  Must(engine_->CreateOrganization(admin_, "partner", "Partner Ltd"));
  UserIn("alice", "alice@acme.com", "acme");
  UserIn("bob", "bob@gmail.com", "acme");
  Must(engine_->AddMember(admin_, "partner", "bob"));
  auto alice_session = Login("alice", "password");
  auto bob_session = Login("bob", "password");

  PolicyUpdate u;
  u.personal_tokens_enabled = false;
  Policy("acme", u);

  // alice is managed by acme: she cannot even create one.
  const std::uint64_t before = Settled();
  auto refused = engine_->CreatePersonalToken(Actor::User("alice"), alice_session.token_prefix, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().reason(), "user_personal_token_not_allowed");
  EXPECT_EQ(Settled(), before);
  EXPECT_FALSE(engine_->CanCreatePersonalToken(alice_session.token_prefix, At()).allowed);

  // bob is managed by nobody: he creates one, which acme refuses and partner accepts.
  EXPECT_TRUE(Allowed(engine_->CanCreatePersonalToken(bob_session.token_prefix, At())));
  auto bobs = PersonalToken(bob_session, "bob");
  EXPECT_TRUE(DeniedBy(Check(bobs, "acme"), "R4", "user_personal_token_not_allowed"));
  EXPECT_TRUE(Allowed(Check(bobs, "partner")));
}

// (f)
class StoryCrossOrgSaml : public Story {
 protected:
  // dave@beta.com is managed by beta and logs in through beta's IdP; he is a member of
  // both alpha and beta.
  void SetUp() override {
    Story::SetUp();
    ManagedOrg("alpha", "alpha.com");
    ManagedOrg("beta", "beta.com");
    Must(engine_->AddIdp(admin_, "beta", {"beta-sso", "Beta SSO", {"beta.com"}, 86400, false}));
    UserIn("dave", "dave@beta.com", "beta");
    Must(engine_->AddMember(admin_, "alpha", "dave"));
    session_ = Login("dave", "saml:beta-sso");
  }
  CreatedToken session_;
};

TEST_F(StoryCrossOrgSaml, ASessionThroughAnotherOrgsIdpReachesAnOrgOnlyWithSamlAllowExternal) {
  EXPECT_TRUE(Allowed(Check(session_, "alpha")));
  PolicyUpdate no_external;
  no_external.saml_allow_external = false;
  Policy("alpha", no_external);
  EXPECT_TRUE(
      DeniedBy(Check(session_, "alpha"), "R2", "user_saml_authentication_method_not_allowed"));
  EXPECT_TRUE(Allowed(Check(session_, "beta")));
  PolicyUpdate external;
  external.saml_allow_external = true;
  Policy("alpha", external);
  EXPECT_TRUE(Allowed(Check(session_, "alpha")));
}

TEST_F(StoryCrossOrgSaml, ASessionThroughAnotherOrgsIdpNeedsMembershipInThatOrg) {
  Must(engine_->RemoveMember(admin_, "beta", "dave"));
  EXPECT_TRUE(
      DeniedBy(Check(session_, "alpha"), "R2", "user_saml_authentication_method_not_allowed"));
  EXPECT_TRUE(DeniedBy(Check(session_, "beta"), "R2", "not_a_member"));
  Must(engine_->AddMember(admin_, "beta", "dave"));
  EXPECT_TRUE(Allowed(Check(session_, "alpha")));
}

TEST_F(StoryCrossOrgSaml, NothingPassesThroughAnIdpAfterItIsRemoved) {
  auto token = PersonalToken(session_, "dave");
  Must(engine_->RemoveIdp(admin_, "beta", "beta-sso"));
  EXPECT_TRUE(
      DeniedBy(Check(session_, "alpha"), "R2", "user_saml_authentication_method_not_allowed"));
  EXPECT_TRUE(
      DeniedBy(Check(session_, "beta"), "R2", "user_saml_authentication_method_not_allowed"));
  // Personal tokens made through it fail where an allowed method is required.
  PolicyUpdate strict;
  strict.personal_tokens_require_allowed_auth_method = true;
  Policy("alpha", strict);
  EXPECT_TRUE(DeniedBy(Check(token, "alpha"), "R4", "token_auth_method_not_allowed"));
  // Loosening every SAML setting does not bring the IdP back, nor does reopening.
  PolicyUpdate loose;
  loose.saml_enabled = true;
  loose.saml_allow_external = true;
  Policy("alpha", loose);
  Reopen();
  EXPECT_TRUE(
      DeniedBy(Check(session_, "alpha"), "R2", "user_saml_authentication_method_not_allowed"));
  auto login = engine_->RecordLogin(Actor::User("dave"), {"dave", "saml:beta-sso", false});
  ASSERT_FALSE(login.ok());
  EXPECT_EQ(login.status().reason(), "user_saml_authentication_method_not_allowed");
}

// (g)
TEST_F(Story, ApplicationTokensIgnoreThePolicyButObeyTheIpAllowlist) {
  ManagedOrg("acme", "acme.com");
  Must(engine_->AddIdp(admin_, "acme", {"acme-sso", "Acme SSO", {"acme.com"}, 86400, false}));
  Must(engine_->CreateApplicationUser(admin_, "acme", "deployer", "CI deployer"));
  TokenSpec spec;
  spec.ip_allowlist = {"198.51.100.0/25"};
  auto token = Must(engine_->CreateApplicationToken(admin_, "acme", "deployer", spec));

  PolicyUpdate strict = SsoOnly();
  strict.two_factor_required = true;
  strict.saml_allow_external = false;
  strict.personal_tokens_enabled = false;
  strict.personal_tokens_require_allowed_auth_method = true;
  Policy("acme", strict);
  EXPECT_TRUE(Allowed(Check(token, "acme", "198.51.100.10")));
  EXPECT_TRUE(DeniedBy(Check(token, "acme", "198.51.100.200"), "R5", "token_ip_not_allowed"));

  Must(engine_->UpdateIpAllowlist(admin_, "acme", true, {"198.51.100.0/30"}));
  EXPECT_TRUE(Allowed(Check(token, "acme", "198.51.100.2")));
  EXPECT_TRUE(
      DeniedBy(Check(token, "acme", "198.51.100.10"), "R5", "client_ip_address_policy_violation"));
  Must(engine_->UpdateIpAllowlist(admin_, "acme", false, {}));
  EXPECT_TRUE(Allowed(Check(token, "acme", "198.51.100.10")));
}

// (h)
TEST_F(Story, OfConcurrentPolicyUpdatesExpectingTheSameVersionExactlyOneWins) {
  ManagedOrg("acme", "acme.com");
  const std::uint64_t before = Settled();
  const std::uint64_t version = Must(engine_->GetPolicy("acme")).version;
  constexpr int kThreads = 8;
  std::vector<Status> outcomes(kThreads);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      PolicyUpdate u;
      u.expected_version = version;
      u.two_factor_required = i % 2 == 0;
      u.oauth_enabled = i % 3 != 0;
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();
      auto r = engine_->UpdatePolicy(admin_, "acme", u);
      outcomes[static_cast<std::size_t>(i)] = r.ok() ? Status::Ok() : r.status();
    });
  }
  for (auto& t : threads) t.join();

  int won = 0;
  for (const Status& s : outcomes) {
    if (s.ok()) {
      ++won;
    } else {
      EXPECT_EQ(s.code(), Status::Code::kConflict) << s.ToString();
      EXPECT_EQ(s.reason(), "conflict") << s.ToString();
    }
  }
  EXPECT_EQ(won, 1);
  EXPECT_EQ(Must(engine_->GetPolicy("acme")).version, version + 1);
  EXPECT_EQ(Settled(), before + 1) << "only the winner appended";
}

// (i)
class StoryDryRun : public Story {
 protected:
  // acme lists only google and requires personal tokens to have been made with an allowed
  // method. bob (not managed) holds a password token and session, which are allowed,
  // and a github token and session, which are not.
  void SetUp() override {
    Story::SetUp();
    ManagedOrg("acme", "acme.com");
    UserIn("bob", "bob@gmail.com", "acme");
    password_session_ = Login("bob", "password");
    password_token_ = PersonalToken(password_session_, "bob");
    github_session_ = Login("bob", "oauth:github");
    github_token_ = PersonalToken(github_session_, "bob");
    google_token_ = PersonalToken(Login("bob", "oauth:google"), "bob");
    Must(engine_->CreateApplicationUser(admin_, "acme", "deployer", "CI"));
    app_token_ = Must(engine_->CreateApplicationToken(admin_, "acme", "deployer", {}));
    PolicyUpdate u;
    u.oauth_providers = std::vector<std::string>{"google"};
    u.personal_tokens_require_allowed_auth_method = true;
    Policy("acme", u);
  }

  // Password off, github back: the password credentials lose, the github ones gain.
  static PolicyUpdate Proposal() {
    PolicyUpdate u;
    u.password_auth_enabled = false;
    u.oauth_providers = std::vector<std::string>{"github", "google"};
    return u;
  }

  using Row = std::tuple<std::string, std::string, bool, std::string, bool, std::string>;
  static std::vector<Row> Rows(const std::vector<ImpactEntry>& impact) {
    std::vector<Row> rows;
    for (const auto& e : impact) {
      rows.emplace_back(e.token_prefix, e.org_id, e.allowed_before, e.reason_before,
                        e.allowed_after, e.reason_after);
      EXPECT_EQ(e.user_id, "bob") << e.token_prefix;
    }
    std::sort(rows.begin(), rows.end());
    return rows;
  }
  std::vector<Row> Expected() const {
    std::vector<Row> rows = {
        {password_session_.token_prefix, "acme", true, "ok", false,
         "user_password_authentication_method_not_allowed"},
        {password_token_.token_prefix, "acme", true, "ok", false, "token_auth_method_not_allowed"},
        {github_session_.token_prefix, "acme", false,
         "user_oauth_authentication_method_not_allowed", true, "ok"},
        {github_token_.token_prefix, "acme", false, "token_auth_method_not_allowed", true, "ok"},
    };
    std::sort(rows.begin(), rows.end());
    return rows;
  }

  CreatedToken password_session_, password_token_, github_session_, github_token_, google_token_,
      app_token_;
};

TEST_F(StoryDryRun, ADryRunReportsEveryTokenWhoseDecisionFlipsBothWaysAndAppendsNothing) {
  const std::uint64_t before = Settled();
  const AuthenticationPolicy current = Must(engine_->GetPolicy("acme"));
  auto dry = Must(engine_->DryRunPolicy(admin_, "acme", Proposal()));
  EXPECT_EQ(Rows(dry.impact), Expected());
  EXPECT_EQ(dry.revision, 0u);
  EXPECT_EQ(dry.before, current);
  EXPECT_FALSE(dry.after.password_auth_enabled);
  EXPECT_EQ(dry.after.version, current.version + 1);

  EXPECT_EQ(Settled(), before) << "a dry run appends nothing";
  EXPECT_EQ(Must(engine_->GetPolicy("acme")), current);
  EXPECT_TRUE(Allowed(Check(password_token_, "acme")));
  EXPECT_TRUE(DeniedBy(Check(github_token_, "acme"), "R4", "token_auth_method_not_allowed"));
}

TEST_F(StoryDryRun, TheImpactUpdatePolicyReturnsMatchesTheDryRunAndTheChecksThatFollow) {
  auto dry = Must(engine_->DryRunPolicy(admin_, "acme", Proposal()));
  const std::uint64_t before = Settled();
  auto applied = Policy("acme", Proposal());
  EXPECT_EQ(applied.revision, before + 1);
  EXPECT_EQ(Rows(applied.impact), Rows(dry.impact));
  EXPECT_EQ(applied.after, dry.after);
  EXPECT_EQ(applied.before, dry.before);
  EXPECT_EQ(Must(engine_->GetPolicy("acme")), dry.after);

  EXPECT_TRUE(DeniedBy(Check(password_session_, "acme"), "R2",
                       "user_password_authentication_method_not_allowed"));
  EXPECT_TRUE(DeniedBy(Check(password_token_, "acme"), "R4", "token_auth_method_not_allowed"));
  EXPECT_TRUE(Allowed(Check(github_session_, "acme")));
  EXPECT_TRUE(Allowed(Check(github_token_, "acme")));
  EXPECT_TRUE(Allowed(Check(google_token_, "acme")));
  EXPECT_TRUE(Allowed(Check(app_token_, "acme")));
}

TEST_F(StoryDryRun, ADryRunIsRefusedForTheSameReasonsAsTheUpdate) {
  PolicyUpdate stale = Proposal();
  stale.expected_version = 1;  // the SetUp update moved acme to version 2
  auto r = engine_->DryRunPolicy(admin_, "acme", stale);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), "conflict");
  PolicyUpdate none;
  none.password_auth_enabled = false;
  none.oauth_enabled = false;
  none.saml_enabled = false;
  auto n = engine_->DryRunPolicy(admin_, "acme", none);
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().reason(), "no_authentication_method_enabled");
}

// (j)
TEST_F(Story, DeletingAnApplicationUserRevokesItsTokens) {
  ManagedOrg("acme", "acme.com");
  Must(engine_->CreateApplicationUser(admin_, "acme", "deployer", "CI deployer"));
  Must(engine_->CreateApplicationUser(admin_, "acme", "monitor", "Monitoring"));
  auto first = Must(engine_->CreateApplicationToken(admin_, "acme", "deployer", {}));
  auto second = Must(engine_->CreateApplicationToken(admin_, "acme", "deployer", {}));
  auto other = Must(engine_->CreateApplicationToken(admin_, "acme", "monitor", {}));
  ASSERT_TRUE(Allowed(Check(first, "acme")));

  const std::uint64_t before = Settled();
  auto revision = Must(engine_->DeleteApplicationUser(admin_, "acme", "deployer"));
  EXPECT_EQ(revision, before + 3) << "the deletion and two revocations, in one batch";
  EXPECT_TRUE(DeniedBy(Check(first, "acme"), "live", "token_revoked"));
  EXPECT_TRUE(DeniedBy(Check(second, "acme"), "live", "token_revoked"));
  EXPECT_TRUE(Allowed(Check(other, "acme")));
  auto again = engine_->CreateApplicationToken(admin_, "acme", "deployer", {});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().reason(), "unknown_application_user");
  Reopen();
  EXPECT_TRUE(DeniedBy(Check(first, "acme"), "live", "token_revoked"));
  EXPECT_TRUE(Allowed(Check(other, "acme")));
}

}  // namespace
}  // namespace authledger::testing
