// The rules of the authentication policy (DESIGN §3), one by one, through the public
// Engine API: allowed(m, O), R1 login, R2 sessions, R3 creating personal tokens, R4
// personal tokens, R5 application tokens, "token live", user state, and the reason codes
// of refused commands. Every rule is shown holding (allowed) and failing (the exact
// reason code and rule). A refused command appends nothing; a refused login appends
// exactly its LoginRejected record.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tests/engine/rules_fixture.h"

namespace authledger::testing {
namespace {

// ---------------------------------------------------------------------------------------
// allowed(m, O), seen through R2 (a session presented to O).

using RulesAllowedMethod = Rules;

TEST_F(RulesAllowedMethod, PasswordIsAllowedWhilePasswordAuthIsEnabled) {
  auto session = Login("bob", "password");
  EXPECT_TRUE(Allowed(Check(session, "acme")));
}

TEST_F(RulesAllowedMethod, PasswordIsNotAllowedWhenPasswordAuthIsDisabled) {
  auto session = Login("bob", "password");
  PolicyUpdate u;
  u.password_auth_enabled = false;
  Policy("acme", u);
  EXPECT_TRUE(DeniedBy(Check(session, "acme"), "R2", kPasswordNotAllowed));
}

TEST_F(RulesAllowedMethod, EveryOauthProviderIsAllowedByDefault) {
  for (const char* method : {"oauth:google", "oauth:microsoft", "oauth:github"}) {
    auto session = Login("bob", method);
    EXPECT_TRUE(Allowed(Check(session, "acme"))) << method;
  }
}

TEST_F(RulesAllowedMethod, NoOauthProviderIsAllowedWhenOauthIsDisabled) {
  std::vector<CreatedToken> sessions;
  for (const char* method : {"oauth:google", "oauth:microsoft", "oauth:github"}) {
    sessions.push_back(Login("bob", method));
  }
  PolicyUpdate u;
  u.oauth_enabled = false;
  Policy("acme", u);
  for (const auto& session : sessions) {
    EXPECT_TRUE(DeniedBy(Check(session, "acme"), "R2", kOauthNotAllowed));
  }
}

TEST_F(RulesAllowedMethod, OnlyTheListedOauthProvidersAreAllowed) {
  auto google = Login("bob", "oauth:google");
  auto microsoft = Login("bob", "oauth:microsoft");
  auto github = Login("bob", "oauth:github");
  PolicyUpdate u;
  u.oauth_providers = std::vector<std::string>{"google"};
  Policy("acme", u);
  EXPECT_TRUE(Allowed(Check(google, "acme")));
  EXPECT_TRUE(DeniedBy(Check(microsoft, "acme"), "R2", kOauthNotAllowed));
  EXPECT_TRUE(DeniedBy(Check(github, "acme"), "R2", kOauthNotAllowed));
}

TEST_F(RulesAllowedMethod, SamlThroughTheOrganizationsOwnIdpIsAllowedWhileSamlIsEnabled) {
  auto session = Login("alice", "saml:acme-sso");
  EXPECT_TRUE(Allowed(Check(session, "acme")));
}

TEST_F(RulesAllowedMethod, SamlThroughTheOrganizationsOwnIdpIsNotAllowedWhenSamlIsDisabled) {
  auto session = Login("alice", "saml:acme-sso");
  PolicyUpdate u;
  u.saml_enabled = false;
  Policy("acme", u);
  EXPECT_TRUE(DeniedBy(Check(session, "acme"), "R2", kSamlNotAllowed));
}

TEST_F(RulesAllowedMethod, SamlThroughARemovedIdpIsNeverAllowedAgain) {
  auto session = Login("alice", "saml:acme-sso");
  Must(engine_->RemoveIdp(admin_, "acme", "acme-sso"));
  EXPECT_TRUE(DeniedBy(Check(session, "acme"), "R2", kSamlNotAllowed));
  // Re-asserting every SAML setting does not bring a removed IdP back.
  PolicyUpdate u;
  u.saml_enabled = true;
  u.saml_allow_external = true;
  Policy("acme", u);
  EXPECT_TRUE(DeniedBy(Check(session, "acme"), "R2", kSamlNotAllowed));
}

TEST_F(RulesAllowedMethod, ARemovedIdpCannotBeAddedBackUnderTheSameId) {
  auto session = Login("alice", "saml:acme-sso");
  Must(engine_->RemoveIdp(admin_, "acme", "acme-sso"));
  EXPECT_TRUE(RefusedAndNothingAppended(
      [&] {
        return engine_->AddIdp(admin_, "acme",
                               {"acme-sso", "Acme SSO", {"acme.com"}, 86400, false});
      },
      "idp_exists", Status::Code::kConflict));
  EXPECT_TRUE(DeniedBy(Check(session, "acme"), "R2", kSamlNotAllowed));
}

TEST_F(RulesAllowedMethod, SamlThroughAnotherOrgsIdpIsAllowedForItsMembersWithSamlAllowExternal) {
  auto session = Login("carol", "saml:beta-sso");
  EXPECT_TRUE(Allowed(Check(session, "acme")));  // saml_allow_external is on by default
}

TEST_F(RulesAllowedMethod, SamlThroughAnotherOrgsIdpIsNotAllowedWithoutSamlAllowExternal) {
  auto session = Login("carol", "saml:beta-sso");
  PolicyUpdate u;
  u.saml_allow_external = false;
  Policy("acme", u);
  EXPECT_TRUE(DeniedBy(Check(session, "acme"), "R2", kSamlNotAllowed));
  EXPECT_TRUE(Allowed(Check(session, "beta"))) << "beta's own IdP is not external to beta";
}

TEST_F(RulesAllowedMethod, SamlThroughAnotherOrgsIdpIsNotAllowedWhenSamlIsDisabled) {
  auto session = Login("carol", "saml:beta-sso");
  PolicyUpdate u;
  u.saml_enabled = false;
  Policy("acme", u);
  EXPECT_TRUE(DeniedBy(Check(session, "acme"), "R2", kSamlNotAllowed));
}

TEST_F(RulesAllowedMethod, SamlThroughAnotherOrgsIdpIsNotAllowedOnceTheUserLeavesThatOrg) {
  auto session = Login("carol", "saml:beta-sso");
  Must(engine_->RemoveMember(admin_, "beta", "carol"));
  EXPECT_TRUE(DeniedBy(Check(session, "acme"), "R2", kSamlNotAllowed));
  Must(engine_->AddMember(admin_, "beta", "carol"));
  EXPECT_TRUE(Allowed(Check(session, "acme"))) << "membership is read at each check";
}

TEST_F(RulesAllowedMethod, SamlThroughAnotherOrgsIdpIsNotAllowedAfterThatIdpIsRemoved) {
  auto session = Login("carol", "saml:beta-sso");
  Must(engine_->RemoveIdp(admin_, "beta", "beta-sso"));
  EXPECT_TRUE(DeniedBy(Check(session, "acme"), "R2", kSamlNotAllowed));
}

// ---------------------------------------------------------------------------------------
// R1: logins.

using RulesR1Login = Rules;

TEST_F(RulesR1Login, AnActiveManagedUserLogsInWithAMethodTheManagingOrgAllows) {
  const std::uint64_t before = Settled();
  auto r = engine_->RecordLogin(Actor::User("alice"), {"alice", "password", false});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->secret.empty());
  EXPECT_EQ(r->revision, before + 1);
  EXPECT_TRUE(Allowed(Check(*r, "acme")));
}

TEST_F(RulesR1Login, ADeactivatedUserCannotLogIn) {
  Must(engine_->DeactivateUser(admin_, "acme", "alice"));
  EXPECT_TRUE(LoginRejectedAndRecorded("alice", "password", "user_deactivated"));
  EXPECT_TRUE(LoginRejectedAndRecorded("alice", "saml:acme-sso", "user_deactivated"));
}

TEST_F(RulesR1Login, AManagedUserCannotLogInWithPasswordWhenTheManagingOrgDisablesIt) {
  PolicyUpdate u;
  u.password_auth_enabled = false;
  Policy("acme", u);
  EXPECT_TRUE(LoginRejectedAndRecorded("alice", "password", kPasswordNotAllowed));
  EXPECT_TRUE(LoginRejectedAndRecorded("alice", "password", kPasswordNotAllowed, true))
      << "2FA does not make a disabled method allowed";
}

TEST_F(RulesR1Login, AManagedUserCannotLogInWithOauthWhenTheManagingOrgDisablesIt) {
  PolicyUpdate u;
  u.oauth_enabled = false;
  Policy("acme", u);
  EXPECT_TRUE(LoginRejectedAndRecorded("alice", "oauth:google", kOauthNotAllowed));
}

TEST_F(RulesR1Login, AManagedUserCannotLogInWithAnOauthProviderTheManagingOrgDoesNotList) {
  PolicyUpdate u;
  u.oauth_providers = std::vector<std::string>{"microsoft"};
  Policy("acme", u);
  EXPECT_TRUE(LoginRejectedAndRecorded("alice", "oauth:github", kOauthNotAllowed));
  EXPECT_TRUE(Login("alice", "oauth:microsoft").revision > 0);
}

TEST_F(RulesR1Login, AManagedUserCannotLogInWithSamlWhenTheManagingOrgDisablesIt) {
  PolicyUpdate u;
  u.saml_enabled = false;
  Policy("acme", u);
  EXPECT_TRUE(LoginRejectedAndRecorded("alice", "saml:acme-sso", kSamlNotAllowed));
}

TEST_F(RulesR1Login, AManagedUserCannotLogInThroughAnotherOrgsIdpWithoutSamlAllowExternal) {
  // alice is managed by acme and joins beta; beta's IdP is external to acme.
  Must(engine_->AddMember(admin_, "beta", "alice"));
  Login("alice", "saml:beta-sso");
  PolicyUpdate u;
  u.saml_allow_external = false;
  Policy("acme", u);
  EXPECT_TRUE(LoginRejectedAndRecorded("alice", "saml:beta-sso", kSamlNotAllowed));
}

TEST_F(RulesR1Login, AManagedUserCannotLogInThroughARemovedIdp) {
  Must(engine_->RemoveIdp(admin_, "acme", "acme-sso"));
  EXPECT_TRUE(LoginRejectedAndRecorded("alice", "saml:acme-sso", kSamlNotAllowed));
}

TEST_F(RulesR1Login, ANonManagedUserIsNotBoundByTheOrgsPolicyAtLogin) {
  PolicyUpdate u;
  u.password_auth_enabled = false;
  u.oauth_enabled = false;
  Policy("acme", u);
  auto session = Login("bob", "password");  // bob@gmail.com: no organization manages him
  EXPECT_FALSE(session.secret.empty());
  // ...but the session does not reach acme: R2 reads acme's policy.
  EXPECT_TRUE(DeniedBy(Check(session, "acme"), "R2", kPasswordNotAllowed));
}

TEST_F(RulesR1Login, OnlyTheManagingOrgsPolicyBindsALogin) {
  // alice is a member of beta too, which disables password; acme (managing) allows it.
  Must(engine_->AddMember(admin_, "beta", "alice"));
  PolicyUpdate u;
  u.password_auth_enabled = false;
  Policy("beta", u);
  auto session = Login("alice", "password");
  EXPECT_TRUE(Allowed(Check(session, "acme")));
  EXPECT_TRUE(DeniedBy(Check(session, "beta"), "R2", kPasswordNotAllowed));
}

TEST_F(RulesR1Login, ANonManagedUserCannotLogInThroughARemovedIdp) {
  Must(engine_->RemoveIdp(admin_, "acme", "acme-sso"));
  EXPECT_TRUE(LoginRejectedAndRecorded("bob", "saml:acme-sso", kSamlNotAllowed));
}

TEST_F(RulesR1Login, EachRejectedLoginIsRecordedAsOneEvent) {
  PolicyUpdate u;
  u.password_auth_enabled = false;
  Policy("acme", u);
  const std::uint64_t before = Settled();
  for (int i = 0; i < 3; ++i) {
    auto r = engine_->RecordLogin(Actor::User("alice"), {"alice", "password", false});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Status::Code::kDenied);
    EXPECT_EQ(r.status().reason(), kPasswordNotAllowed);
  }
  EXPECT_EQ(Settled(), before + 3);
}

