// A reference model of the authentication-policy rules (DESIGN.md sections 1–3), written
// from the design text alone as an independent oracle for the randomized model test.
//
// Plain maps and straight-line functions, no attempt at speed. Addresses and ranges come
// from a small fixed universe whose membership is written out by hand, so the model needs
// no CIDR arithmetic of its own. Each command returns what the engine must answer
// (accepted, or refused and whether the reason is a rule's word worth comparing) and
// changes the model only when it is accepted.
//
// Thread-safety: a value; use from one thread.
#pragma once

#include <authledger/policy.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace authledger::testing::model {

inline constexpr std::int64_t kSecondUs = 1'000'000;
inline constexpr std::int64_t kUseIntervalUs = 60 * kSecondUs;  // EngineOptions default
inline constexpr std::uint32_t kSessionMaxAgeSeconds = 86400;   // non-SAML sessions
inline constexpr std::uint32_t kMinMaxAge = 600, kMaxMaxAge = 315360000;

// ---- The address universe ----

// Client addresses the test uses; "" is an unknown address (fails every allowlist).
inline const std::vector<std::string>& Addresses() {
  static const std::vector<std::string> kAddresses = {
      "10.0.0.5",      "10.9.8.7",   "::ffff:10.0.0.5", "192.168.1.10", "198.51.100.1",
      "198.51.100.77", "172.16.0.1", "2001:db8::1",     "203.0.113.7",  ""};
  return kAddresses;
}

struct RangeFacts {
  std::string normalized;
  std::set<std::string> contains;  // which of Addresses() lie in the range
};

// Valid range spellings → their normalized form and members (IPv4-mapped addresses match
// IPv4 ranges; a bare address is a /32).
inline const std::map<std::string, RangeFacts>& Ranges() {
  static const std::map<std::string, RangeFacts> kRanges = {
      {"10.0.0.0/8", {"10.0.0.0/8", {"10.0.0.5", "10.9.8.7", "::ffff:10.0.0.5"}}},
      {"10.1.2.3/8", {"10.0.0.0/8", {"10.0.0.5", "10.9.8.7", "::ffff:10.0.0.5"}}},
      {"10.0.0.0/24", {"10.0.0.0/24", {"10.0.0.5", "::ffff:10.0.0.5"}}},
      {"192.168.0.0/16", {"192.168.0.0/16", {"192.168.1.10"}}},
      {"198.51.100.0/24", {"198.51.100.0/24", {"198.51.100.1", "198.51.100.77"}}},
      {"198.51.100.1", {"198.51.100.1/32", {"198.51.100.1"}}},
      {"2001:db8::/32", {"2001:db8::/32", {"2001:db8::1"}}},
      {"203.0.113.7/32", {"203.0.113.7/32", {"203.0.113.7"}}},
      {"0.0.0.0/0",
       {"0.0.0.0/0",
        {"10.0.0.5", "10.9.8.7", "::ffff:10.0.0.5", "192.168.1.10", "198.51.100.1", "198.51.100.77",
         "172.16.0.1", "203.0.113.7"}}},
  };
  return kRanges;
}

inline const std::vector<std::string>& InvalidRanges() {
  static const std::vector<std::string> kInvalid = {"10.0.0.0/33", "300.1.1.1/8", "example.com",
                                                    "2001:db8::/129", ""};
  return kInvalid;
}

inline bool ValidRanges(const std::vector<std::string>& ranges) {
  if (ranges.size() > 100) return false;
  return std::all_of(ranges.begin(), ranges.end(),
                     [](const std::string& r) { return Ranges().count(r) == 1; });
}

// Whether `ip` lies in one of `ranges` (valid spellings only).
inline bool InAnyRange(const std::vector<std::string>& ranges, const std::string& ip) {
  return std::any_of(ranges.begin(), ranges.end(),
                     [&](const std::string& r) { return Ranges().at(r).contains.count(ip) == 1; });
}

inline std::set<std::string> Normalized(const std::vector<std::string>& ranges) {
  std::set<std::string> out;
  for (const auto& r : ranges) out.insert(Ranges().at(r).normalized);
  return out;
}

// ---- Entities ----

struct Org {
  AuthenticationPolicy policy;
  bool allowlist_enabled = false;
  std::vector<std::string> allowlist;  // valid spellings from Ranges()
  std::set<std::string> domains;
  std::set<std::string> members;
};

