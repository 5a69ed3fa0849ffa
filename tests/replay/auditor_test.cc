// The audit queries on one story, told the way an auditor would ask about it: a
// password-created personal token, an organization that goes SSO-only and back, and a
// 2FA change that revokes for good.
#include <authledger/audit.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/engine/engine_fixture.h"

namespace authledger::testing {
namespace {

class AuditorTest : public EngineTest {
 protected:
  // acme (verifies acme.io, has an IdP) and beta; alice@acme.io is a member of both.
  void SetUp() override {
    EngineTest::SetUp();
    ManagedOrg("acme", "acme.io");
    Must(engine_->CreateOrganization(admin_, "beta", "Beta"));
    Must(engine_->AddIdp(admin_, "acme", {"okta", "Okta", {"acme.io"}, 86400, false}));
    UserIn("alice", "alice@acme.io", "acme");
    Must(engine_->AddMember(admin_, "beta", "alice"));
    Advance(60);
    session_ = Login("alice", "password");
    Advance(60);
    token_ = PersonalToken(session_, "alice");
    created_seq_ = engine_->revision();
    Advance(3600);
    sso_only_ = Must(SetPolicy("acme", SsoOnly())).revision;
    sso_only_us_ = now();
    Advance(3600);
    PolicyUpdate back;
    back.password_auth_enabled = true;
    password_back_ = Must(SetPolicy("acme", back)).revision;
    password_back_us_ = now();
    Advance(3600);
    // The 2FA event, then the revocations of the password session and token it causes.
    two_factor_ = Must(engine_->EnableTwoFactor(Actor::User("alice"), "alice")) - 2;
    two_factor_us_ = now();
    Advance(60);
  }

  static PolicyUpdate SsoOnly() {
    PolicyUpdate u;
    u.password_auth_enabled = false;
    u.oauth_enabled = false;
    u.personal_tokens_require_allowed_auth_method = true;
    return u;
  }

  std::unique_ptr<Auditor> OpenAuditor() {
    auto auditor = Auditor::Open(dir_.path());
    EXPECT_TRUE(auditor.ok()) << auditor.status().ToString();
    return auditor.ok() ? std::move(auditor).value() : nullptr;
  }

  CreatedToken session_, token_;
  std::uint64_t created_seq_ = 0, sso_only_ = 0, password_back_ = 0, two_factor_ = 0;
  std::int64_t sso_only_us_ = 0, password_back_us_ = 0, two_factor_us_ = 0;
};

TEST_F(AuditorTest, PolicyHistoryListsEveryVersionWithItsFieldChanges) {
  auto auditor = OpenAuditor();
  auto history = auditor->PolicyHistory("acme");
  ASSERT_TRUE(history.ok()) << history.status().ToString();
  ASSERT_EQ(history->size(), 3u);  // created, SSO-only, password back
  EXPECT_EQ((*history)[0].policy.version, 1u);
  EXPECT_EQ((*history)[1].seq, sso_only_);
  EXPECT_EQ((*history)[1].actor_id, "admin1");
  EXPECT_EQ((*history)[1].actor_kind, "admin");
  std::vector<std::string> fields;
  for (const auto& c : (*history)[1].changes) fields.push_back(c.field);
  EXPECT_EQ(fields,
            (std::vector<std::string>{"oauth_enabled", "password_auth_enabled",
                                      "personal_tokens_require_allowed_auth_method", "version"}));
  EXPECT_EQ((*history)[2].changes.front().field, "password_auth_enabled");
  EXPECT_EQ((*history)[2].changes.front().before, "false");
  EXPECT_EQ((*history)[2].changes.front().after, "true");

  auto window = auditor->PolicyHistory("acme", sso_only_us_, sso_only_us_);
  ASSERT_TRUE(window.ok());
  ASSERT_EQ(window->size(), 1u);
  EXPECT_EQ(window->front().seq, sso_only_);

  auto unknown = auditor->PolicyHistory("nobody");
  EXPECT_EQ(unknown.status().reason(), "unknown_organization");
}

TEST_F(AuditorTest, PolicyAtAPastMoment) {
  auto auditor = OpenAuditor();
  auto during = auditor->PolicyAt("acme", Moment::AtTime(sso_only_us_ + 1));
  ASSERT_TRUE(during.ok());
  EXPECT_FALSE(during->password_auth_enabled);
  auto after = auditor->PolicyAt("acme", Moment::AtSeq(password_back_));
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->password_auth_enabled);
  EXPECT_EQ(auditor->PolicyAt("acme", Moment::AtSeq(0)).status().reason(), "unknown_organization");
}

TEST_F(AuditorTest, TokenReportShowsCreationRevocationAndAccessIntervals) {
  auto auditor = OpenAuditor();
  auto report = auditor->Token(token_.token_prefix);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->kind, "personal");
  EXPECT_EQ(report->owner_user_id, "alice");
  EXPECT_EQ(report->method, "password");
  EXPECT_EQ(report->session_prefix, session_.token_prefix);
  EXPECT_EQ(report->created_seq, created_seq_);
  EXPECT_EQ(report->created_by_id, "alice");
  EXPECT_TRUE(report->revoked);
  EXPECT_EQ(report->revocation_reason, "two_factor_changed");
  EXPECT_EQ(report->revocation_cause, two_factor_);
  EXPECT_EQ(report->revocation_cause_type, "two_factor_enabled");