TEST_F(RulesR1Login, AMalformedLoginIsRefusedAndNotRecorded) {
  EXPECT_TRUE(RefusedAndNothingAppended(
      [&] {
        return engine_->RecordLogin(Actor::User("alice"), {"alice", "oauth:myspace", false});
      },
      "unknown_authentication_method", Status::Code::kInvalidArgument));
}

// ---------------------------------------------------------------------------------------
// R2: a session presented to an organization.

using RulesR2 = Rules;

TEST_F(RulesR2, ASessionOfAMemberIsAllowedAndTheDecisionNamesWhatItConcerns) {
  auto session = Login("alice", "password");
  Decision d = Check(session, "acme");
  EXPECT_TRUE(Allowed(d));
  EXPECT_EQ(d.rule, "R2");
  EXPECT_EQ(d.token_prefix, session.token_prefix);
  EXPECT_EQ(d.user_id, "alice");
  EXPECT_EQ(d.org_id, "acme");
  EXPECT_EQ(d.revision, session.revision);
}

TEST_F(RulesR2, ASessionIsDeniedAtAnOrganizationTheUserIsNotAMemberOf) {
  auto session = Login("alice", "password");
  EXPECT_TRUE(DeniedBy(Check(session, "beta"), "R2", "not_a_member"));
}

