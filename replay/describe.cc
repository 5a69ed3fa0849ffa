#include "replay/describe.h"

#include <set>

namespace authledger::replay {

using internal::Idx;
using internal::kNoIdx;
using internal::State;

namespace {

std::string Bool(bool b) { return b ? "true" : "false"; }

template <typename Container, typename Fn>
std::string JoinBy(const Container& items, Fn name) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ",";
    out += name(item);
  }
  return out;
}

std::string Plain(const std::string& s) { return s; }

std::string Entity(storage::SubjectKind kind, const std::string& id) {
  switch (kind) {
    case storage::SubjectKind::kOrganization:
    case storage::SubjectKind::kOrganizationConfig:
      return "organization " + id;
    case storage::SubjectKind::kUser:
    case storage::SubjectKind::kUserAccount:
      return "user " + id;
    case storage::SubjectKind::kToken:
    case storage::SubjectKind::kTokenLifecycle:
      return "token " + id;
    case storage::SubjectKind::kIdp:
    case storage::SubjectKind::kIdpConfig:
      return "idp " + id;
    case storage::SubjectKind::kDomain:
      return "domain " + id;
  }
  return id;
}

FieldMap DescribeDomain(const State& s, const std::string& domain) {
  FieldMap m;
  auto it = s.domain_owner.find(domain);
  m["verified_by"] = it == s.domain_owner.end() ? "" : s.orgs[it->second].id;
  return m;
}

}  // namespace

std::string JoinList(const std::vector<std::string>& items) { return JoinBy(items, Plain); }

std::string TokenKindName(internal::TokenKind kind) {
  switch (kind) {
    case internal::TokenKind::kSession:
      return "session";
    case internal::TokenKind::kPersonal:
      return "personal";
    case internal::TokenKind::kApplication:
      return "application";
  }
  return "unknown";
}

FieldMap DescribePolicy(const AuthenticationPolicy& p) {
  return {
      {"version", std::to_string(p.version)},
      {"password_auth_enabled", Bool(p.password_auth_enabled)},
      {"two_factor_required", Bool(p.two_factor_required)},
      {"oauth_enabled", Bool(p.oauth_enabled)},
      {"oauth_providers", JoinList(p.oauth_providers)},
      {"saml_enabled", Bool(p.saml_enabled)},
      {"saml_allow_external", Bool(p.saml_allow_external)},
      {"personal_tokens_enabled", Bool(p.personal_tokens_enabled)},
      {"personal_tokens_require_allowed_auth_method",
       Bool(p.personal_tokens_require_allowed_auth_method)},
  };
}

FieldMap DescribeOrg(const State& s, const internal::Organization& org) {
  FieldMap m;
  m["name"] = org.name;
  for (auto& [k, v] : DescribePolicy(org.policy)) m["policy." + k] = v;
  m["ip_allowlist.version"] = std::to_string(org.allowlist.version);
  m["ip_allowlist.enabled"] = Bool(org.allowlist.enabled);
  m["ip_allowlist.cidrs"] = JoinList(org.allowlist.cidrs);
  m["domains"] = JoinBy(org.domains, Plain);
  m["idps"] = JoinBy(org.idps, Plain);
  auto user_id = [&](Idx i) { return s.users[i].id; };
  m["members"] = JoinBy(org.members, user_id);
  m["application_users"] = JoinBy(org.application_users, user_id);
  return m;
}

FieldMap DescribeUser(const State& s, const internal::User& u) {
  FieldMap m;
  m["email"] = u.email;
  m["active"] = Bool(u.active);
  m["two_factor_enabled"] = Bool(u.two_factor_enabled);
  m["application_user"] = Bool(u.application);
  if (u.application) {
    m["application_org"] = u.application_org == kNoIdx ? "" : s.orgs[u.application_org].id;
    m["deleted"] = Bool(u.deleted);
  }
  m["token_validity_begin_us"] = std::to_string(u.token_validity_begin_us);
  m["orgs"] = JoinBy(u.orgs, [&](Idx i) { return s.orgs[i].id; });
  const internal::Organization* managing = s.ManagingOrg(u);
  m["managed_by"] = managing ? managing->id : "";
  return m;
}

FieldMap DescribeToken(const State& s, const internal::TokenRecord& t) {
  FieldMap m;
  m["kind"] = TokenKindName(t.kind);
  m["owner"] = s.OwnerOf(t).id;
  if (t.org != kNoIdx) m["org"] = s.orgs[t.org].id;
  m["method"] = std::string(s.Method(t));
  m["two_factor_used"] = Bool(t.two_factor_used);
  m["created_us"] = std::to_string(t.created_us);
  m["expiry_time_us"] = std::to_string(t.expiry_time_us);
  m["max_age_seconds"] = std::to_string(t.max_age_seconds);
  m["extend_when_used"] = Bool(t.extend_when_used);
  m["last_used_us"] = std::to_string(t.last_used_us);
  m["revoked"] = Bool(t.revoked);
  m["ip_allowlist"] = JoinBy(s.IpList(t), [](const internal::Cidr& c) { return c.ToString(); });
  return m;
}