  std::vector<AccessInterval> acme, beta;
  for (const auto& i : report->intervals) (i.org_id == "acme" ? acme : beta).push_back(i);
  // acme: allowed, denied while SSO-only, allowed again, revoked for good.
  ASSERT_EQ(acme.size(), 4u);
  EXPECT_TRUE(acme[0].allowed);
  EXPECT_EQ(acme[0].from_seq, created_seq_);
  EXPECT_FALSE(acme[1].allowed);
  EXPECT_EQ(acme[1].reason, "token_auth_method_not_allowed");
  EXPECT_EQ(acme[1].from_seq, sso_only_);
  EXPECT_EQ(acme[1].opened_by, "policy_changed");
  EXPECT_EQ(acme[1].to_seq, password_back_);
  EXPECT_TRUE(acme[2].allowed);
  EXPECT_FALSE(acme[3].allowed);
  EXPECT_EQ(acme[3].reason, "token_revoked");
  EXPECT_EQ(acme[3].opened_by, "token_revoked");
  EXPECT_EQ(acme[3].to_seq, 0u);
  // beta never changed its policy: allowed until the revocation.
  ASSERT_EQ(beta.size(), 2u);
  EXPECT_TRUE(beta[0].allowed);
  EXPECT_EQ(beta[0].to_seq, acme[3].from_seq);
  EXPECT_EQ(beta[1].reason, "token_revoked");

  EXPECT_EQ(auditor->Token("nosuchtoken").status().reason(), "unknown_token");
}

TEST_F(AuditorTest, ExpiryWithoutAnEventClosesAnIntervalAtItsTime) {
  Advance(60);
  auto fresh = Login("alice", "saml:okta");
  TokenSpec spec;
  spec.max_age_seconds = 600;
  auto short_lived = PersonalToken(fresh, "alice", spec);
  const std::int64_t created_us = now();
  Advance(3600);
  Must(engine_->CreateOrganization(admin_, "later", "Later"));  // an event after expiry
  auto auditor = OpenAuditor();
  auto report = auditor->Token(short_lived.token_prefix);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  std::vector<AccessInterval> acme;
  for (const auto& i : report->intervals) {
    if (i.org_id == "acme") acme.push_back(i);
  }
  ASSERT_EQ(acme.size(), 2u);
  EXPECT_TRUE(acme[0].allowed);
  EXPECT_EQ(acme[1].reason, "token_expired");
  EXPECT_EQ(acme[1].from_seq, 0u);
  EXPECT_EQ(acme[1].opened_by, "time");
  EXPECT_EQ(acme[1].from_us, created_us + 600 * kSecondUs);
}

