#include <algorithm>
#include <cctype>

#include "engine/state.h"

namespace authledger::internal {

namespace {

std::string Str(capnp::Text::Reader t) { return {t.begin(), t.size()}; }

std::vector<std::string> Strs(capnp::List<capnp::Text>::Reader list) {
  std::vector<std::string> out;
  out.reserve(list.size());
  for (auto t : list) out.push_back(Str(t));
  return out;
}

std::vector<Cidr> ParsedRanges(const std::vector<std::string>& texts) {
  // The log holds only CIDRs that were validated when their command was decided; a
  // range that no longer parses (a damaged log) matches nothing: fail closed.
  std::vector<Cidr> out;
  for (const auto& t : texts) {
    auto c = ParseCidr(t);
    if (c.ok()) out.push_back(*c);
  }
  return out;
}

TokenKind KindFromSchema(schema::TokenKind k) {
  switch (k) {
    case schema::TokenKind::SESSION:
      return TokenKind::kSession;
    case schema::TokenKind::PERSONAL:
      return TokenKind::kPersonal;
    case schema::TokenKind::APPLICATION:
      return TokenKind::kApplication;
  }
  return TokenKind::kSession;
}

template <typename Map>
Idx Lookup(const Map& map, std::string_view key) {
  auto it = map.find(key);
  return it == map.end() ? kNoIdx : it->second;
}

}  // namespace

// ---- State ----

bool User::MemberOf(Idx org) const { return std::binary_search(orgs.begin(), orgs.end(), org); }

Idx State::OrgIdx(std::string_view id) const { return OrgIdx(id, IdIndex::TagOf(id)); }
Idx State::UserIdx(std::string_view id) const { return UserIdx(id, IdIndex::TagOf(id)); }
Idx State::OrgIdx(std::string_view id, std::uint32_t tag) const {
  return org_index.Find(id, tag, [&](Idx i) -> std::string_view { return orgs[i].id; });
}
Idx State::UserIdx(std::string_view id, std::uint32_t tag) const {
  return user_index.Find(id, tag, [&](Idx i) -> std::string_view { return users[i].id; });
}

const Organization* State::FindOrg(std::string_view id) const {
  Idx i = OrgIdx(id);
  return i == kNoIdx ? nullptr : &orgs[i];
}

const User* State::FindUser(std::string_view id) const {
  Idx i = UserIdx(id);
  return i == kNoIdx ? nullptr : &users[i];
}

const TokenRecord* State::FindToken(std::string_view prefix) const {
  Idx i = tokens.Find(prefix);
  return i == kNoIdx ? nullptr : &tokens.at(i);
}

const IdentityProvider* State::FindIdp(std::string_view id) const {
  auto it = idps.find(id);
  return it == idps.end() ? nullptr : &it->second;
}

const Organization* State::ManagingOrg(const User& user) const {
  if (user.application) return nullptr;
  Idx i = Lookup(domain_owner, EmailDomain(user.email));
  return i == kNoIdx ? nullptr : &orgs[i];
}

// Find first (no key string is built for the common case of an existing entry).
Organization& State::OrgFor(std::string_view id) {
  const std::uint32_t tag = IdIndex::TagOf(id);
  if (const Idx i = OrgIdx(id, tag); i != kNoIdx) return orgs[i];
  org_index.Insert(tag, static_cast<Idx>(orgs.size()));
  orgs.emplace_back();
  orgs.back().id = std::string(id);
  return orgs.back();
}

User& State::UserFor(std::string_view id) {
  const std::uint32_t tag = IdIndex::TagOf(id);
  if (const Idx i = UserIdx(id, tag); i != kNoIdx) return users[i];
  user_index.Insert(tag, static_cast<Idx>(users.size()));
  users.emplace_back();
  users.back().id = std::string(id);
  return users.back();
}

Idx State::InternMethod(std::string_view method) {
  if (auto it = method_index.find(method); it != method_index.end()) return it->second;
  method_index.emplace(std::string(method), static_cast<Idx>(methods.size()));
  methods.emplace_back(method);
  return static_cast<Idx>(methods.size() - 1);
}

Idx State::InternIpList(const std::vector<std::string>& cidrs) {
  if (cidrs.empty()) return 0;
  std::string key;
  for (const auto& c : cidrs) key.append(c).push_back(',');
  auto [it, inserted] = ip_list_index.try_emplace(key, static_cast<Idx>(ip_lists.size()));
  if (inserted) ip_lists.push_back(ParsedRanges(cidrs));
  return it->second;
}

void State::AddToken(TokenRecord record) {
  User& owner = users[record.owner];
  record.next_of_owner = owner.last_token;
  owner.last_token = tokens.Add(std::move(record));
}

std::string EmailDomain(std::string_view email) {
  auto at = email.rfind('@');
  if (at == std::string_view::npos) return {};
  std::string d(email.substr(at + 1));
  std::transform(d.begin(), d.end(), d.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return d;
}

AuthenticationPolicy PolicyFromSchema(schema::AuthenticationPolicy::Reader p) {
  AuthenticationPolicy out;
  out.version = p.getVersion();
  out.password_auth_enabled = p.getPasswordAuthEnabled();
  out.two_factor_required = p.getTwoFactorRequired();
  out.oauth_enabled = p.getOauthEnabled();
  out.oauth_providers = Strs(p.getOauthProviders());
  out.saml_enabled = p.getSamlEnabled();
  out.saml_allow_external = p.getSamlAllowExternal();
  out.personal_tokens_enabled = p.getPersonalTokensEnabled();
  out.personal_tokens_require_allowed_auth_method = p.getPersonalTokensRequireAllowedAuthMethod();
  return out;
}

void PolicyToSchema(const AuthenticationPolicy& p, schema::AuthenticationPolicy::Builder out) {
  out.setVersion(p.version);
  out.setPasswordAuthEnabled(p.password_auth_enabled);
  out.setTwoFactorRequired(p.two_factor_required);
  out.setOauthEnabled(p.oauth_enabled);
  auto providers = out.initOauthProviders(static_cast<unsigned>(p.oauth_providers.size()));
  for (unsigned i = 0; i < providers.size(); ++i) {
    // With its size: a std::string converts to Text through c_str(), cut at a NUL.
    providers.set(i, capnp::Text::Reader(p.oauth_providers[i].data(), p.oauth_providers[i].size()));
  }
  out.setSamlEnabled(p.saml_enabled);
  out.setSamlAllowExternal(p.saml_allow_external);
  out.setPersonalTokensEnabled(p.personal_tokens_enabled);
  out.setPersonalTokensRequireAllowedAuthMethod(p.personal_tokens_require_allowed_auth_method);
}

// ---- Evolve ----

namespace {

void AddMembership(State& s, std::string_view org_id, std::string_view user_id) {
  const Idx o = static_cast<Idx>(&s.OrgFor(org_id) - s.orgs.data());
  User& u = s.UserFor(user_id);
  const Idx ui = static_cast<Idx>(&u - s.users.data());
  s.orgs[o].members.insert(ui);
  auto pos = std::lower_bound(u.orgs.begin(), u.orgs.end(), o);
  if (pos == u.orgs.end() || *pos != o) u.orgs.insert(pos, o);
}

void RemoveMembership(State& s, std::string_view org_id, std::string_view user_id) {
  Idx o = s.OrgIdx(org_id);
  Idx ui = s.UserIdx(user_id);
  if (o == kNoIdx || ui == kNoIdx) return;
  s.orgs[o].members.erase(ui);
  auto& orgs = s.users[ui].orgs;
  auto pos = std::lower_bound(orgs.begin(), orgs.end(), o);
  if (pos != orgs.end() && *pos == o) orgs.erase(pos);
}

void CreateToken(State& s, schema::TokenCreated::Reader e, std::int64_t now, std::uint64_t seq) {
  TokenRecord t;
  t.prefix = Prefix(View(e.getTokenPrefix()));
  auto hash = e.getSecretHash();
  if (hash.size() == t.secret_hash.size())
    std::copy(hash.begin(), hash.end(), t.secret_hash.begin());
  t.kind = KindFromSchema(e.getKind());
  t.owner = static_cast<Idx>(&s.UserFor(View(e.getOwnerUserId())) - s.users.data());
  if (e.getOrgId().size() > 0) {
    t.org = static_cast<Idx>(&s.OrgFor(View(e.getOrgId())) - s.orgs.data());
  }
  t.method = s.InternMethod(View(e.getMethod()));
  t.two_factor_used = e.getTwoFactorUsed();
  t.created_us = now;
  t.created_seq = seq;
  t.expiry_time_us = e.getExpiryTimeUs();
  t.max_age_seconds = e.getMaxAgeSeconds();
  t.extend_when_used = e.getExtendWhenUsed();
  if (e.getIpAllowlist().size() > 0) t.ip_allowlist = s.InternIpList(Strs(e.getIpAllowlist()));
  // A prefix seen twice (only in a damaged log: decide refuses duplicates) keeps the first.
  if (s.tokens.Find(t.prefix.view()) == kNoIdx) s.AddToken(std::move(t));
}

}  // namespace

void Evolve(State& s, schema::Envelope::Reader envelope) {
  using E = schema::Envelope::Event;
  const std::uint64_t seq = envelope.getSeq();
  const std::int64_t now = envelope.getTimeUs();
  EvolveAdvance(s, seq, now);
  auto event = envelope.getEvent();
  switch (event.which()) {
    case E::ORGANIZATION_CREATED: {
      auto e = event.getOrganizationCreated();
      Organization& org = s.OrgFor(View(e.getOrgId()));
      org.name = Str(e.getName());
      org.policy = PolicyFromSchema(e.getPolicy());
      break;
    }
    case E::DOMAIN_VERIFIED: {
      auto e = event.getDomainVerified();
      Organization& org = s.OrgFor(View(e.getOrgId()));
      org.domains.insert(Str(e.getDomain()));
      s.domain_owner[Str(e.getDomain())] = s.OrgIdx(View(e.getOrgId()));
      break;
    }
    case E::DOMAIN_UNVERIFIED: {
      auto e = event.getDomainUnverified();
      auto it = s.domain_owner.find(View(e.getDomain()));
      if (it != s.domain_owner.end()) s.domain_owner.erase(it);
      s.OrgFor(View(e.getOrgId())).domains.erase(Str(e.getDomain()));
      break;
    }
    case E::IDP_ADDED: {
      auto e = event.getIdpAdded();
      IdentityProvider& idp = s.idps[Str(e.getIdpId())];
      idp.id = Str(e.getIdpId());
      idp.org_id = Str(e.getOrgId());
      idp.domains = Strs(e.getDomains());
      idp.max_age_seconds = e.getMaxAgeSeconds();
      idp.extend_when_used = e.getExtendWhenUsed();
      s.OrgFor(idp.org_id).idps.insert(idp.id);
      break;
    }
    case E::IDP_REMOVED: {
      auto e = event.getIdpRemoved();
      IdentityProvider& idp = s.idps[Str(e.getIdpId())];
      idp.id = Str(e.getIdpId());
      idp.removed = true;
      s.OrgFor(View(e.getOrgId())).idps.erase(Str(e.getIdpId()));
      break;
    }
    case E::USER_REGISTERED: {
      auto e = event.getUserRegistered();
      s.UserFor(View(e.getUserId())).email = Str(e.getEmail());
      break;
    }
    case E::USER_DEACTIVATED:
      s.UserFor(View(event.getUserDeactivated().getUserId())).active = false;
      break;
    case E::USER_REACTIVATED:
      s.UserFor(View(event.getUserReactivated().getUserId())).active = true;
      break;
    case E::MEMBER_ADDED:
      AddMembership(s, View(event.getMemberAdded().getOrgId()),
                    View(event.getMemberAdded().getUserId()));
      break;
    case E::MEMBER_REMOVED:
      RemoveMembership(s, View(event.getMemberRemoved().getOrgId()),
                       View(event.getMemberRemoved().getUserId()));
      break;
    case E::APPLICATION_USER_CREATED: {
      auto e = event.getApplicationUserCreated();
      s.OrgFor(View(e.getOrgId()));
      Idx org = s.OrgIdx(View(e.getOrgId()));
      User& u = s.UserFor(View(e.getUserId()));
      u.email.clear();
      u.application = true;
      u.application_org = org;
      s.orgs[org].application_users.insert(s.UserIdx(View(e.getUserId())));
      break;
    }
    case E::APPLICATION_USER_DELETED: {
      auto e = event.getApplicationUserDeleted();
      User& u = s.UserFor(View(e.getUserId()));
      u.deleted = true;
      u.active = false;
      s.OrgFor(View(e.getOrgId())).application_users.erase(s.UserIdx(View(e.getUserId())));
      break;
    }
    case E::TWO_FACTOR_ENABLED:
      s.UserFor(View(event.getTwoFactorEnabled().getUserId())).two_factor_enabled = true;
      break;
    case E::TWO_FACTOR_DISABLED:
      s.UserFor(View(event.getTwoFactorDisabled().getUserId())).two_factor_enabled = false;
      break;
    case E::POLICY_CHANGED: {
      auto e = event.getPolicyChanged();
      s.OrgFor(View(e.getOrgId())).policy = PolicyFromSchema(e.getPolicy());
      break;
    }
    case E::IP_ALLOWLIST_CHANGED: {
      auto e = event.getIpAllowlistChanged();
      Organization& org = s.OrgFor(View(e.getOrgId()));
      org.allowlist.version = e.getVersion();
      org.allowlist.enabled = e.getEnabled();
      org.allowlist.cidrs = Strs(e.getCidrs());
      org.allowlist_ranges = ParsedRanges(org.allowlist.cidrs);
      break;
    }
    case E::LOGIN_REJECTED:
      break;  // a record for audit; it changes no state
    case E::TOKEN_CREATED:
      CreateToken(s, event.getTokenCreated(), now, seq);
      break;
    case E::TOKEN_REVOKED: {
      Idx i = s.tokens.Find(View(event.getTokenRevoked().getTokenPrefix()));
      if (i != kNoIdx) s.tokens.at(i).revoked = true;
      break;
    }
    case E::USER_TOKENS_EXPIRED: {
      auto e = event.getUserTokensExpired();
      User& u = s.UserFor(View(e.getUserId()));
      u.token_validity_begin_us = e.getValidityBeginUs();
      u.token_validity_begin_seq = seq;
      break;
    }
    case E::TOKEN_USED: {
      auto e = event.getTokenUsed();
      const PrefixKey key(View(e.getTokenPrefix()));
      EvolveTokenUse(s, key, key.Hash(), e.getLastUsedUs());
      break;
    }
  }
}

EvolveLookup EvolveLookupOf(schema::Envelope::Reader envelope) {
  using E = schema::Envelope::Event;
  auto event = envelope.getEvent();
  capnp::Text::Reader prefix;
  EvolveLookup lookup;
  auto user = [&](capnp::Text::Reader id) {
    lookup.user_tag = IdIndex::TagOf(View(id));
    lookup.has_user = true;
  };
  switch (event.which()) {
    case E::TOKEN_USED:
      prefix = event.getTokenUsed().getTokenPrefix();
      break;
    case E::TOKEN_REVOKED:
      prefix = event.getTokenRevoked().getTokenPrefix();
      break;
    case E::TOKEN_CREATED:
      prefix = event.getTokenCreated().getTokenPrefix();
      user(event.getTokenCreated().getOwnerUserId());
      break;
    case E::MEMBER_ADDED:
      user(event.getMemberAdded().getUserId());
      return lookup;
    default:
      return lookup;
  }
  lookup.token_hash = EvolveLookup::TokenHash(PrefixKey(View(prefix)));
  return lookup;
}

}  // namespace authledger::internal