TEST_F(RulesR2, ASessionPresentedToAnUnknownOrganizationIsDenied) {
  auto session = Login("alice", "password");
  EXPECT_TRUE(DeniedBy(Check(session, "no-such-org"), "R2", "unknown_organization"));
}

TEST_F(RulesR2, ASessionIsDeniedOnceTheUserIsRemovedFromTheOrganization) {
  auto session = Login("bob", "oauth:github");
  Must(engine_->RemoveMember(admin_, "acme", "bob"));
  EXPECT_TRUE(DeniedBy(Check(session, "acme"), "R2", "not_a_member"));
}

TEST_F(RulesR2, EachMethodOfASessionMustBeAllowedNow) {
  auto password = Login("bob", "password");
  auto oauth = Login("bob", "oauth:google");
  auto saml = Login("alice", "saml:acme-sso");
  PolicyUpdate off;
  off.password_auth_enabled = false;
  off.oauth_enabled = false;
  off.saml_enabled = false;
  // All three off would be refused; take them away one method at a time instead.
  PolicyUpdate no_password;
  no_password.password_auth_enabled = false;
  Policy("acme", no_password);
  EXPECT_TRUE(DeniedBy(Check(password, "acme"), "R2", kPasswordNotAllowed));
  EXPECT_TRUE(Allowed(Check(oauth, "acme")));
  EXPECT_TRUE(Allowed(Check(saml, "acme")));

  PolicyUpdate no_oauth;
  no_oauth.password_auth_enabled = true;
  no_oauth.oauth_enabled = false;
  Policy("acme", no_oauth);
  EXPECT_TRUE(Allowed(Check(password, "acme")));
  EXPECT_TRUE(DeniedBy(Check(oauth, "acme"), "R2", kOauthNotAllowed));
  EXPECT_TRUE(Allowed(Check(saml, "acme")));

  PolicyUpdate no_saml;
  no_saml.oauth_enabled = true;
  no_saml.saml_enabled = false;
  Policy("acme", no_saml);
  EXPECT_TRUE(Allowed(Check(password, "acme")));
  EXPECT_TRUE(Allowed(Check(oauth, "acme")));
  EXPECT_TRUE(DeniedBy(Check(saml, "acme"), "R2", kSamlNotAllowed));

  EXPECT_TRUE(RefusedAndNothingAppended([&] { return SetPolicy("acme", off); },
                                        "no_authentication_method_enabled", Status::Code::kDenied));
}

