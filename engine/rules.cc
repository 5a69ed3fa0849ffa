#include "engine/rules.h"

#include <algorithm>

namespace authledger::internal {

namespace {

constexpr std::string_view kPasswordNotAllowed = "user_password_authentication_method_not_allowed";
constexpr std::string_view kOauthNotAllowed = "user_oauth_authentication_method_not_allowed";
constexpr std::string_view kSamlNotAllowed = "user_saml_authentication_method_not_allowed";

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// Records conditions when a trace is wanted; costs one branch otherwise (nothing is
// built unless a trace is being kept).
class Tracer {
 public:
  explicit Tracer(std::vector<TraceStep>* steps) : steps_(steps) {}
  // Returns `reason` unchanged, recording whether it is "ok". A '%' in `condition` is
  // replaced by `subject` in the recorded text.
  std::string_view Step(std::string_view condition, std::string_view reason,
                        std::string_view detail = {}, std::string_view subject = {}) {
    if (steps_) {
      std::string text(condition);
      if (auto pct = text.find('%'); pct != std::string::npos) text.replace(pct, 1, subject);
      steps_->push_back({std::move(text), reason == kOk, std::string(detail)});
    }
    return reason;
  }

 private:
  std::vector<TraceStep>* steps_;
};

bool IpOk(const Organization& org, std::string_view ip_text) {
  if (!org.allowlist.enabled) return true;
  auto ip = ParseIp(ip_text);
  return ip.ok() && AnyContains(org.allowlist_ranges, *ip);
}

// The rule of §3 that governs a token of this kind once it is live.
std::string_view RuleOf(TokenKind kind) {
  switch (kind) {
    case TokenKind::kSession:
      return "R2";
    case TokenKind::kPersonal:
      return "R4";
    case TokenKind::kApplication:
      return "R5";
  }
  return "live";
}

bool TokenIpOk(const State& s, const TokenRecord& token, std::string_view ip_text) {
  if (token.ip_allowlist == 0) return true;
  auto ip = ParseIp(ip_text);
  return ip.ok() && AnyContains(s.IpList(token), *ip);
}

}  // namespace

std::string_view AllowedMethod(const State& s, const Organization& org,
                               const AuthenticationPolicy& p, const User& user,
                               std::string_view method) {
  if (method == "password") return p.password_auth_enabled ? kOk : kPasswordNotAllowed;
  if (StartsWith(method, "oauth:")) {
    std::string_view provider = method.substr(6);
    bool listed = std::find(p.oauth_providers.begin(), p.oauth_providers.end(), provider) !=
                  p.oauth_providers.end();
    return p.oauth_enabled && listed ? kOk : kOauthNotAllowed;
  }
  if (StartsWith(method, "saml:")) {
    const IdentityProvider* idp = s.FindIdp(method.substr(5));
    if (idp == nullptr || idp->removed || !p.saml_enabled) return kSamlNotAllowed;
    if (idp->org_id == org.id) return kOk;
    return p.saml_allow_external && user.MemberOf(s.OrgIdx(idp->org_id)) ? kOk : kSamlNotAllowed;
  }
  return "unknown_authentication_method";
}

std::string_view LoginRule(const State& s, const User& user, std::string_view method) {
  if (!user.active) return "user_deactivated";
  if (const Organization* managing = s.ManagingOrg(user)) {
    return AllowedMethod(s, *managing, managing->policy, user, method);
  }
  if (StartsWith(method, "saml:")) {
    // A non-managed user may still log in only through an IdP that exists.
    const IdentityProvider* idp = s.FindIdp(method.substr(5));
    if (idp == nullptr || idp->removed) return kSamlNotAllowed;
  }
  return kOk;
}

std::string_view TokenLive(const State& s, const TokenRecord& token, std::int64_t now_us) {
  if (token.revoked) return "token_revoked";
  if (token.expiry_time_us != 0 && now_us >= token.expiry_time_us) return "token_expired";
  if (token.max_age_seconds != 0) {
    std::int64_t base =
        token.extend_when_used ? std::max(token.created_us, token.last_used_us) : token.created_us;
    if (now_us >= base + static_cast<std::int64_t>(token.max_age_seconds) * 1'000'000) {
      return "token_expired";
    }
  }
  if (token.created_seq < s.OwnerOf(token).token_validity_begin_seq) return "token_expired_by_user";
  return kOk;
}

std::string_view CreatePersonalTokenRule(const State& s, const User& user,
                                         const TokenRecord& session, std::int64_t now_us) {
  if (session.kind != TokenKind::kSession || &s.OwnerOf(session) != &user) return "not_a_session";
  if (auto live = TokenLive(s, session, now_us); live != kOk) return live;
  if (!user.active) return "user_deactivated";
  if (const Organization* managing = s.ManagingOrg(user)) {
    if (!managing->policy.personal_tokens_enabled) return "user_personal_token_not_allowed";
  }
  return kOk;
}

Decision CheckTokenAgainst(const State& s, const TokenRecord* token, std::string_view org_id,
                           const CheckContext& ctx, std::vector<TraceStep>* trace,
                           const CheckOptions& options) {
  Decision d;
  d.revision = s.revision;
  d.org_id = org_id;
  d.rule = "live";
  Tracer t(trace);
  auto finish = [&d](std::string_view reason) {
    d.allowed = reason == kOk;
    d.reason = reason;
    return d;
  };
  if (token == nullptr) return finish(t.Step("token known", "unknown_token"));
  const User& user = s.OwnerOf(*token);
  d.token_prefix = token->prefix.view();
  d.user_id = user.id;
  t.Step("token known", kOk, token->prefix.view());
  if (auto r = t.Step("token live", TokenLive(s, *token, ctx.time_us)); r != kOk) return finish(r);
  // An active owner and an existing organization are conditions of R2, R4 and R5 (§3),
  // not of "token live": a failure from here on is reported under the kind's rule.
  d.rule = RuleOf(token->kind);
  if (auto r = t.Step("owner active", user.active ? kOk : "user_deactivated"); r != kOk) {
    return finish(r);
  }
  const Idx org_idx = s.OrgIdx(org_id);
  if (org_idx == kNoIdx) return finish(t.Step("organization exists", "unknown_organization"));
  const Organization& org = s.orgs[org_idx];
  const AuthenticationPolicy& policy =
      options.policy_override ? *options.policy_override : org.policy;
  const bool ip_ok = !options.check_ip || IpOk(org, ctx.ip);
  const bool token_ip_ok = !options.check_ip || TokenIpOk(s, *token, ctx.ip);
  const std::string_view method = s.Method(*token);
  constexpr std::string_view kIpViolation = "client_ip_address_policy_violation";
  const std::string_view member = user.MemberOf(org_idx) ? kOk : "not_a_member";

  switch (token->kind) {
    case TokenKind::kSession: {
      if (auto r = t.Step("member of organization", member); r != kOk) return finish(r);
      if (auto r = t.Step("allowed(%)", AllowedMethod(s, org, policy, user, method), {}, method);
          r != kOk) {
        return finish(r);
      }
      bool mfa_missing =
          policy.two_factor_required && method == "password" && !token->two_factor_used;
      if (auto r =
              t.Step("two-factor requirement", mfa_missing ? "mfa_required_by_organization" : kOk);
          r != kOk) {
        return finish(r);
      }
      return finish(t.Step("organization IP allowlist", ip_ok ? kOk : kIpViolation, ctx.ip));
    }
    case TokenKind::kPersonal: {
      if (auto r = t.Step("member of organization", member); r != kOk) return finish(r);
      if (auto r = t.Step("token IP allowlist", token_ip_ok ? kOk : "token_ip_not_allowed", ctx.ip);
          r != kOk) {
        return finish(r);
      }
      if (auto r = t.Step("organization IP allowlist", ip_ok ? kOk : kIpViolation, ctx.ip);
          r != kOk) {
        return finish(r);
      }
      if (auto r = t.Step("personal_tokens_enabled",
                          policy.personal_tokens_enabled ? kOk : "user_personal_token_not_allowed");
          r != kOk) {
        return finish(r);
      }
      if (policy.personal_tokens_require_allowed_auth_method) {
        bool allowed = AllowedMethod(s, org, policy, user, method) == kOk;
        return finish(t.Step("allowed(%) for personal tokens",
                             allowed ? kOk : "token_auth_method_not_allowed", {}, method));
      }
      return finish(kOk);
    }
    case TokenKind::kApplication: {
      bool of_org = user.application && user.application_org == org_idx && !user.deleted;
      if (auto r = t.Step("application user of organization", of_org ? kOk : "not_a_member");
          r != kOk) {
        return finish(r);
      }
      if (auto r = t.Step("token IP allowlist", token_ip_ok ? kOk : "token_ip_not_allowed", ctx.ip);
          r != kOk) {
        return finish(r);
      }
      return finish(t.Step("organization IP allowlist", ip_ok ? kOk : kIpViolation, ctx.ip));
    }
  }
  return finish("unknown_token");
}

std::vector<const TokenRecord*> TokensFacing(const State& s, std::string_view org_id) {
  std::vector<const TokenRecord*> out;
  const Organization* org = s.FindOrg(org_id);
  if (org == nullptr) return out;
  auto add_owner = [&](Idx user) {
    s.ForEachTokenOf(s.users[user], [&](Idx, const TokenRecord& t) { out.push_back(&t); });
  };
  for (Idx member : org->members) add_owner(member);
  for (Idx app_user : org->application_users) add_owner(app_user);
  return out;
}

std::vector<ImpactEntry> PolicyImpact(const State& s, std::string_view org_id,
                                      const AuthenticationPolicy& before,
                                      const AuthenticationPolicy& after, std::int64_t now_us) {
  std::vector<ImpactEntry> impact;
  const CheckContext check{now_us, {}};
  const CheckOptions with_before{false, &before};
  const CheckOptions with_after{false, &after};
  for (const TokenRecord* t : TokensFacing(s, org_id)) {
    Decision b = CheckTokenAgainst(s, t, org_id, check, nullptr, with_before);
    Decision a = CheckTokenAgainst(s, t, org_id, check, nullptr, with_after);
    if (b.allowed == a.allowed) continue;
    impact.push_back({t->prefix.str(), s.OwnerOf(*t).id, std::string(org_id), b.allowed, b.reason,
                      a.allowed, a.reason});
  }
  return impact;
}

}  // namespace authledger::internal