FieldMap DescribeIdp(const internal::IdentityProvider& idp) {
  return {{"org", idp.org_id},
          {"domains", JoinList(idp.domains)},
          {"max_age_seconds", std::to_string(idp.max_age_seconds)},
          {"extend_when_used", Bool(idp.extend_when_used)},
          {"removed", Bool(idp.removed)}};
}

void DiffFields(const std::string& entity, const FieldMap* before, const FieldMap* after,
                std::vector<FieldChange>& out) {
  if (before == nullptr && after == nullptr) return;
  if (before == nullptr || after == nullptr) {
    out.push_back({entity, "", before ? "present" : "", after ? "present" : ""});
  }
  static const FieldMap kEmpty;
  const FieldMap& b = before ? *before : kEmpty;
  const FieldMap& a = after ? *after : kEmpty;
  std::set<std::string> fields;
  for (const auto& [k, v] : b) fields.insert(k);
  for (const auto& [k, v] : a) fields.insert(k);
  for (const auto& field : fields) {
    auto bi = b.find(field);
    auto ai = a.find(field);
    std::string bv = bi == b.end() ? "" : bi->second;
    std::string av = ai == a.end() ? "" : ai->second;
    if (bv != av) out.push_back({entity, field, bv, av});
  }
}

std::map<std::string, FieldMap> DescribeSubjects(const State& s,
                                                 const std::vector<storage::Subject>& subjects) {
  std::map<std::string, FieldMap> out;
  for (const auto& subject : subjects) {
    const std::string name = Entity(subject.kind, subject.id);
    switch (subject.kind) {
      case storage::SubjectKind::kOrganization:
      case storage::SubjectKind::kOrganizationConfig:
        if (const auto* o = s.FindOrg(subject.id)) out[name] = DescribeOrg(s, *o);
        break;
      case storage::SubjectKind::kUser:
      case storage::SubjectKind::kUserAccount:
        if (const auto* u = s.FindUser(subject.id)) out[name] = DescribeUser(s, *u);
        break;
      case storage::SubjectKind::kToken:
      case storage::SubjectKind::kTokenLifecycle:
        if (const auto* t = s.FindToken(subject.id)) out[name] = DescribeToken(s, *t);
        break;
      case storage::SubjectKind::kIdp:
      case storage::SubjectKind::kIdpConfig:
        if (const auto* i = s.FindIdp(subject.id)) out[name] = DescribeIdp(*i);
        break;
      case storage::SubjectKind::kDomain:
        out[name] = DescribeDomain(s, subject.id);
        // Verifying a domain makes its users managed (and unverifying, unmanaged).
        for (const auto& u : s.users) {
          if (internal::EmailDomain(u.email) == subject.id)
            out["user " + u.id] = DescribeUser(s, u);
        }
        break;
    }
  }
  return out;
}

std::vector<FieldChange> DiffStates(const State& a, const State& b) {
  std::vector<FieldChange> out;
  auto diff_entities = [&](const std::map<std::string, FieldMap>& x,
                           const std::map<std::string, FieldMap>& y) {
    std::set<std::string> names;
    for (const auto& [k, v] : x) names.insert(k);
    for (const auto& [k, v] : y) names.insert(k);
    for (const auto& name : names) {
      auto xi = x.find(name);
      auto yi = y.find(name);
      DiffFields(name, xi == x.end() ? nullptr : &xi->second, yi == y.end() ? nullptr : &yi->second,
                 out);
    }
  };
  auto all = [](const State& s) {
    std::map<std::string, FieldMap> m;
    for (const auto& o : s.orgs) m["organization " + o.id] = DescribeOrg(s, o);
    for (const auto& u : s.users) m["user " + u.id] = DescribeUser(s, u);
    for (const auto& [id, idp] : s.idps) m["idp " + id] = DescribeIdp(idp);
    return m;
  };
  diff_entities(all(a), all(b));
  // Tokens are never removed, so b holds every token of a (and more) when b is later;
  // compare record by record without building maps for unchanged ones.
  const State& big = a.tokens.size() >= b.tokens.size() ? a : b;
  for (std::size_t i = 0; i < big.tokens.size(); ++i) {
    const auto& rec = big.tokens.at(static_cast<Idx>(i));
    const auto* ta = a.FindToken(rec.prefix.view());
    const auto* tb = b.FindToken(rec.prefix.view());
    if (ta && tb && *ta == *tb && a.OwnerOf(*ta).id == b.OwnerOf(*tb).id &&
        a.Method(*ta) == b.Method(*tb)) {
      continue;
    }
    FieldMap ma, mb;
    if (ta) ma = DescribeToken(a, *ta);
    if (tb) mb = DescribeToken(b, *tb);
    DiffFields("token " + rec.prefix.str(), ta ? &ma : nullptr, tb ? &mb : nullptr, out);
  }
  return out;
}

}  // namespace authledger::replay

namespace authledger {

std::vector<FieldChange> PolicyChanges(const std::string& entity,
                                       const AuthenticationPolicy& before,
                                       const AuthenticationPolicy& after) {
  std::vector<FieldChange> out;
  const replay::FieldMap b = replay::DescribePolicy(before);
  const replay::FieldMap a = replay::DescribePolicy(after);
  replay::DiffFields(entity, &b, &a, out);
  return out;
}

}  // namespace authledger