TEST_F(RulesR2, PasswordSessionWithout2faIsDeniedWhenOrgRequires2fa) {
  auto session = Login("alice", "password", /*two_factor=*/false);
  PolicyUpdate u;
  u.two_factor_required = true;
  Policy("acme", u);
  EXPECT_TRUE(DeniedBy(Check(session, "acme"), "R2", "mfa_required_by_organization"));
}

TEST_F(RulesR2, PasswordSessionThatUsed2faIsAllowedWhenOrgRequires2fa) {
  auto session = Login("alice", "password", /*two_factor=*/true);
  PolicyUpdate u;
  u.two_factor_required = true;
  Policy("acme", u);
  EXPECT_TRUE(Allowed(Check(session, "acme")));
}

TEST_F(RulesR2, TheTwoFactorRequirementConcernsPasswordSessionsOnly) {
  auto oauth = Login("bob", "oauth:microsoft");
  auto saml = Login("alice", "saml:acme-sso");
  PolicyUpdate u;
  u.two_factor_required = true;
  Policy("acme", u);
  EXPECT_TRUE(Allowed(Check(oauth, "acme")));
  EXPECT_TRUE(Allowed(Check(saml, "acme")));
}

TEST_F(RulesR2, ASessionFromOutsideTheOrgIpAllowlistIsDenied) {
  auto session = Login("alice", "password");
  Must(engine_->UpdateIpAllowlist(admin_, "acme", true, {kOfficeRange, "2001:db8::/32"}));
  EXPECT_TRUE(DeniedBy(Check(session, "acme", kElsewhereIp), "R2", kIpViolation));
  EXPECT_TRUE(DeniedBy(Check(session, "acme", "2001:db9::1"), "R2", kIpViolation));
  EXPECT_TRUE(DeniedBy(Check(session, "acme", ""), "R2", kIpViolation))
      << "an unknown address fails any allowlist";
}