struct Idp {
  std::string org;
  std::vector<std::string> domains;
  std::uint32_t max_age_seconds = 0;
  bool extend_when_used = false;
  bool removed = false;
};

struct User {
  std::string email;
  bool application = false;
  std::string application_org;
  bool deleted = false;  // application users
  bool active = true;
  bool two_factor = false;
  // Ordinal of the latest "expire all tokens": tokens created before it are expired.
  std::uint64_t validity_begin = 0;
};

enum class Kind { kSession, kPersonal, kApplication };

struct Token {
  Kind kind = Kind::kSession;
  std::string owner;
  std::string method;  // sessions and personal tokens
  bool two_factor_used = false;
  bool revoked = false;
  std::int64_t created_us = 0;
  std::uint64_t created = 0;  // ordinal of the creating command
  std::int64_t expiry_us = 0;
  std::uint32_t max_age_seconds = 0;
  bool extend_when_used = false;
  std::int64_t last_used_us = 0;  // last recorded use
  std::vector<std::string> ip_allowlist;
  // The engine's handle.
  std::string prefix, secret;
};

// What the engine must answer to a command.
struct Expect {
  bool ok = true;
  std::string reason = "ok";
  bool compare_reason = false;  // a rule's word (else any refusal will do)

  static Expect Accept() { return {}; }
  static Expect Refuse() { return {false, "refused", false}; }
  static Expect Rule(std::string reason) { return {false, std::move(reason), true}; }
};

// What a check must answer.
struct Verdict {
  bool allowed = false;
  std::string reason;
};

struct TokenLimits {
  std::string description;
  std::int64_t expiry_us = 0;
  std::uint32_t max_age_seconds = 0;
  bool extend_when_used = false;
  std::vector<std::string> ip_allowlist;
  std::vector<std::string> scopes;
};

// ---- The model ----

class Model {
 public:
  std::map<std::string, Org> orgs;
  std::map<std::string, Idp> idps;
  std::map<std::string, User> users;
  std::vector<Token> tokens;       // every token ever created, in order
  std::uint64_t ordinal = 0;       // accepted commands so far
  std::int64_t last_event_us = 0;  // time of the last event in the log

  // The time the engine stamps on an event (and decides at): event time never decreases,
  // even when the clock steps back.
  std::int64_t EventTime(std::int64_t clock_us) const { return std::max(clock_us, last_event_us); }