TEST_F(AuditorTest, ExplainAtAPastMomentGivesThatMomentsDecisionAndTrace) {
  auto auditor = OpenAuditor();
  auto during = auditor->Explain(token_.token_prefix, "acme", Moment::AtSeq(sso_only_), {}, {});
  ASSERT_TRUE(during.ok()) << during.status().ToString();
  EXPECT_FALSE(during->decision.allowed);
  EXPECT_EQ(during->decision.reason, "token_auth_method_not_allowed");
  EXPECT_EQ(during->decision.revision, sso_only_);
  EXPECT_FALSE(during->trace.empty());
  EXPECT_FALSE(during->trace.back().passed);

  auto beta = auditor->Explain(token_.token_prefix, "beta", Moment::AtTime(sso_only_us_), {}, {});
  ASSERT_TRUE(beta.ok());
  EXPECT_TRUE(beta->decision.allowed);

  auto before_creation =
      auditor->Explain(token_.token_prefix, "acme", Moment::AtSeq(created_seq_ - 1), {}, {});
  ASSERT_TRUE(before_creation.ok());
  EXPECT_EQ(before_creation->decision.reason, "unknown_token");

  auto now_state = auditor->Explain(token_.token_prefix, "acme", Moment::Now(), {}, {});
  ASSERT_TRUE(now_state.ok());
  EXPECT_EQ(now_state->decision.reason, "token_revoked");
  EXPECT_EQ(auditor->Explain(token_.token_prefix, "acme", Moment::AtSeq(1'000'000), {}, {})
                .status()
                .reason(),
            "seq_out_of_range");
}

TEST_F(AuditorTest, ImpactOfAnEventListsTheFlipsBothWays) {
  auto auditor = OpenAuditor();
  auto tightened = auditor->Impact(sso_only_);
  ASSERT_TRUE(tightened.ok()) << tightened.status().ToString();
  // The session and the personal token, both password-made, lose acme.
  ASSERT_EQ(tightened->size(), 2u);
  for (const auto& e : *tightened) {
    EXPECT_EQ(e.org_id, "acme");
    EXPECT_TRUE(e.allowed_before);
    EXPECT_FALSE(e.allowed_after);
  }
  auto loosened = auditor->Impact(password_back_);
  ASSERT_TRUE(loosened.ok());
  ASSERT_EQ(loosened->size(), 2u);
  EXPECT_TRUE(loosened->front().allowed_after);

  // The 2FA event itself flips nothing of the token (the revocation after it does).
  auto revocation = auditor->Impact(two_factor_ + 1);
  ASSERT_TRUE(revocation.ok());
  EXPECT_FALSE(revocation->empty());
  EXPECT_EQ(auditor->Impact(0).status().reason(), "seq_out_of_range");
}

TEST_F(AuditorTest, DryRunOfAPolicyChangeShowsItsImpactWithoutAppending) {
  auto auditor = OpenAuditor();
  const std::uint64_t size = auditor->size();
  PolicyUpdate no_personal;
  no_personal.personal_tokens_enabled = false;
  Advance(60);
  auto fresh = Login("alice", "saml:okta");
  PersonalToken(fresh, "alice");
  auditor = OpenAuditor();
  auto change = auditor->DryRunPolicy("acme", no_personal);
  ASSERT_TRUE(change.ok()) << change.status().ToString();
  EXPECT_TRUE(change->before.personal_tokens_enabled);
  EXPECT_FALSE(change->after.personal_tokens_enabled);
  ASSERT_EQ(change->impact.size(), 1u);
  EXPECT_EQ(change->impact[0].reason_after, "user_personal_token_not_allowed");
  EXPECT_EQ(auditor->size(), size + 2);
  EXPECT_EQ(OpenAuditor()->size(), size + 2);
  EXPECT_EQ(auditor->DryRunPolicy("nobody", no_personal).status().reason(), "unknown_organization");
}

TEST_F(AuditorTest, WhoCouldReachTheOrganization) {
  auto auditor = OpenAuditor();
  auto who = auditor->Who("acme", Moment::AtSeq(sso_only_));
  ASSERT_TRUE(who.ok()) << who.status().ToString();
  ASSERT_EQ(who->users.size(), 1u);
  EXPECT_EQ(who->users[0].user_id, "alice");
  EXPECT_TRUE(who->users[0].managed);
  EXPECT_EQ(who->users[0].login_methods, std::vector<std::string>{"saml:okta"});
  EXPECT_TRUE(who->tokens.empty());  // both password-made tokens are out while SSO-only

  auto before = auditor->Who("acme", Moment::AtSeq(sso_only_ - 1));
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->tokens.size(), 2u);
  EXPECT_EQ(auditor->Who("nobody", Moment::Now()).status().reason(), "unknown_organization");
}