TEST_F(RulesR2, ASessionFromInsideTheOrgIpAllowlistIsAllowed) {
  auto session = Login("alice", "password");
  Must(engine_->UpdateIpAllowlist(admin_, "acme", true, {kOfficeRange, "2001:db8::/32"}));
  EXPECT_TRUE(Allowed(Check(session, "acme", kOfficeIp)));
  EXPECT_TRUE(Allowed(Check(session, "acme", "2001:db8::42")));
  EXPECT_TRUE(Allowed(Check(session, "acme", "::ffff:198.51.100.9")))
      << "an IPv4-mapped IPv6 address matches its IPv4 range";
}

TEST_F(RulesR2, AnotherOrgsIpAllowlistDoesNotApply) {
  auto session = Login("carol", "password");
  Must(engine_->UpdateIpAllowlist(admin_, "beta", true, {kOfficeRange}));
  EXPECT_TRUE(Allowed(Check(session, "acme", kElsewhereIp)));
  EXPECT_TRUE(DeniedBy(Check(session, "beta", kElsewhereIp), "R2", kIpViolation));
}

TEST_F(RulesR2, ADisabledIpAllowlistLetsEveryAddressThrough) {
  auto session = Login("alice", "password");
  Must(engine_->UpdateIpAllowlist(admin_, "acme", true, {kOfficeRange}));
  ASSERT_TRUE(DeniedBy(Check(session, "acme", kElsewhereIp), "R2", kIpViolation));
  Must(engine_->UpdateIpAllowlist(admin_, "acme", false, {kOfficeRange}));
  EXPECT_TRUE(Allowed(Check(session, "acme", kElsewhereIp)));
}

TEST_F(RulesR2, AnEndedSessionIsRevoked) {
  auto session = Login("alice", "password");
  Must(engine_->EndSession(Actor::User("alice"), session.token_prefix));
  EXPECT_TRUE(DeniedBy(Check(session, "acme"), "live", "token_revoked"));
}

// ---------------------------------------------------------------------------------------
// R3: creating a personal token.

using RulesR3 = Rules;

TEST_F(RulesR3, AManagedUserCreatesPersonalTokensWhileTheManagingOrgEnablesThem) {
  auto session = Login("alice", "password");
  Decision d = engine_->CanCreatePersonalToken(session.token_prefix, At());
  EXPECT_TRUE(Allowed(d));
  EXPECT_EQ(d.rule, "R3");
  auto token = engine_->CreatePersonalToken(Actor::User("alice"), session.token_prefix, {});
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  EXPECT_TRUE(Allowed(Check(*token, "acme")));
}

TEST_F(RulesR3, AManagedUserCannotCreateAPersonalTokenWhenTheManagingOrgDisablesThem) {
  auto session = Login("alice", "password");
  PolicyUpdate u;
  u.personal_tokens_enabled = false;
  Policy("acme", u);
  Decision d = engine_->CanCreatePersonalToken(session.token_prefix, At());
  EXPECT_TRUE(DeniedBy(d, "R3", "user_personal_token_not_allowed"));
  EXPECT_EQ(d.org_id, "acme");
  EXPECT_TRUE(RefusedAndNothingAppended(
      [&] { return engine_->CreatePersonalToken(Actor::User("alice"), session.token_prefix, {}); },
      "user_personal_token_not_allowed", Status::Code::kDenied));
}

TEST_F(RulesR3, ANonManagedUserCreatesPersonalTokensWhateverTheOrgsTheyBelongTo) {
  auto session = Login("bob", "password");
  PolicyUpdate u;
  u.personal_tokens_enabled = false;
  Policy("acme", u);
  EXPECT_TRUE(Allowed(engine_->CanCreatePersonalToken(session.token_prefix, At())));
  auto token = engine_->CreatePersonalToken(Actor::User("bob"), session.token_prefix, {});
  EXPECT_TRUE(token.ok()) << token.status().ToString();
}