  static std::string Domain(const std::string& email) {
    auto at = email.find('@');
    std::string d = at == std::string::npos ? "" : email.substr(at + 1);
    std::transform(d.begin(), d.end(), d.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return d;
  }

  // The organization that verified the user's email domain, or "".
  std::string ManagingOrg(const std::string& user_id) const {
    const User& u = users.at(user_id);
    if (u.application) return "";
    std::string d = Domain(u.email);
    for (const auto& [id, o] : orgs) {
      if (o.domains.count(d) == 1) return id;
    }
    return "";
  }

  bool IsPerson(const std::string& user_id) const {
    auto it = users.find(user_id);
    return it != users.end() && !it->second.application;
  }
  bool IsMember(const std::string& org_id, const std::string& user_id) const {
    auto it = orgs.find(org_id);
    return it != orgs.end() && it->second.members.count(user_id) == 1;
  }
  bool HasLiveIdp(const std::string& org_id) const {
    return std::any_of(idps.begin(), idps.end(), [&](const auto& kv) {
      return kv.second.org == org_id && !kv.second.removed;
    });
  }

  static std::string MethodWord(const std::string& method) {
    if (method == "password") return "password";
    if (method.rfind("oauth:", 0) == 0) return "oauth";
    return "saml";
  }
  static std::string MethodNotAllowed(const std::string& method) {
    return "user_" + MethodWord(method) + "_authentication_method_not_allowed";
  }

  // allowed(m, O) under policy `p` for `user_id`.
  bool Allowed(const std::string& method, const std::string& org_id, const AuthenticationPolicy& p,
               const std::string& user_id) const {
    if (method == "password") return p.password_auth_enabled;
    if (method.rfind("oauth:", 0) == 0) {
      std::string provider = method.substr(6);
      return p.oauth_enabled && std::find(p.oauth_providers.begin(), p.oauth_providers.end(),
                                          provider) != p.oauth_providers.end();
    }
    if (method.rfind("saml:", 0) == 0) {
      auto it = idps.find(method.substr(5));
      if (it == idps.end() || it->second.removed) return false;
      if (it->second.org == org_id) return p.saml_enabled;
      return p.saml_enabled && p.saml_allow_external && IsMember(it->second.org, user_id);
    }
    return false;
  }

  bool IpOk(const Org& o, const std::string& ip) const {
    return !o.allowlist_enabled || InAnyRange(o.allowlist, ip);
  }

  // The first moment the token counts as expired, if it ever does: its expiry time, or
  // max_age after its creation (after its last recorded use when extend_when_used).
  static std::optional<std::int64_t> Deadline(const Token& t) {
    if (t.expiry_us != 0) return t.expiry_us;
    if (t.max_age_seconds == 0) return std::nullopt;
    std::int64_t from = t.extend_when_used ? std::max(t.created_us, t.last_used_us) : t.created_us;
    return from + std::int64_t{t.max_age_seconds} * kSecondUs;
  }

  // "Token live": "ok" or the reason it is not.
  std::string Live(const Token& t, std::int64_t now_us) const {
    if (t.revoked) return "token_revoked";
    if (auto deadline = Deadline(t); deadline && now_us >= *deadline) return "token_expired";
    if (t.created < users.at(t.owner).validity_begin) return "token_expired_by_user";
    return "ok";
  }

  // R2/R4/R5 for token `t` presented to `org_id`. `policy` replaces the org's (impact of
  // a policy update); `check_ip` false leaves out every allowlist.
  Verdict Check(const Token& t, const std::string& org_id, std::int64_t now_us,
                const std::string& ip, const AuthenticationPolicy* policy = nullptr,
                bool check_ip = true) const {
    auto deny = [](std::string reason) { return Verdict{false, std::move(reason)}; };
    if (std::string live = Live(t, now_us); live != "ok") return deny(live);
    const User& owner = users.at(t.owner);
    if (!owner.active) return deny("user_deactivated");
    auto oit = orgs.find(org_id);
    if (oit == orgs.end()) return deny("unknown_organization");
    const Org& o = oit->second;
    const AuthenticationPolicy& p = policy ? *policy : o.policy;
    bool token_ip = t.ip_allowlist.empty() || InAnyRange(t.ip_allowlist, ip);
    switch (t.kind) {
      case Kind::kSession:
        if (o.members.count(t.owner) == 0) return deny("not_a_member");
        if (!Allowed(t.method, org_id, p, t.owner)) return deny(MethodNotAllowed(t.method));
        if (p.two_factor_required && t.method == "password" && !t.two_factor_used) {
          return deny("mfa_required_by_organization");
        }
        if (check_ip && !IpOk(o, ip)) return deny("client_ip_address_policy_violation");
        break;
      case Kind::kPersonal:
        if (o.members.count(t.owner) == 0) return deny("not_a_member");
        if (check_ip && !token_ip) return deny("token_ip_not_allowed");
        if (check_ip && !IpOk(o, ip)) return deny("client_ip_address_policy_violation");
        if (!p.personal_tokens_enabled) return deny("user_personal_token_not_allowed");
        if (p.personal_tokens_require_allowed_auth_method &&
            !Allowed(t.method, org_id, p, t.owner)) {
          return deny("token_auth_method_not_allowed");
        }
        break;
      case Kind::kApplication:
        if (!owner.application || owner.deleted || owner.application_org != org_id) {
          return deny("not_a_member");
        }
        if (check_ip && !token_ip) return deny("token_ip_not_allowed");
        if (check_ip && !IpOk(o, ip)) return deny("client_ip_address_policy_violation");
        break;
    }
    return {true, "ok"};
  }

  // R3 for the owner of session `s`.
  std::string CanCreatePersonal(const Token& s, std::int64_t now_us) const {
    if (std::string live = Live(s, now_us); live != "ok") return live;
    if (!users.at(s.owner).active) return "user_deactivated";
    std::string managing = ManagingOrg(s.owner);
    if (!managing.empty() && !orgs.at(managing).policy.personal_tokens_enabled) {
      return "user_personal_token_not_allowed";
    }
    return "ok";
  }

  // The engine noticed an allowed use of `t` at `now_us`; it records one per interval.
  void NoteAllowedUse(Token& t, std::int64_t now_us) {
    if (now_us - t.last_used_us < kUseIntervalUs) return;
    t.last_used_us = now_us;
    last_event_us = EventTime(now_us);
  }

  // ---- Commands ----

  Expect CreateOrganization(const std::string& org_id) {
    if (org_id.empty() || orgs.count(org_id) == 1) return Expect::Refuse();
    orgs[org_id];
    return Accepted();
  }

  Expect VerifyDomain(const std::string& org_id, const std::string& domain) {
    if (orgs.count(org_id) == 0 || !ValidDomain(domain)) return Expect::Refuse();
    for (const auto& [id, o] : orgs) {
      if (o.domains.count(domain) == 1) return Expect::Refuse();
    }
    orgs[org_id].domains.insert(domain);
    return Accepted();
  }

  Expect UnverifyDomain(const std::string& org_id, const std::string& domain) {
    auto it = orgs.find(org_id);
    if (it == orgs.end() || it->second.domains.count(domain) == 0) return Expect::Refuse();
    // An IdP stays linked to at least one verified domain of its organization.
    for (const auto& [id, idp] : idps) {
      if (idp.org != org_id || idp.removed ||
          std::find(idp.domains.begin(), idp.domains.end(), domain) == idp.domains.end()) {
        continue;
      }
      bool linked_elsewhere = std::any_of(
          idp.domains.begin(), idp.domains.end(),
          [&](const auto& d) { return d != domain && it->second.domains.count(d) == 1; });
      if (!linked_elsewhere) return Expect::Refuse();
    }
    it->second.domains.erase(domain);
    return Accepted();
  }

  Expect AddIdp(const std::string& org_id, const std::string& idp_id,
                const std::vector<std::string>& domains, std::uint32_t max_age,
                bool extend_when_used) {
    auto it = orgs.find(org_id);
    if (it == orgs.end() || idp_id.empty() || idps.count(idp_id) == 1 || domains.empty()) {
      return Expect::Refuse();
    }
    for (const auto& d : domains) {
      if (it->second.domains.count(d) == 0) return Expect::Refuse();
    }
    if (max_age < kMinMaxAge || max_age > kMaxMaxAge) return Expect::Refuse();
    idps[idp_id] = {org_id, domains, max_age, extend_when_used, false};
    return Accepted();
  }

  Expect RemoveIdp(const std::string& org_id, const std::string& idp_id) {
    auto it = idps.find(idp_id);
    if (orgs.count(org_id) == 0 || it == idps.end() || it->second.org != org_id ||
        it->second.removed) {
      return Expect::Refuse();
    }
    it->second.removed = true;
    return Accepted();
  }

  Expect RegisterUser(const std::string& user_id, const std::string& email) {
    if (user_id.empty() || users.count(user_id) == 1 || Domain(email).empty()) {
      return Expect::Refuse();
    }
    users[user_id].email = email;
    return Accepted();
  }

  Expect AddMember(const std::string& org_id, const std::string& user_id) {
    if (orgs.count(org_id) == 0 || !IsPerson(user_id) || IsMember(org_id, user_id)) {
      return Expect::Refuse();
    }
    orgs[org_id].members.insert(user_id);
    return Accepted();
  }

  Expect RemoveMember(const std::string& org_id, const std::string& user_id) {
    if (!IsMember(org_id, user_id)) return Expect::Refuse();
    orgs[org_id].members.erase(user_id);
    return Accepted();
  }

  Expect SetActive(const std::string& org_id, const std::string& user_id, bool active) {
    if (orgs.count(org_id) == 0 || !IsPerson(user_id) || ManagingOrg(user_id) != org_id ||
        users[user_id].active == active) {
      return Expect::Refuse();
    }
    users[user_id].active = active;
    return Accepted();
  }

  Expect CreateApplicationUser(const std::string& org_id, const std::string& user_id) {
    if (orgs.count(org_id) == 0 || user_id.empty() || users.count(user_id) == 1) {
      return Expect::Refuse();
    }
    User& u = users[user_id];
    u.application = true;
    u.application_org = org_id;
    return Accepted();
  }

  Expect DeleteApplicationUser(const std::string& org_id, const std::string& user_id) {
    auto it = users.find(user_id);
    if (orgs.count(org_id) == 0 || it == users.end() || !it->second.application ||
        it->second.application_org != org_id || it->second.deleted) {
      return Expect::Refuse();
    }
    it->second.deleted = true;
    for (Token& t : tokens) {
      if (t.owner == user_id) t.revoked = true;
    }
    return Accepted();
  }

  Expect SetTwoFactor(const std::string& user_id, bool enable) {
    if (!IsPerson(user_id) || users[user_id].two_factor == enable) return Expect::Refuse();
    users[user_id].two_factor = enable;
    for (Token& t : tokens) {
      if (t.owner == user_id && t.kind != Kind::kApplication && t.method == "password") {
        t.revoked = true;
      }
    }
    return Accepted();
  }

  // The policy an update would give, or the refusal.
  Expect UpdatePolicy(const std::string& org_id, const PolicyUpdate& u, bool dry_run,
                      AuthenticationPolicy* after = nullptr) {
    auto it = orgs.find(org_id);
    if (it == orgs.end()) return Expect::Refuse();
    const AuthenticationPolicy& cur = it->second.policy;
    if (u.expected_version && *u.expected_version != cur.version) return Expect::Rule("conflict");
    AuthenticationPolicy p = cur;
    if (u.password_auth_enabled) p.password_auth_enabled = *u.password_auth_enabled;
    if (u.two_factor_required) p.two_factor_required = *u.two_factor_required;
    if (u.oauth_enabled) p.oauth_enabled = *u.oauth_enabled;
    if (u.oauth_providers) {
      std::set<std::string> providers;
      for (const auto& name : *u.oauth_providers) {
        if (name != "github" && name != "google" && name != "microsoft") return Expect::Refuse();
        providers.insert(name);
      }
      p.oauth_providers.assign(providers.begin(), providers.end());
    }
    if (u.saml_enabled) p.saml_enabled = *u.saml_enabled;
    if (u.saml_allow_external) p.saml_allow_external = *u.saml_allow_external;
    if (u.personal_tokens_enabled) p.personal_tokens_enabled = *u.personal_tokens_enabled;
    if (u.personal_tokens_require_allowed_auth_method) {
      p.personal_tokens_require_allowed_auth_method =
          *u.personal_tokens_require_allowed_auth_method;
    }
    bool oauth = p.oauth_enabled && !p.oauth_providers.empty();
    if (!p.password_auth_enabled && !oauth && !p.saml_enabled) {
      return Expect::Rule("no_authentication_method_enabled");
    }
    if (!p.password_auth_enabled && !oauth && !HasLiveIdp(org_id) && !u.force) {
      return Expect::Refuse();
    }
    p.version = cur.version + 1;
    if (after) *after = p;
    if (!dry_run) {
      it->second.policy = p;
      ++ordinal;
    }
    return Expect::Accept();
  }

  Expect UpdateIpAllowlist(const std::string& org_id, bool enabled,
                           const std::vector<std::string>& ranges, const std::string& caller_ip) {
    auto it = orgs.find(org_id);
    if (it == orgs.end() || !ValidRanges(ranges)) return Expect::Refuse();
    if (enabled && !InAnyRange(ranges, caller_ip)) {
      return Expect::Rule("api_client_ip_allowlist_blocks_caller");
    }
    it->second.allowlist_enabled = enabled;
    it->second.allowlist = ranges;
    return Accepted();
  }

  // R1; on acceptance `session` is the new session (without the engine's handle).
  Expect Login(const std::string& user_id, const std::string& method, bool two_factor,
               std::int64_t now_us, Token* session) {
    if (!IsPerson(user_id) || !ValidMethodSyntax(method)) return Expect::Refuse();
    const Idp* idp = nullptr;
    if (method.rfind("saml:", 0) == 0) {
      auto it = idps.find(method.substr(5));
      if (it == idps.end() || it->second.removed) return Expect::Refuse();
      idp = &it->second;
    }
    if (!users[user_id].active) return Expect::Rule("user_deactivated");
    std::string managing = ManagingOrg(user_id);
    if (!managing.empty() && !Allowed(method, managing, orgs[managing].policy, user_id)) {
      return Expect::Rule(MethodNotAllowed(method));
    }
    Accepted();
    Token t;
    t.kind = Kind::kSession;
    t.owner = user_id;
    t.method = method;
    t.two_factor_used = two_factor;
    t.created_us = now_us;
    t.created = ordinal;
    t.max_age_seconds = idp ? idp->max_age_seconds : kSessionMaxAgeSeconds;
    t.extend_when_used = idp ? idp->extend_when_used : true;
    *session = t;
    return Expect::Accept();
  }

  Expect EndSession(std::size_t session) {
    Token& s = tokens[session];
    if (s.kind != Kind::kSession || s.revoked) return Expect::Refuse();
    s.revoked = true;
    return Accepted();
  }

  // R3; on acceptance `token` is the new personal token.
  Expect CreatePersonalToken(std::size_t session, const TokenLimits& limits, std::int64_t now_us,
                             Token* token) {
    const Token& s = tokens[session];
    if (s.kind != Kind::kSession) return Expect::Refuse();
    if (!ValidLimits(limits, now_us)) return Expect::Refuse();
    if (std::string reason = CanCreatePersonal(s, now_us); reason != "ok") {
      return Expect::Rule(reason);
    }
    Accepted();
    *token = NewToken(Kind::kPersonal, s.owner, limits, now_us);
    token->method = s.method;
    token->two_factor_used = s.two_factor_used;
    return Expect::Accept();
  }

  Expect CreateApplicationToken(const std::string& org_id, const std::string& user_id,
                                const TokenLimits& limits, std::int64_t now_us, Token* token) {
    auto it = users.find(user_id);
    if (orgs.count(org_id) == 0 || it == users.end() || !it->second.application ||
        it->second.application_org != org_id || it->second.deleted ||
        !ValidLimits(limits, now_us)) {
      return Expect::Refuse();
    }
    Accepted();
    *token = NewToken(Kind::kApplication, user_id, limits, now_us);
    return Expect::Accept();
  }

  // `org_id` empty: the owner revokes; else an admin of the org.
  Expect RevokeToken(std::size_t index, const std::string& org_id) {
    Token& t = tokens[index];
    if (t.revoked) return Expect::Refuse();
    if (!org_id.empty()) {
      const User& owner = users.at(t.owner);
      bool ours = owner.application ? owner.application_org == org_id : IsMember(org_id, t.owner);
      if (orgs.count(org_id) == 0 || !ours) return Expect::Refuse();
    }
    t.revoked = true;
    return Accepted();
  }

  Expect ExpireUserTokens(const std::string& user_id) {
    // A deleted application user is gone (its tokens are all revoked anyway).
    if (users.count(user_id) == 0 || users[user_id].deleted) return Expect::Refuse();
    Accepted();
    users[user_id].validity_begin = ordinal;
    return Expect::Accept();
  }

  static bool ValidDomain(const std::string& d) {
    return !d.empty() && d.find('.') != std::string::npos && d.find(' ') == std::string::npos;
  }
  static bool ValidMethodSyntax(const std::string& m) {
    return m == "password" || m == "oauth:google" || m == "oauth:microsoft" ||
           m == "oauth:github" || (m.rfind("saml:", 0) == 0 && m.size() > 5);
  }
  static bool ValidLimits(const TokenLimits& l, std::int64_t now_us) {
    if (l.description.size() > 1000) return false;
    if (l.expiry_us != 0 && l.max_age_seconds != 0) return false;
    if (l.max_age_seconds != 0 &&
        (l.max_age_seconds < kMinMaxAge || l.max_age_seconds > kMaxMaxAge)) {
      return false;
    }
    if (l.extend_when_used && l.max_age_seconds == 0) return false;
    if (l.expiry_us != 0 && l.expiry_us <= now_us) return false;
    return l.scopes.size() <= 100 && ValidRanges(l.ip_allowlist);
  }

 private:
  Expect Accepted() {
    ++ordinal;
    return Expect::Accept();
  }

  Token NewToken(Kind kind, const std::string& owner, const TokenLimits& l,
                 std::int64_t now_us) const {
    Token t;
    t.kind = kind;
    t.owner = owner;
    t.created_us = now_us;
    t.created = ordinal;
    t.expiry_us = l.expiry_us;
    t.max_age_seconds = l.max_age_seconds;
    t.extend_when_used = l.extend_when_used;
    t.ip_allowlist = l.ip_allowlist;
    return t;
  }
};

}  // namespace authledger::testing::model