TEST_F(AuditorTest, EventsAreFilteredAndPaged) {
  auto auditor = OpenAuditor();
  EventFilter by_token;
  by_token.token_prefix = token_.token_prefix;
  auto page = auditor->Events(by_token, 100);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->events.size(), 2u);  // created, revoked
  EXPECT_EQ(page->events[0].type, "token_created");
  EXPECT_EQ(page->events[1].type, "token_revoked");
  EXPECT_EQ(page->events[1].cause, two_factor_);
  EXPECT_EQ(page->next_seq, 0u);

  EventFilter all;
  std::vector<std::uint64_t> seqs;
  for (std::uint64_t next = 1; next != 0;) {
    all.from_seq = next;
    auto p = auditor->Events(all, 3);
    ASSERT_TRUE(p.ok());
    for (const auto& e : p->events) seqs.push_back(e.seq);
    next = p->next_seq;
  }
  ASSERT_EQ(seqs.size(), auditor->size());
  for (std::size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], i + 1);

  EventFilter policy_changes;
  policy_changes.org_id = "acme";
  policy_changes.types = {"policy_changed"};
  policy_changes.actor_id = "admin1";
  auto changes = auditor->Events(policy_changes, 10);
  ASSERT_TRUE(changes.ok());
  ASSERT_EQ(changes->events.size(), 2u);
  EXPECT_NE(changes->events[0].json.find("\"policy_changed\""), std::string::npos);

  EventFilter user_and_org;
  user_and_org.user_id = "alice";
  user_and_org.org_id = "beta";
  auto joined = auditor->Events(user_and_org, 10);
  ASSERT_TRUE(joined.ok());
  ASSERT_EQ(joined->events.size(), 1u);
  EXPECT_EQ(joined->events[0].type, "member_added");
}

TEST_F(AuditorTest, StateAtAndStepThroughAndDiff) {
  auto auditor = OpenAuditor();
  auto state = auditor->StateAt(Moment::AtSeq(sso_only_));
  ASSERT_TRUE(state.ok());
  ASSERT_EQ(state->orgs.size(), 2u);
  EXPECT_EQ(state->orgs[0].id, "acme");
  EXPECT_FALSE(state->orgs[0].policy.password_auth_enabled);
  EXPECT_EQ(state->orgs[0].managed_users, std::vector<std::string>{"alice"});
  EXPECT_EQ(state->tokens, 2u);
  EXPECT_EQ(state->live_tokens, 2u);

  std::vector<StepEntry> steps;
  ASSERT_TRUE(auditor
                  ->Step(two_factor_, two_factor_ + 2,
                         [&](const StepEntry& e) {
                           steps.push_back(e);
                           return true;
                         })
                  .ok());
  ASSERT_EQ(steps.size(), 3u);  // 2FA enabled, then the session and the token revoked
  EXPECT_EQ(steps[0].event.type, "two_factor_enabled");
  EXPECT_EQ(steps[0].changes,
            (std::vector<FieldChange>{{"user alice", "two_factor_enabled", "false", "true"}}));
  EXPECT_EQ(steps[1].event.type, "token_revoked");
  EXPECT_EQ(steps[1].event.cause, two_factor_);
  ASSERT_EQ(steps[1].changes.size(), 1u);
  EXPECT_EQ(steps[1].changes[0].field, "revoked");

  auto diff = auditor->Diff(Moment::AtSeq(sso_only_ - 1), Moment::AtSeq(password_back_));
  ASSERT_TRUE(diff.ok());
  // Password went off and on again: only the other fields and the version differ.
  std::vector<std::string> fields;
  for (const auto& c : *diff) fields.push_back(c.field);
  EXPECT_EQ(fields, (std::vector<std::string>{"policy.oauth_enabled",
                                              "policy.personal_tokens_require_allowed_auth_method",
                                              "policy.version"}));
}

TEST_F(AuditorTest, OpensBesideALiveEngineAndRefusesAMissingLog) {
  auto auditor = OpenAuditor();
  ASSERT_NE(auditor, nullptr);
  EXPECT_EQ(auditor->size(), engine_->revision());
  auto missing = Auditor::Open(dir_.path() + "/nothing-here");
  EXPECT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().reason(), "log_not_found");
}

}  // namespace
}  // namespace authledger::testing
