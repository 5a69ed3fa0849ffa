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

std::vector<Cidr> ParsedRanges(capnp::List<capnp::Text>::Reader list) {
  // The log holds only CIDRs that were validated when their command was decided; a
  // range that no longer parses (e.g. a damaged log) matches nothing: fail closed.
  std::vector<Cidr> out;
  for (auto t : list) {
    auto c = ParseCidr(Str(t));
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

void RevokeToken(State& s, const std::string& prefix, std::uint64_t seq) {
  auto it = s.tokens.find(prefix);
  if (it == s.tokens.end() || it->second.revoked) return;
  it->second.revoked = true;
  it->second.revoked_seq = seq;
}

}  // namespace

std::string EmailDomain(const std::string& email) {
  auto at = email.rfind('@');
  if (at == std::string::npos) return {};
  std::string d = email.substr(at + 1);
  std::transform(d.begin(), d.end(), d.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return d;
}

const Organization* State::ManagingOrg(const User& user) const {
  if (user.application) return nullptr;
  auto d = domain_owner.find(EmailDomain(user.email));
  if (d == domain_owner.end()) return nullptr;
  auto o = orgs.find(d->second);
  return o == orgs.end() ? nullptr : &o->second;
}

const Token* State::FindTokenBySecretHash(const storage::Hash& h) const {
  auto it = token_by_secret.find(h);
  if (it == token_by_secret.end()) return nullptr;
  return FindToken(it->second);
}

const Token* State::FindToken(const std::string& prefix) const {
  auto it = tokens.find(prefix);
  return it == tokens.end() ? nullptr : &it->second;
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
  for (unsigned i = 0; i < providers.size(); ++i) providers.set(i, p.oauth_providers[i]);
  out.setSamlEnabled(p.saml_enabled);
  out.setSamlAllowExternal(p.saml_allow_external);
  out.setPersonalTokensEnabled(p.personal_tokens_enabled);
  out.setPersonalTokensRequireAllowedAuthMethod(p.personal_tokens_require_allowed_auth_method);
}

void Evolve(State& s, schema::Envelope::Reader envelope) {
  using E = schema::Envelope::Event;
  const std::uint64_t seq = envelope.getSeq();
  const std::int64_t now = envelope.getTimeUs();
  s.revision = seq;
  s.last_time_us = now;
  auto event = envelope.getEvent();
  switch (event.which()) {
    case E::ORGANIZATION_CREATED: {
      auto e = event.getOrganizationCreated();
      Organization& org = s.orgs[Str(e.getOrgId())];
      org.id = Str(e.getOrgId());
      org.name = Str(e.getName());
      org.policy = PolicyFromSchema(e.getPolicy());
      break;
    }
    case E::DOMAIN_VERIFIED: {
      auto e = event.getDomainVerified();
      s.domain_owner[Str(e.getDomain())] = Str(e.getOrgId());
      s.orgs[Str(e.getOrgId())].domains.insert(Str(e.getDomain()));
      break;
    }
    case E::DOMAIN_UNVERIFIED: {
      auto e = event.getDomainUnverified();
      s.domain_owner.erase(Str(e.getDomain()));
      s.orgs[Str(e.getOrgId())].domains.erase(Str(e.getDomain()));
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
      s.orgs[idp.org_id].idps.insert(idp.id);
      break;
    }
    case E::IDP_REMOVED: {
      auto e = event.getIdpRemoved();
      s.idps[Str(e.getIdpId())].removed = true;
      s.orgs[Str(e.getOrgId())].idps.erase(Str(e.getIdpId()));
      break;
    }
    case E::USER_REGISTERED: {
      auto e = event.getUserRegistered();
      User& u = s.users[Str(e.getUserId())];
      u.id = Str(e.getUserId());
      u.email = Str(e.getEmail());
      break;
    }
    case E::USER_DEACTIVATED:
      s.users[Str(event.getUserDeactivated().getUserId())].active = false;
      break;
    case E::USER_REACTIVATED:
      s.users[Str(event.getUserReactivated().getUserId())].active = true;
      break;
    case E::MEMBER_ADDED: {
      auto e = event.getMemberAdded();
      s.orgs[Str(e.getOrgId())].members.insert(Str(e.getUserId()));
      s.users[Str(e.getUserId())].orgs.insert(Str(e.getOrgId()));
      break;
    }
    case E::MEMBER_REMOVED: {
      auto e = event.getMemberRemoved();
      s.orgs[Str(e.getOrgId())].members.erase(Str(e.getUserId()));
      s.users[Str(e.getUserId())].orgs.erase(Str(e.getOrgId()));
      break;
    }
    case E::APPLICATION_USER_CREATED: {
      auto e = event.getApplicationUserCreated();
      User& u = s.users[Str(e.getUserId())];
      u.id = Str(e.getUserId());
      u.email.clear();
      u.application = true;
      u.application_org = Str(e.getOrgId());
      s.orgs[u.application_org].application_users.insert(u.id);
      break;
    }
    case E::APPLICATION_USER_DELETED: {
      auto e = event.getApplicationUserDeleted();
      User& u = s.users[Str(e.getUserId())];
      u.deleted = true;
      u.active = false;
      s.orgs[Str(e.getOrgId())].application_users.erase(u.id);
      break;
    }
    case E::TWO_FACTOR_ENABLED:
      s.users[Str(event.getTwoFactorEnabled().getUserId())].two_factor_enabled = true;
      break;
    case E::TWO_FACTOR_DISABLED:
      s.users[Str(event.getTwoFactorDisabled().getUserId())].two_factor_enabled = false;
      break;
    case E::POLICY_CHANGED: {
      auto e = event.getPolicyChanged();
      s.orgs[Str(e.getOrgId())].policy = PolicyFromSchema(e.getPolicy());
      break;
    }
    case E::IP_ALLOWLIST_CHANGED: {
      auto e = event.getIpAllowlistChanged();
      Organization& org = s.orgs[Str(e.getOrgId())];
      org.allowlist.version = e.getVersion();
      org.allowlist.enabled = e.getEnabled();
      org.allowlist.cidrs = Strs(e.getCidrs());
      org.allowlist_ranges = ParsedRanges(e.getCidrs());
      break;
    }
    case E::LOGIN_REJECTED:
      break;  // a record for audit; it changes no state
    case E::TOKEN_CREATED: {
      auto e = event.getTokenCreated();
      Token t;
      t.prefix = Str(e.getTokenPrefix());
      auto hash = e.getSecretHash();
      if (hash.size() == t.secret_hash.size())
        std::copy(hash.begin(), hash.end(), t.secret_hash.begin());
      t.kind = KindFromSchema(e.getKind());
      t.owner = Str(e.getOwnerUserId());
      t.org_id = Str(e.getOrgId());
      t.method = Str(e.getMethod());
      t.session_prefix = Str(e.getSessionPrefix());
      t.two_factor_used = e.getTwoFactorUsed();
      t.created_us = now;
      t.created_seq = seq;
      t.expiry_time_us = e.getExpiryTimeUs();
      t.max_age_seconds = e.getMaxAgeSeconds();
      t.extend_when_used = e.getExtendWhenUsed();
      t.ip_allowlist = ParsedRanges(e.getIpAllowlist());
      t.scopes = Strs(e.getScopes());
      s.token_by_secret[t.secret_hash] = t.prefix;
      s.tokens_by_owner[t.owner].push_back(t.prefix);
      s.tokens[t.prefix] = std::move(t);
      break;
    }
    case E::TOKEN_REVOKED:
      RevokeToken(s, Str(event.getTokenRevoked().getTokenPrefix()), seq);
      break;
    case E::USER_TOKENS_EXPIRED: {
      auto e = event.getUserTokensExpired();
      User& u = s.users[Str(e.getUserId())];
      u.token_validity_begin_us = e.getValidityBeginUs();
      u.token_validity_begin_seq = seq;
      break;
    }
    case E::TOKEN_USED: {
      auto e = event.getTokenUsed();
      auto it = s.tokens.find(Str(e.getTokenPrefix()));
      if (it != s.tokens.end()) {
        it->second.last_used_us = std::max(it->second.last_used_us, e.getLastUsedUs());
        it->second.last_ip = Str(e.getLastIp());
      }
      break;
    }
  }
}

}  // namespace authledger::internal
