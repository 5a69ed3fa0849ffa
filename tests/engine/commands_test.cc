// Refused commands and their reason codes: optimistic concurrency, the policy's guard
// rails, the IP allowlist's self-lockout guard, domains, and invalid input. Every refused
// command appends nothing.
#include <functional>

#include "tests/engine/rules_fixture.h"

namespace authledger::testing {
namespace {

// ---------------------------------------------------------------------------------------
// Refused commands: the reason code, and nothing appended.

using RulesCommands = Rules;

TEST_F(RulesCommands, APolicyUpdateWithAStaleExpectedVersionIsAConflict) {
  PolicyUpdate first;
  first.two_factor_required = true;
  first.expected_version = 1;
  auto change = Must(SetPolicy("acme", first));
  EXPECT_EQ(change.before.version, 1u);
  EXPECT_EQ(change.after.version, 2u);
  PolicyUpdate stale;
  stale.password_auth_enabled = false;
  stale.expected_version = 1;
  EXPECT_TRUE(RefusedAndNothingAppended([&] { return SetPolicy("acme", stale); }, "conflict",
                                        Status::Code::kConflict));
  auto policy = Must(engine_->GetPolicy("acme"));
  EXPECT_EQ(policy.version, 2u);
  EXPECT_TRUE(policy.password_auth_enabled);
}

TEST_F(RulesCommands, APolicyUpdateWithoutExpectedVersionAlwaysApplies) {
  PolicyUpdate u;
  u.oauth_enabled = false;
  Policy("acme", u);
  Policy("acme", u);
  EXPECT_EQ(Must(engine_->GetPolicy("acme")).version, 3u);
}

TEST_F(RulesCommands, APolicyUpdateIsPartial) {
  PolicyUpdate u;
  u.saml_allow_external = false;
  auto change = Must(SetPolicy("acme", u));
  AuthenticationPolicy expected;
  expected.version = 2;
  expected.saml_allow_external = false;
  EXPECT_EQ(change.after, expected);
  EXPECT_EQ(Must(engine_->GetPolicy("acme")), expected);
}

TEST_F(RulesCommands, APolicyThatAllowsNoLoginMethodIsRefused) {
  PolicyUpdate none;
  none.password_auth_enabled = false;
  none.oauth_enabled = false;
  none.saml_enabled = false;
  EXPECT_TRUE(RefusedAndNothingAppended([&] { return SetPolicy("acme", none); },
                                        "no_authentication_method_enabled", Status::Code::kDenied));
  PolicyUpdate no_providers;
  no_providers.password_auth_enabled = false;
  no_providers.oauth_providers = std::vector<std::string>{};
  no_providers.saml_enabled = false;
  EXPECT_TRUE(RefusedAndNothingAppended([&] { return SetPolicy("acme", no_providers); },
                                        "no_authentication_method_enabled", Status::Code::kDenied))
      << "oauth with no provider is no method";
  EXPECT_EQ(Must(engine_->GetPolicy("acme")), AuthenticationPolicy{});
}

TEST_F(RulesCommands, SamlAsTheOnlyMethodIsRefusedWhileTheOrgHasNoIdp) {
  Must(engine_->CreateOrganization(admin_, "gamma", "Gamma"));
  PolicyUpdate saml_only;
  saml_only.password_auth_enabled = false;
  saml_only.oauth_enabled = false;
  EXPECT_TRUE(RefusedAndNothingAppended([&] { return SetPolicy("gamma", saml_only); },
                                        "saml_only_without_idp", Status::Code::kDenied));
}

TEST_F(RulesCommands, SamlAsTheOnlyMethodWithoutAnIdpIsAcceptedWhenForced) {
  Must(engine_->CreateOrganization(admin_, "gamma", "Gamma"));
  PolicyUpdate saml_only;
  saml_only.password_auth_enabled = false;
  saml_only.oauth_enabled = false;
  saml_only.force = true;
  auto change = Must(SetPolicy("gamma", saml_only));
  EXPECT_FALSE(change.after.password_auth_enabled);
  EXPECT_FALSE(change.after.oauth_enabled);
  EXPECT_TRUE(change.after.saml_enabled);
  EXPECT_GT(change.revision, 0u);
}

TEST_F(RulesCommands, SamlAsTheOnlyMethodIsAcceptedWhenTheOrgHasAnIdp) {
  PolicyUpdate saml_only;
  saml_only.password_auth_enabled = false;
  saml_only.oauth_enabled = false;
  EXPECT_TRUE(SetPolicy("acme", saml_only).ok());
}

TEST_F(RulesCommands, AnUnknownOauthProviderIsRefused) {
  PolicyUpdate u;
  u.oauth_providers = std::vector<std::string>{"google", "facebook"};
  EXPECT_TRUE(RefusedAndNothingAppended([&] { return SetPolicy("acme", u); },
                                        "invalid_oauth_provider", Status::Code::kInvalidArgument));
}

TEST_F(RulesCommands, AnIpAllowlistThatWouldShutOutTheCallerIsRefused) {
  // admin_ calls from 198.51.100.1.
  EXPECT_TRUE(RefusedAndNothingAppended(
      [&] { return engine_->UpdateIpAllowlist(admin_, "acme", true, {"10.0.0.0/8"}); },
      "api_client_ip_allowlist_blocks_caller", Status::Code::kDenied));
  EXPECT_TRUE(RefusedAndNothingAppended(
      [&] { return engine_->UpdateIpAllowlist(admin_, "acme", true, {}); },
      "api_client_ip_allowlist_blocks_caller", Status::Code::kDenied));
  EXPECT_TRUE(RefusedAndNothingAppended(
      [&] {
        return engine_->UpdateIpAllowlist(Actor::Admin("admin2"), "acme", true, {kOfficeRange});
      },
      "api_client_ip_allowlist_blocks_caller", Status::Code::kDenied))
      << "a caller of unknown address is shut out by any allowlist";
  EXPECT_FALSE(Must(engine_->GetIpAllowlist("acme")).enabled);
}

TEST_F(RulesCommands, AnIpAllowlistThatKeepsTheCallerInIsAcceptedAndNormalized) {
  Must(engine_->UpdateIpAllowlist(admin_, "acme", true, {"198.51.100.77/24", "2001:db8::1/32"}));
  auto allowlist = Must(engine_->GetIpAllowlist("acme"));
  EXPECT_TRUE(allowlist.enabled);
  EXPECT_EQ(allowlist.cidrs, (std::vector<std::string>{"198.51.100.0/24", "2001:db8::/32"}));
  EXPECT_EQ(allowlist.version, 1u);
}

TEST_F(RulesCommands, ADisabledIpAllowlistCannotShutOutTheCaller) {
  EXPECT_TRUE(engine_->UpdateIpAllowlist(admin_, "acme", false, {"10.0.0.0/8"}).ok());
}

TEST_F(RulesCommands, ADomainVerifiedByAnotherOrganizationIsRefused) {
  EXPECT_TRUE(
      RefusedAndNothingAppended([&] { return engine_->VerifyDomain(admin_, "beta", "acme.com"); },
                                "domain_verified_by_another_organization", Status::Code::kDenied));
  EXPECT_TRUE(
      RefusedAndNothingAppended([&] { return engine_->VerifyDomain(admin_, "beta", "ACME.com"); },
                                "domain_verified_by_another_organization", Status::Code::kDenied))
      << "domains compare case-insensitively";
}

TEST_F(RulesCommands, InvalidIdsAreRefused) {
  EXPECT_TRUE(RefusedAndNothingAppended(
      [&] { return engine_->CreateOrganization(admin_, "has space", "x"); }, "invalid_id",
      Status::Code::kInvalidArgument));
  EXPECT_TRUE(
      RefusedAndNothingAppended([&] { return engine_->RegisterUser(admin_, "", "a@b.com"); },
                                "invalid_id", Status::Code::kInvalidArgument));
  EXPECT_TRUE(RefusedAndNothingAppended(
      [&] { return engine_->RegisterUser(admin_, std::string(129, 'u'), "a@b.com"); }, "invalid_id",
      Status::Code::kInvalidArgument));
  EXPECT_TRUE(RefusedAndNothingAppended(
      [&] { return engine_->CreateApplicationUser(admin_, "acme", "bad/id", "x"); }, "invalid_id",
      Status::Code::kInvalidArgument));
  EXPECT_TRUE(RefusedAndNothingAppended(
      [&] {
        return engine_->AddIdp(admin_, "acme", {"sso!", "x", {"acme.com"}, 3600, false});
      },
      "invalid_id", Status::Code::kInvalidArgument));
}

TEST_F(RulesCommands, InvalidCidrsAreRefused) {
  for (const char* cidr : {"10.0.0.0/33", "300.1.1.1/8", "not-an-address", "2001:db8::/129",
                           "10.0.0.0/", "10.0.0.0/8x"}) {
    EXPECT_TRUE(RefusedAndNothingAppended(
        [&] {
          return engine_->UpdateIpAllowlist(admin_, "acme", true, {kOfficeRange, cidr});
        },
        "invalid_cidr", Status::Code::kInvalidArgument))
        << cidr;
  }
  auto session = Login("alice", "password");
  EXPECT_TRUE(RefusedAndNothingAppended(
      [&] {
        return engine_->CreatePersonalToken(Actor::User("alice"), session.token_prefix,
                                            WithIps({"192.0.2.0/24", "192.0.2.0/40"}));
      },
      "invalid_cidr", Status::Code::kInvalidArgument));
}

TEST_F(RulesCommands, ATokenDescriptionOfMoreThan1000CharactersIsRefused) {
  auto session = Login("alice", "password");
  TokenSpec spec;
  spec.description = std::string(1001, 'd');
  EXPECT_TRUE(RefusedAndNothingAppended(
      [&] {
        return engine_->CreatePersonalToken(Actor::User("alice"), session.token_prefix, spec);
      },
      "description_too_long", Status::Code::kInvalidArgument));
  Must(engine_->CreateApplicationUser(admin_, "acme", "deployer", "CI"));
  EXPECT_TRUE(RefusedAndNothingAppended(
      [&] { return engine_->CreateApplicationToken(admin_, "acme", "deployer", spec); },
      "description_too_long", Status::Code::kInvalidArgument));
  spec.description = std::string(1000, 'd');
  EXPECT_TRUE(engine_->CreatePersonalToken(Actor::User("alice"), session.token_prefix, spec).ok());
}

TEST_F(RulesCommands, AMaxAgeOutside600To315360000SecondsIsRefused) {
  auto session = Login("alice", "password");
  for (std::uint32_t max_age : {1u, 599u, 315360001u}) {
    TokenSpec spec;
    spec.max_age_seconds = max_age;
    EXPECT_TRUE(RefusedAndNothingAppended(
        [&] {
          return engine_->CreatePersonalToken(Actor::User("alice"), session.token_prefix, spec);
        },
        "invalid_max_age", Status::Code::kInvalidArgument))
        << max_age;
  }
  EXPECT_TRUE(RefusedAndNothingAppended(
      [&] {
        return engine_->AddIdp(admin_, "acme", {"sso2", "x", {"acme.com"}, 599, false});
      },
      "invalid_max_age", Status::Code::kInvalidArgument));
  for (std::uint32_t max_age : {600u, 315360000u}) {
    TokenSpec spec;
    spec.max_age_seconds = max_age;
    EXPECT_TRUE(engine_->CreatePersonalToken(Actor::User("alice"), session.token_prefix, spec).ok())
        << max_age;
  }
}

TEST_F(RulesCommands, MoreThan100ScopesAreRefused) {
  auto session = Login("alice", "password");
  TokenSpec spec;
  for (int i = 0; i < 101; ++i) spec.scopes.push_back("scope" + std::to_string(i));
  EXPECT_TRUE(RefusedAndNothingAppended(
      [&] {
        return engine_->CreatePersonalToken(Actor::User("alice"), session.token_prefix, spec);
      },
      "too_many_scopes", Status::Code::kInvalidArgument));
  spec.scopes.pop_back();
  EXPECT_TRUE(engine_->CreatePersonalToken(Actor::User("alice"), session.token_prefix, spec).ok());
}

TEST_F(RulesCommands, ExpiryTimeAndMaxAgeAreExclusiveAndExpiryMustBeInTheFuture) {
  auto session = Login("alice", "password");
  TokenSpec both;
  both.expiry_time_us = now() + 3600 * kSecondUs;
  both.max_age_seconds = 3600;
  EXPECT_TRUE(RefusedAndNothingAppended(
      [&] {
        return engine_->CreatePersonalToken(Actor::User("alice"), session.token_prefix, both);
      },
      "invalid_expiry", Status::Code::kInvalidArgument));
  TokenSpec past;
  past.expiry_time_us = now() - kSecondUs;
  EXPECT_TRUE(RefusedAndNothingAppended(
      [&] {
        return engine_->CreatePersonalToken(Actor::User("alice"), session.token_prefix, past);
      },
      "invalid_expiry", Status::Code::kInvalidArgument));
}

TEST_F(RulesCommands, AnotherUsersSessionCannotMakePersonalTokens) {
  auto session = Login("alice", "password");
  EXPECT_TRUE(RefusedAndNothingAppended(
      [&] { return engine_->CreatePersonalToken(Actor::User("bob"), session.token_prefix, {}); },
      "not_token_owner", Status::Code::kPermissionDenied));
}

TEST_F(RulesCommands, AUserMayChangeOnlyTheirOwnCredentials) {
  auto session = Login("alice", "password");
  for (auto command : std::vector<std::function<Result<std::uint64_t>()>>{
           [&] { return engine_->EnableTwoFactor(Actor::User("bob"), "alice"); },
           [&] { return engine_->ExpireUserTokens(Actor::User("bob"), "alice"); },
           [&] { return engine_->RevokeToken(Actor::User("bob"), session.token_prefix, "acme"); },
       }) {
    EXPECT_TRUE(
        RefusedAndNothingAppended(command, "permission_denied", Status::Code::kPermissionDenied));
  }
  EXPECT_TRUE(Allowed(Check(session, "acme")));
  // Alice herself, and an admin, may.
  EXPECT_TRUE(engine_->EnableTwoFactor(Actor::User("alice"), "alice").ok());
  EXPECT_TRUE(engine_->ExpireUserTokens(admin_, "alice").ok());
}

}  // namespace
}  // namespace authledger::testing
