#include "engine/rules.h"

#include <algorithm>
#include <optional>

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
    if (steps_ != nullptr) Record(condition, reason, detail, subject);
    return reason;
  }

 private:
  [[gnu::noinline]] void Record(std::string_view condition, std::string_view reason,
                                std::string_view detail, std::string_view subject) {
    std::string text(condition);
    if (auto pct = text.find('%'); pct != std::string::npos) text.replace(pct, 1, subject);
    steps_->push_back({std::move(text), reason == kOk, std::string(detail)});
  }

  std::vector<TraceStep>* steps_;
};

// The client address of a check, parsed once and only if an allowlist needs it.
class ClientIp {
 public:
  explicit ClientIp(std::string_view text) : text_(text) {}
  // Whether the address is valid and in one of `ranges` (an invalid or empty address
  // is in none).
  bool In(const std::vector<Cidr>& ranges) {
    if (!parsed_) {
      parsed_ = true;
      auto ip = ParseIp(text_);
      valid_ = ip.ok();
      if (valid_) ip_ = *ip;
    }
    return valid_ && AnyContains(ranges, ip_);
  }

 private:
  std::string_view text_;
  bool parsed_ = false;
  bool valid_ = false;
  IpAddress ip_;
};

bool IpOk(const Organization& org, ClientIp& ip) {
  return !org.allowlist.enabled || ip.In(org.allowlist_ranges);
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

bool TokenIpOk(const State& s, const TokenRecord& token, ClientIp& ip) {
  return token.ip_allowlist == 0 || ip.In(s.IpList(token));
}

// What a check found out besides its reason, as views of the state and of static
// strings: the Decision's strings are built once, from these, when it is returned.
struct Findings {
  std::string_view rule = "live";
  std::string_view token_prefix;
  std::string_view user_id;
};

// The conditions of CheckTokenAgainst, in order, up to the first that fails: its reason,
// or "ok". Fills in `f` as the rule, token and user become known.
// `known_org_idx`, if given, is s.OrgIdx(org_id).
std::string_view Evaluate(const State& s, const TokenRecord* token, std::string_view org_id,
                          std::optional<Idx> known_org_idx, const CheckContext& ctx, Tracer& t,
                          const CheckOptions& options, Findings& f) {
  if (token == nullptr) return t.Step("token known", "unknown_token");
  const User& user = s.OwnerOf(*token);
  f.token_prefix = token->prefix.view();
  f.user_id = user.id;
  t.Step("token known", kOk, f.token_prefix);
  if (auto r = t.Step("token live", TokenLive(s, *token, ctx.time_us)); !IsOk(r)) return r;
  // An active owner and an existing organization are conditions of R2, R4 and R5 (§3),
  // not of "token live": a failure from here on is reported under the kind's rule.
  f.rule = RuleOf(token->kind);
  if (auto r = t.Step("owner active", user.active ? kOk : "user_deactivated"); !IsOk(r)) return r;
  const Idx org_idx = known_org_idx ? *known_org_idx : s.OrgIdx(org_id);
  if (org_idx == kNoIdx) return t.Step("organization exists", "unknown_organization");
  const Organization& org = s.orgs[org_idx];
  const AuthenticationPolicy& policy =
      options.policy_override ? *options.policy_override : org.policy;
  // Each condition below is evaluated only where the kind's rule reaches it (they have
  // no effects, so the order of evaluation is free).
  ClientIp ip(ctx.ip);
  auto ip_ok = [&] { return !options.check_ip || IpOk(org, ip); };
  auto token_ip_ok = [&] { return !options.check_ip || TokenIpOk(s, *token, ip); };
  auto member = [&] { return user.MemberOf(org_idx) ? kOk : "not_a_member"; };
  const std::string_view method = s.Method(*token);
  constexpr std::string_view kIpViolation = "client_ip_address_policy_violation";

  switch (token->kind) {
    case TokenKind::kSession: {
      if (auto r = t.Step("member of organization", member()); !IsOk(r)) return r;
      if (auto r = t.Step("allowed(%)", AllowedMethod(s, org, policy, user, method), {}, method);
          !IsOk(r)) {
        return r;
      }
      bool mfa_missing =
          policy.two_factor_required && method == "password" && !token->two_factor_used;
      if (auto r =
              t.Step("two-factor requirement", mfa_missing ? "mfa_required_by_organization" : kOk);
          !IsOk(r)) {
        return r;
      }
      return t.Step("organization IP allowlist", ip_ok() ? kOk : kIpViolation, ctx.ip);
    }
    case TokenKind::kPersonal: {
      if (auto r = t.Step("member of organization", member()); !IsOk(r)) return r;
      if (auto r =
              t.Step("token IP allowlist", token_ip_ok() ? kOk : "token_ip_not_allowed", ctx.ip);
          !IsOk(r)) {
        return r;
      }
      if (auto r = t.Step("organization IP allowlist", ip_ok() ? kOk : kIpViolation, ctx.ip);
          !IsOk(r)) {
        return r;
      }
      if (auto r = t.Step("personal_tokens_enabled",
                          policy.personal_tokens_enabled ? kOk : "user_personal_token_not_allowed");
          !IsOk(r)) {
        return r;
      }
      if (policy.personal_tokens_require_allowed_auth_method) {
        bool allowed = IsOk(AllowedMethod(s, org, policy, user, method));
        return t.Step("allowed(%) for personal tokens",
                      allowed ? kOk : "token_auth_method_not_allowed", {}, method);
      }
      return kOk;
    }
    case TokenKind::kApplication: {
      bool of_org = user.application && user.application_org == org_idx && !user.deleted;
      if (auto r = t.Step("application user of organization", of_org ? kOk : "not_a_member");
          !IsOk(r)) {
        return r;
      }
      if (auto r =
              t.Step("token IP allowlist", token_ip_ok() ? kOk : "token_ip_not_allowed", ctx.ip);
          !IsOk(r)) {
        return r;
      }
      return t.Step("organization IP allowlist", ip_ok() ? kOk : kIpViolation, ctx.ip);
    }
  }
  return "unknown_token";
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

namespace {

Decision Check(const State& s, const TokenRecord* token, std::string_view org_id,
               std::optional<Idx> known_org_idx, const CheckContext& ctx,
               std::vector<TraceStep>* trace, const CheckOptions& options) {
  Tracer t(trace);
  Findings f;
  const std::string_view reason = Evaluate(s, token, org_id, known_org_idx, ctx, t, options, f);
  return Decision{.allowed = IsOk(reason),
                  .reason = std::string(reason),
                  .rule = std::string(f.rule),
                  .token_prefix = std::string(f.token_prefix),
                  .user_id = std::string(f.user_id),
                  .org_id = std::string(org_id),
                  .revision = s.revision};
}

}  // namespace

Decision CheckTokenAgainst(const State& s, const TokenRecord* token, std::string_view org_id,
                           const CheckContext& ctx, std::vector<TraceStep>* trace,
                           const CheckOptions& options) {
  return Check(s, token, org_id, std::nullopt, ctx, trace, options);
}

Decision CheckTokenInOrg(const State& s, const TokenRecord* token, std::string_view org_id,
                         Idx org_idx, const CheckContext& ctx) {
  return Check(s, token, org_id, org_idx, ctx, nullptr, {});
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