TEST_F(RulesR3, OnlyTheManagingOrgCanForbidAManagedUsersPersonalTokens) {
  // carol is managed by beta and a member of acme; acme disabling them does not bind her.
  auto session = Login("carol", "password");
  PolicyUpdate u;
  u.personal_tokens_enabled = false;
  Policy("acme", u);
  EXPECT_TRUE(Allowed(engine_->CanCreatePersonalToken(session.token_prefix, At())));
  EXPECT_TRUE(engine_->CreatePersonalToken(Actor::User("carol"), session.token_prefix, {}).ok());
}

TEST_F(RulesR3, APersonalTokenNeedsALiveSession) {
  auto session = Login("alice", "password");
  Must(engine_->EndSession(Actor::User("alice"), session.token_prefix));
  EXPECT_TRUE(
      DeniedBy(engine_->CanCreatePersonalToken(session.token_prefix, At()), "R3", "token_revoked"));
  EXPECT_TRUE(RefusedAndNothingAppended(
      [&] { return engine_->CreatePersonalToken(Actor::User("alice"), session.token_prefix, {}); },
      "token_revoked", Status::Code::kDenied));
}

TEST_F(RulesR3, ADeactivatedUserCannotCreateAPersonalToken) {
  auto session = Login("alice", "password");
  Must(engine_->DeactivateUser(admin_, "acme", "alice"));
  EXPECT_TRUE(DeniedBy(engine_->CanCreatePersonalToken(session.token_prefix, At()), "R3",
                       "user_deactivated"));
  EXPECT_TRUE(RefusedAndNothingAppended(
      [&] { return engine_->CreatePersonalToken(Actor::User("alice"), session.token_prefix, {}); },
      "user_deactivated", Status::Code::kDenied));
}

TEST_F(RulesR3, OnlyASessionCanMakePersonalTokens) {
  auto token = PersonalToken(Login("alice", "password"), "alice");
  // The check and the command give the same reason for a token that is not a session.
  EXPECT_EQ(engine_->CanCreatePersonalToken(token.token_prefix, At()).reason, "not_a_session");
  EXPECT_EQ(engine_->CanCreatePersonalToken("no-such-prefix", At()).reason, "unknown_token");
  EXPECT_TRUE(RefusedAndNothingAppended(
      [&] { return engine_->CreatePersonalToken(Actor::User("alice"), token.token_prefix, {}); },
      "not_a_session", Status::Code::kInvalidArgument));
  EXPECT_TRUE(RefusedAndNothingAppended(
      [&] { return engine_->CreatePersonalToken(Actor::User("alice"), "no-such-prefix", {}); },
      "unknown_token", Status::Code::kNotFound));
}

TEST_F(RulesR3, APersonalTokenInheritsItsSessionsMethodAndTwoFactor) {
  // Seen through R4 with personal_tokens_require_allowed_auth_method: the token made in an
  // oauth:github session fails exactly when github is no longer allowed.
  auto session = Login("bob", "oauth:github");
  auto token = PersonalToken(session, "bob");
  PolicyUpdate u;
  u.personal_tokens_require_allowed_auth_method = true;
  u.oauth_providers = std::vector<std::string>{"google"};
  Policy("acme", u);
  EXPECT_TRUE(DeniedBy(Check(token, "acme"), "R4", "token_auth_method_not_allowed"));
}

// ---------------------------------------------------------------------------------------
// R4: a personal token presented to an organization.

using RulesR4 = Rules;

TEST_F(RulesR4, APersonalTokenOfAMemberIsAllowed) {
  auto token = PersonalToken(Login("alice", "password"), "alice");
  Decision d = Check(token, "acme");
  EXPECT_TRUE(Allowed(d));
  EXPECT_EQ(d.rule, "R4");
  EXPECT_EQ(d.token_prefix, token.token_prefix);
}

TEST_F(RulesR4, APersonalTokenOutlivesTheSessionItWasMadeIn) {
  auto session = Login("alice", "password");
  auto token = PersonalToken(session, "alice");
  Must(engine_->EndSession(Actor::User("alice"), session.token_prefix));
  EXPECT_TRUE(DeniedBy(Check(session, "acme"), "live", "token_revoked"));
  EXPECT_TRUE(Allowed(Check(token, "acme")));
}

