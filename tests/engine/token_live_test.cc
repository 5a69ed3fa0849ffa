// "Token live" and user state: every token kind must be known, not revoked, not expired
// (by time, by age, by its owner's "expire all tokens"), and its owner active.
#include "engine/decide.h"
#include "tests/engine/rules_fixture.h"
#include "tests/engine/state_assertions.h"

namespace authledger::testing {
namespace {

// ---------------------------------------------------------------------------------------
// "Token live": every token kind must be known, not revoked, not expired.

using RulesTokenLive = Rules;

TEST_F(RulesTokenLive, AnUnknownSecretIsDenied) {
  Decision d = engine_->CheckToken("alp_this-secret-was-never-issued-by-the-engine", "acme", At());
  EXPECT_TRUE(DeniedBy(d, "live", "unknown_token"));
  EXPECT_TRUE(d.token_prefix.empty());
}

TEST_F(RulesTokenLive, ARevokedTokenIsDenied) {
  auto token = PersonalToken(Login("alice", "password"), "alice");
  Must(engine_->RevokeToken(Actor::User("alice"), token.token_prefix));
  EXPECT_TRUE(DeniedBy(Check(token, "acme"), "live", "token_revoked"));
}

TEST_F(RulesTokenLive, AnOrgAdminRevokesAMembersToken) {
  auto token = PersonalToken(Login("bob", "password"), "bob");
  EXPECT_TRUE(RefusedAndNothingAppended(
      [&] { return engine_->RevokeToken(admin_, token.token_prefix, "beta"); }, "not_a_member",
      Status::Code::kPermissionDenied));
  EXPECT_TRUE(Allowed(Check(token, "acme")));
  Must(engine_->RevokeToken(admin_, token.token_prefix, "acme"));
  EXPECT_TRUE(DeniedBy(Check(token, "acme"), "live", "token_revoked"));
}

TEST_F(RulesTokenLive, OnlyItsOwnerRevokesATokenWithoutNamingAnOrganization) {
  auto token = PersonalToken(Login("alice", "password"), "alice");
  EXPECT_TRUE(RefusedAndNothingAppended(
      [&] { return engine_->RevokeToken(Actor::User("bob"), token.token_prefix); },
      "not_token_owner", Status::Code::kPermissionDenied));
  EXPECT_TRUE(Allowed(Check(token, "acme")));
}

TEST_F(RulesTokenLive, ATokenExpiresAtItsExpiryTime) {
  TokenSpec spec;
  spec.expiry_time_us = now() + 3600 * kSecondUs;
  auto token = PersonalToken(Login("alice", "password"), "alice", spec);
  Advance(3599);
  EXPECT_TRUE(Allowed(Check(token, "acme")));
  Advance(1);
  EXPECT_TRUE(DeniedBy(Check(token, "acme"), "live", "token_expired"));
}

TEST_F(RulesTokenLive, ATokenExpiresMaxAgeSecondsAfterItsCreation) {
  TokenSpec spec;
  spec.max_age_seconds = 600;
  auto token = PersonalToken(Login("alice", "password"), "alice", spec);
  Advance(599);
  EXPECT_TRUE(Allowed(Check(token, "acme")));
  engine_->FlushTokenUse();  // the use is recorded, but does not extend this token
  Advance(1);
  EXPECT_TRUE(DeniedBy(Check(token, "acme"), "live", "token_expired"));
}

TEST_F(RulesTokenLive, ATokenThatExtendsWhenUsedExpiresMaxAgeAfterItsLastRecordedUse) {
  TokenSpec spec;
  spec.max_age_seconds = 600;
  spec.extend_when_used = true;
  auto token = PersonalToken(Login("alice", "password"), "alice", spec);
  Advance(500);
  EXPECT_TRUE(Allowed(Check(token, "acme")));  // used at +500
  engine_->FlushTokenUse();
  Advance(599);                                // +1099: 599 s after the use, 1099 s after creation
  EXPECT_TRUE(Allowed(Check(token, "acme")));  // used at +1099
  engine_->FlushTokenUse();
  Advance(600);  // +1699: 600 s after the last use
  EXPECT_TRUE(DeniedBy(Check(token, "acme"), "live", "token_expired"));
}

TEST_F(RulesTokenLive, AnUnusedTokenThatExtendsWhenUsedStillExpiresMaxAgeAfterCreation) {
  TokenSpec spec;
  spec.max_age_seconds = 600;
  spec.extend_when_used = true;
  auto token = PersonalToken(Login("alice", "password"), "alice", spec);
  Advance(600);
  EXPECT_TRUE(DeniedBy(Check(token, "acme"), "live", "token_expired"));
}

TEST_F(RulesTokenLive, UsesWithinTheRecordingIntervalDoNotExtendAToken) {
  TokenSpec spec;
  spec.max_age_seconds = 600;
  spec.extend_when_used = true;
  auto token = PersonalToken(Login("alice", "password"), "alice", spec);
  Advance(100);
  EXPECT_TRUE(Allowed(Check(token, "acme")));  // recorded: the first use
  engine_->FlushTokenUse();
  const std::uint64_t after_first_use = engine_->revision();
  Advance(30);
  EXPECT_TRUE(Allowed(Check(token, "acme")));  // 30 s later: within the interval
  EXPECT_EQ(Settled(), after_first_use) << "a use within 60 s of the last is not recorded";
  // Expiry counts from the recorded use at +100, not from the one at +130.
  Advance(570);  // +700
  EXPECT_TRUE(DeniedBy(Check(token, "acme"), "live", "token_expired"));
}

// Scoped replay folds only a token's last recorded use (replay/scope.h): Decide records a
// use only if it is later than the token's recorded one, and of several uses of one token
// in a command only the latest.
TEST_F(RulesTokenLive, ATokensRecordedUsesOnlyEverIncrease) {
  TokenSpec spec;
  spec.max_age_seconds = 600;
  spec.extend_when_used = true;
  auto alice = PersonalToken(Login("alice", "password"), "alice", spec);
  auto bob = PersonalToken(Login("bob", "password"), "bob", spec);
  Advance(100);
  EXPECT_TRUE(Allowed(Check(alice, "acme")));
  const std::uint64_t revision = Settled();
  const internal::State state = Published(*engine_);
  const std::int64_t recorded = state.FindToken(alice.token_prefix)->last_used_us;
  ASSERT_EQ(recorded, now());

  const std::int64_t t = now();
  internal::RecordTokenUseCmd uses;
  uses.uses = {{alice.token_prefix, t + 5, "10.0.0.1"},  {bob.token_prefix, t + 9, "10.0.0.2"},
               {alice.token_prefix, t + 20, "10.0.0.3"}, {bob.token_prefix, t + 3, "10.0.0.4"},
               {alice.token_prefix, t + 7, "10.0.0.5"},  {alice.token_prefix, recorded - 1, ""}};
  internal::DecideContext ctx;
  ctx.now_us = t + 30;
  ctx.next_seq = revision + 1;
  auto decided = internal::Decide(state, uses, ctx);
  ASSERT_TRUE(decided.ok()) << decided.status().ToString();
  ASSERT_EQ(decided->events.size(), 2u) << "one use per token";
  auto first = decided->events[0].reader().getEvent().getTokenUsed();
  auto second = decided->events[1].reader().getEvent().getTokenUsed();
  EXPECT_EQ(std::string(first.getTokenPrefix().cStr()), alice.token_prefix);
  EXPECT_EQ(first.getLastUsedUs(), t + 20);
  EXPECT_EQ(std::string(first.getLastIp().cStr()), "10.0.0.3");
  EXPECT_EQ(std::string(second.getTokenPrefix().cStr()), bob.token_prefix);
  EXPECT_EQ(second.getLastUsedUs(), t + 9);

  // Nothing later than the recorded use: nothing to record.
  uses.uses = {{alice.token_prefix, recorded, ""}, {alice.token_prefix, recorded - 1, ""}};
  auto none = internal::Decide(state, uses, ctx);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().reason(), "token_use_recorded");
}

TEST_F(RulesTokenLive, ADeniedCheckIsNotRecordedAsAUse) {
  TokenSpec spec;
  spec.max_age_seconds = 600;
  spec.extend_when_used = true;
  auto token = PersonalToken(Login("alice", "password"), "alice", spec);
  Advance(300);
  const std::uint64_t before = Settled();
  EXPECT_TRUE(DeniedBy(Check(token, "beta"), "R4", "not_a_member"));
  EXPECT_EQ(Settled(), before);
  Advance(300);
  EXPECT_TRUE(DeniedBy(Check(token, "acme"), "live", "token_expired"));
}

TEST_F(RulesTokenLive, APasswordSessionLastsADayAfterItsLastRecordedUse) {
  auto session = Login("alice", "password");
  Advance(86399);
  EXPECT_TRUE(Allowed(Check(session, "acme")));  // recorded use: a day from now
  engine_->FlushTokenUse();
  Advance(86399);
  EXPECT_TRUE(Allowed(Check(session, "acme")));
  engine_->FlushTokenUse();
  Advance(86400);
  EXPECT_TRUE(DeniedBy(Check(session, "acme"), "live", "token_expired"));
}

TEST_F(RulesTokenLive, ASamlSessionLastsAsLongAsItsIdpSays) {
  Must(engine_->AddIdp(admin_, "acme", {"short-sso", "Short", {"acme.com"}, 600, false}));
  auto session = Login("alice", "saml:short-sso");
  Advance(599);
  EXPECT_TRUE(Allowed(Check(session, "acme")));
  engine_->FlushTokenUse();
  Advance(1);
  EXPECT_TRUE(DeniedBy(Check(session, "acme"), "live", "token_expired"))
      << "the IdP does not extend its sessions when used";
}

TEST_F(RulesTokenLive, ExpiringAUsersTokensExpiresEveryTokenCreatedBefore) {
  auto session = Login("alice", "password");
  auto token = PersonalToken(session, "alice");
  Must(engine_->ExpireUserTokens(admin_, "alice"));
  EXPECT_TRUE(DeniedBy(Check(session, "acme"), "live", "token_expired_by_user"));
  EXPECT_TRUE(DeniedBy(Check(token, "acme"), "live", "token_expired_by_user"));
  EXPECT_TRUE(DeniedBy(engine_->CanCreatePersonalToken(session.token_prefix, At()), "R3",
                       "token_expired_by_user"));
}

TEST_F(RulesTokenLive, ATokenCreatedAfterExpiringAUsersTokensWorks) {
  Login("alice", "password");
  Must(engine_->ExpireUserTokens(admin_, "alice"));
  // Same microsecond as the expiry: ordering is by log position, not by time.
  auto session = Login("alice", "password");
  auto token = PersonalToken(session, "alice");
  EXPECT_TRUE(Allowed(Check(session, "acme")));
  EXPECT_TRUE(Allowed(Check(token, "acme")));
}

TEST_F(RulesTokenLive, ExpiringOneUsersTokensLeavesOtherUsersAlone) {
  auto alice = PersonalToken(Login("alice", "password"), "alice");
  auto bob = PersonalToken(Login("bob", "password"), "bob");
  Must(engine_->ExpireUserTokens(admin_, "alice"));
  EXPECT_TRUE(DeniedBy(Check(alice, "acme"), "live", "token_expired_by_user"));
  EXPECT_TRUE(Allowed(Check(bob, "acme")));
}

// ---------------------------------------------------------------------------------------
// Deactivated users.

using RulesUserState = Rules;

TEST_F(RulesUserState, ADeactivatedUsersTokensAreDenied) {
  auto session = Login("alice", "password");
  auto token = PersonalToken(session, "alice");
  Must(engine_->DeactivateUser(admin_, "acme", "alice"));
  EXPECT_TRUE(DeniedBy(Check(session, "acme"), "R2", "user_deactivated"));
  EXPECT_TRUE(DeniedBy(Check(token, "acme"), "R4", "user_deactivated"));
}

TEST_F(RulesUserState, ReactivationRestoresAUsersTokens) {
  auto session = Login("alice", "password");
  auto token = PersonalToken(session, "alice");
  Must(engine_->DeactivateUser(admin_, "acme", "alice"));
  Must(engine_->ReactivateUser(admin_, "acme", "alice"));
  EXPECT_TRUE(Allowed(Check(session, "acme")));
  EXPECT_TRUE(Allowed(Check(token, "acme")));
  EXPECT_TRUE(Login("alice", "password").revision > 0);
}

TEST_F(RulesUserState, OnlyTheManagingOrgDeactivatesAUser) {
  // carol is a member of acme but managed by beta; bob is managed by nobody.
  auto session = Login("carol", "password");
  EXPECT_TRUE(RefusedAndNothingAppended(
      [&] { return engine_->DeactivateUser(admin_, "acme", "carol"); },
      "user_not_managed_by_organization", Status::Code::kPermissionDenied));
  EXPECT_TRUE(RefusedAndNothingAppended(
      [&] { return engine_->DeactivateUser(admin_, "acme", "bob"); },
      "user_not_managed_by_organization", Status::Code::kPermissionDenied));
  EXPECT_TRUE(Allowed(Check(session, "acme")));
  Must(engine_->DeactivateUser(admin_, "beta", "carol"));
  EXPECT_TRUE(DeniedBy(Check(session, "acme"), "R2", "user_deactivated"));
}

TEST_F(RulesUserState, OnlyTheManagingOrgReactivatesAUser) {
  Must(engine_->DeactivateUser(admin_, "beta", "carol"));
  EXPECT_TRUE(RefusedAndNothingAppended(
      [&] { return engine_->ReactivateUser(admin_, "acme", "carol"); },
      "user_not_managed_by_organization", Status::Code::kPermissionDenied));
  EXPECT_TRUE(LoginRejectedAndRecorded("carol", "password", "user_deactivated"));
}

}  // namespace
}  // namespace authledger::testing