TEST_F(RulesR4, APersonalTokenIsDeniedAtAnOrganizationTheUserIsNotAMemberOf) {
  auto token = PersonalToken(Login("alice", "password"), "alice");
  EXPECT_TRUE(DeniedBy(Check(token, "beta"), "R4", "not_a_member"));
}

TEST_F(RulesR4, APersonalTokenIsDeniedFromOutsideItsOwnIpAllowlist) {
  auto token = PersonalToken(Login("alice", "password"), "alice", WithIps({"192.0.2.0/24"}));
  EXPECT_TRUE(DeniedBy(Check(token, "acme", kElsewhereIp), "R4", "token_ip_not_allowed"));
  EXPECT_TRUE(DeniedBy(Check(token, "acme", ""), "R4", "token_ip_not_allowed"));
}

TEST_F(RulesR4, APersonalTokenIsAllowedFromInsideItsOwnIpAllowlist) {
  auto token = PersonalToken(Login("alice", "password"), "alice",
                             WithIps({"192.0.2.0/24", "2001:db8::/48"}));
  EXPECT_TRUE(Allowed(Check(token, "acme", "192.0.2.77")));
  EXPECT_TRUE(Allowed(Check(token, "acme", "2001:db8:0:1::5")));
}

TEST_F(RulesR4, APersonalTokenIsDeniedFromOutsideTheOrgIpAllowlist) {
  auto token = PersonalToken(Login("alice", "password"), "alice");
  Must(engine_->UpdateIpAllowlist(admin_, "acme", true, {kOfficeRange}));
  EXPECT_TRUE(DeniedBy(Check(token, "acme", kElsewhereIp), "R4", kIpViolation));
  EXPECT_TRUE(Allowed(Check(token, "acme", kOfficeIp)));
}

TEST_F(RulesR4, APersonalTokenMustPassBothItsOwnAndTheOrgIpAllowlist) {
  auto token = PersonalToken(Login("alice", "password"), "alice", WithIps({"198.51.100.0/28"}));
  Must(engine_->UpdateIpAllowlist(admin_, "acme", true, {kOfficeRange}));
  EXPECT_TRUE(Allowed(Check(token, "acme", "198.51.100.5")));
  EXPECT_TRUE(DeniedBy(Check(token, "acme", "198.51.100.200"), "R4", "token_ip_not_allowed"));
}

TEST_F(RulesR4, PersonalTokensAreDeniedWhenTheOrgDisablesThem) {
  auto managed = PersonalToken(Login("alice", "password"), "alice");
  auto non_managed = PersonalToken(Login("bob", "password"), "bob");
  PolicyUpdate u;
  u.personal_tokens_enabled = false;
  Policy("acme", u);
  EXPECT_TRUE(DeniedBy(Check(managed, "acme"), "R4", "user_personal_token_not_allowed"));
  EXPECT_TRUE(DeniedBy(Check(non_managed, "acme"), "R4", "user_personal_token_not_allowed"));
  u.personal_tokens_enabled = true;
  Policy("acme", u);
  EXPECT_TRUE(Allowed(Check(managed, "acme"))) << "the rule is soft: re-enabling restores";
  EXPECT_TRUE(Allowed(Check(non_managed, "acme")));
}

TEST_F(RulesR4, ATokenMadeWithADisallowedMethodIsDeniedWhenTheOrgRequiresAnAllowedMethod) {
  auto token = PersonalToken(Login("bob", "password"), "bob");
  PolicyUpdate u;
  u.password_auth_enabled = false;
  u.personal_tokens_require_allowed_auth_method = true;
  Policy("acme", u);
  EXPECT_TRUE(DeniedBy(Check(token, "acme"), "R4", "token_auth_method_not_allowed"));
}

TEST_F(RulesR4, ATokenMadeWithADisallowedMethodIsAllowedWhenTheOrgDoesNotRequireAnAllowedMethod) {
  auto token = PersonalToken(Login("bob", "password"), "bob");
  PolicyUpdate u;
  u.password_auth_enabled = false;
  Policy("acme", u);
  EXPECT_TRUE(Allowed(Check(token, "acme")));
}

TEST_F(RulesR4, ATokenMadeWithAnAllowedMethodIsAllowedWhenTheOrgRequiresAnAllowedMethod) {
  auto token = PersonalToken(Login("alice", "saml:acme-sso"), "alice");
  PolicyUpdate u;
  u.password_auth_enabled = false;
  u.personal_tokens_require_allowed_auth_method = true;
  Policy("acme", u);
  EXPECT_TRUE(Allowed(Check(token, "acme")));
}

TEST_F(RulesR4, TwoFactorIsNotCheckedForPersonalTokens) {
  auto session = Login("alice", "password", /*two_factor=*/false);
  auto token = PersonalToken(session, "alice");
  PolicyUpdate u;
  u.two_factor_required = true;
  u.personal_tokens_require_allowed_auth_method = true;
  Policy("acme", u);
  EXPECT_TRUE(DeniedBy(Check(session, "acme"), "R2", "mfa_required_by_organization"));
  EXPECT_TRUE(Allowed(Check(token, "acme")));
}

// ---------------------------------------------------------------------------------------
// R5: an application token presented to an organization.

class RulesR5 : public Rules {
 protected:
  void SetUp() override {
    Rules::SetUp();
    Must(engine_->CreateApplicationUser(admin_, "acme", "deployer", "CI deployer"));
  }
  // Everything in the policy that could deny a user, at once.
  void StrictestPolicy() {
    PolicyUpdate u;
    u.password_auth_enabled = false;
    u.oauth_enabled = false;
    u.saml_allow_external = false;
    u.two_factor_required = true;
    u.personal_tokens_enabled = false;
    u.personal_tokens_require_allowed_auth_method = true;
    Policy("acme", u);
  }
};

TEST_F(RulesR5, AnApplicationTokenIsAllowedInItsOrganization) {
  auto token = AppToken("acme", "deployer");
  Decision d = Check(token, "acme");
  EXPECT_TRUE(Allowed(d));
  EXPECT_EQ(d.rule, "R5");
  EXPECT_EQ(d.user_id, "deployer");
}

TEST_F(RulesR5, AnApplicationTokenIgnoresTheAuthenticationPolicy) {
  auto token = AppToken("acme", "deployer");
  StrictestPolicy();
  EXPECT_TRUE(Allowed(Check(token, "acme")));
  // The same policy does deny a user's session and personal token.
  auto session = Login("carol", "oauth:google");
  auto personal = PersonalToken(session, "carol");
  EXPECT_TRUE(DeniedBy(Check(session, "acme"), "R2", kOauthNotAllowed));
  EXPECT_TRUE(DeniedBy(Check(personal, "acme"), "R4", "user_personal_token_not_allowed"));
}

TEST_F(RulesR5, AnApplicationTokenIsDeniedFromOutsideTheOrgIpAllowlist) {
  auto token = AppToken("acme", "deployer");
  Must(engine_->UpdateIpAllowlist(admin_, "acme", true, {kOfficeRange}));
  EXPECT_TRUE(DeniedBy(Check(token, "acme", kElsewhereIp), "R5", kIpViolation));
  EXPECT_TRUE(Allowed(Check(token, "acme", kOfficeIp)));
}

TEST_F(RulesR5, AnApplicationTokenIsDeniedFromOutsideItsOwnIpAllowlist) {
  auto token = AppToken("acme", "deployer", WithIps({"192.0.2.0/24"}));
  EXPECT_TRUE(DeniedBy(Check(token, "acme", kElsewhereIp), "R5", "token_ip_not_allowed"));
  EXPECT_TRUE(Allowed(Check(token, "acme", "192.0.2.1")));
}

TEST_F(RulesR5, AnApplicationTokenIsDeniedAtAnotherOrganization) {
  auto token = AppToken("acme", "deployer");
  EXPECT_TRUE(DeniedBy(Check(token, "beta"), "R5", "not_a_member"));
}

TEST_F(RulesR5, AnApplicationUserCannotLogIn) {
  EXPECT_TRUE(RefusedAndNothingAppended(
      [&] {
        return engine_->RecordLogin(Actor::User("deployer"), {"deployer", "password", false});
      },
      "application_user_cannot_log_in", Status::Code::kInvalidArgument));
}

TEST_F(RulesR5, AnApplicationTokenIsMadeOnlyForAnApplicationUserOfThatOrganization) {
  EXPECT_TRUE(RefusedAndNothingAppended(
      [&] { return engine_->CreateApplicationToken(admin_, "beta", "deployer", {}); },
      "unknown_application_user", Status::Code::kNotFound));
  EXPECT_TRUE(RefusedAndNothingAppended(
      [&] { return engine_->CreateApplicationToken(admin_, "acme", "alice", {}); },
      "unknown_application_user", Status::Code::kNotFound));
}

}  // namespace
}  // namespace authledger::testing
