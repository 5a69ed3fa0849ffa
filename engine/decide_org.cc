// Decide for organizations, domains, IdPs, users, members and the policy.
#include <algorithm>

#include "engine/decide_util.h"
#include "engine/rules.h"

namespace authledger::internal {

namespace {

const std::vector<std::string> kOauthProviders = {"github", "google", "microsoft"};

bool AnyMethodEnabled(const AuthenticationPolicy& p) {
  return p.password_auth_enabled || (p.oauth_enabled && !p.oauth_providers.empty()) ||
         p.saml_enabled;
}

}  // namespace

Result<Decided> Decide(const State& state, const Command& command, const DecideContext& ctx) {
  Decider decider(state, ctx);
  Status s = std::visit(decider, command);
  if (!s.ok()) return s;
  return std::move(decider.out());
}

Result<const Organization*> Decider::Org(const std::string& org_id) const {
  const Organization* org = s_.FindOrg(org_id);
  if (org == nullptr) {
    return Status::NotFound("unknown_organization", "no organization '" + org_id + "'");
  }
  return org;
}

Result<const User*> Decider::FindUser(const std::string& user_id) const {
  const User* user = s_.FindUser(user_id);
  if (user == nullptr || user->deleted) {
    return Status::NotFound("unknown_user", "no user '" + user_id + "'");
  }
  return user;
}

storage::EventDraft& Decider::Add(std::uint64_t cause) {
  out_.events.push_back(NewEvent(ctx_, cause));
  return out_.events.back();
}

Status Decider::operator()(const CreateOrganizationCmd& c) {
  if (Status v = ValidateId("organization id", c.org_id); !v.ok()) return v;
  if (c.name.size() > 256)
    return Status::InvalidArgument("invalid_name", "a name holds at most 256 characters");
  if (s_.FindOrg(c.org_id) != nullptr) {
    return Status::Conflict("organization_exists", "organization '" + c.org_id + "' exists");
  }
  auto e = Add().envelope().getEvent().initOrganizationCreated();
  e.setOrgId(CapText(c.org_id));
  e.setName(CapText(c.name));
  PolicyToSchema(AuthenticationPolicy{}, e.initPolicy());
  return Status::Ok();
}

Status Decider::operator()(const VerifyDomainCmd& c) {
  auto org = Org(c.org_id);
  if (!org.ok()) return org.status();
  auto domain = NormalizeDomain(c.domain);
  if (!domain.ok()) return domain.status();
  if (auto it = s_.domain_owner.find(*domain); it != s_.domain_owner.end()) {
    if (s_.orgs[it->second].id == c.org_id) {
      return Status::Conflict("domain_already_verified", *domain + " is already verified");
    }
    return Refuse("domain_verified_by_another_organization",
                  *domain + " is verified by another organization");
  }
  auto e = Add().envelope().getEvent().initDomainVerified();
  e.setOrgId(CapText(c.org_id));
  e.setDomain(CapText(*domain));
  return Status::Ok();
}

Status Decider::operator()(const UnverifyDomainCmd& c) {
  auto org = Org(c.org_id);
  if (!org.ok()) return org.status();
  auto domain = NormalizeDomain(c.domain);
  if (!domain.ok()) return domain.status();
  if (!(*org)->domains.contains(*domain)) {
    return Status::NotFound("domain_not_verified", *domain + " is not verified by " + c.org_id);
  }
  for (const auto& idp_id : (*org)->idps) {
    const auto& idp = s_.idps.at(idp_id);
    bool other = std::any_of(idp.domains.begin(), idp.domains.end(), [&](const std::string& d) {
      return d != *domain && (*org)->domains.contains(d);
    });
    if (!other) {
      return Refuse("domain_in_use_by_idp",
                    "IdP '" + idp_id + "' is linked to no other verified domain");
    }
  }
  auto e = Add().envelope().getEvent().initDomainUnverified();
  e.setOrgId(CapText(c.org_id));
  e.setDomain(CapText(*domain));
  return Status::Ok();
}

Status Decider::operator()(const AddIdpCmd& c) {
  auto org = Org(c.org_id);
  if (!org.ok()) return org.status();
  if (Status v = ValidateId("IdP id", c.idp.idp_id); !v.ok()) return v;
  if (s_.idps.contains(c.idp.idp_id)) {
    return Status::Conflict("idp_exists", "IdP id '" + c.idp.idp_id + "' is taken");
  }
  if (c.idp.domains.empty()) {
    return Status::InvalidArgument("idp_needs_domain", "an IdP is linked to at least one domain");
  }
  std::vector<std::string> domains;
  for (const auto& d : c.idp.domains) {
    auto domain = NormalizeDomain(d);
    if (!domain.ok()) return domain.status();
    if (!(*org)->domains.contains(*domain)) {
      return Refuse("domain_not_verified", *domain + " is not verified by " + c.org_id);
    }
    domains.push_back(*domain);
  }
  if (c.idp.max_age_seconds < 600 || c.idp.max_age_seconds > 315360000) {
    return Status::InvalidArgument("invalid_max_age",
                                   "max_age_seconds must be between 600 and 315360000");
  }
  auto e = Add().envelope().getEvent().initIdpAdded();
  e.setOrgId(CapText(c.org_id));
  e.setIdpId(CapText(c.idp.idp_id));
  SetList(e.initDomains(static_cast<unsigned>(domains.size())), domains);
  e.setMaxAgeSeconds(c.idp.max_age_seconds);
  e.setExtendWhenUsed(c.idp.extend_when_used);
  e.setName(CapText(c.idp.name));
  return Status::Ok();
}

Status Decider::operator()(const RemoveIdpCmd& c) {
  auto org = Org(c.org_id);
  if (!org.ok()) return org.status();
  if (!(*org)->idps.contains(c.idp_id)) {
    return Status::NotFound("unknown_idp", "organization has no IdP '" + c.idp_id + "'");
  }
  auto e = Add().envelope().getEvent().initIdpRemoved();
  e.setOrgId(CapText(c.org_id));
  e.setIdpId(CapText(c.idp_id));
  return Status::Ok();
}

Status Decider::operator()(const RegisterUserCmd& c) {
  if (Status v = ValidateId("user id", c.user_id); !v.ok()) return v;
  auto email = NormalizeEmail(c.email);
  if (!email.ok()) return email.status();
  if (s_.FindUser(c.user_id) != nullptr) {
    return Status::Conflict("user_exists", "user '" + c.user_id + "' exists");
  }
  auto e = Add().envelope().getEvent().initUserRegistered();
  e.setUserId(CapText(c.user_id));
  e.setEmail(CapText(*email));
  return Status::Ok();
}

Status Decider::operator()(const AddMemberCmd& c) {
  auto org = Org(c.org_id);
  if (!org.ok()) return org.status();
  auto user = FindUser(c.user_id);
  if (!user.ok()) return user.status();
  if ((*user)->application) {
    return Status::InvalidArgument("application_user", "an application user cannot be a member");
  }
  if ((*org)->members.contains(s_.UserIdx(c.user_id))) {
    return Status::Conflict("already_a_member", c.user_id + " is already a member");
  }
  auto e = Add().envelope().getEvent().initMemberAdded();
  e.setOrgId(CapText(c.org_id));
  e.setUserId(CapText(c.user_id));
  return Status::Ok();
}

Status Decider::operator()(const RemoveMemberCmd& c) {
  auto org = Org(c.org_id);
  if (!org.ok()) return org.status();
  if (!(*org)->members.contains(s_.UserIdx(c.user_id))) {
    return Status::NotFound("not_a_member", c.user_id + " is not a member of " + c.org_id);
  }
  auto e = Add().envelope().getEvent().initMemberRemoved();
  e.setOrgId(CapText(c.org_id));
  e.setUserId(CapText(c.user_id));
  return Status::Ok();
}

Result<const User*> Decider::ManagedBy(const std::string& user_id,
                                       const std::string& org_id) const {
  auto user = FindUser(user_id);
  if (!user.ok()) return user.status();
  const Organization* managing = s_.ManagingOrg(**user);
  if (managing == nullptr || managing->id != org_id) {
    return Status::PermissionDenied("user_not_managed_by_organization",
                                    user_id + " is not a managed user of " + org_id);
  }
  return *user;
}

Status Decider::operator()(const DeactivateUserCmd& c) {
  auto user = ManagedBy(c.user_id, c.org_id);
  if (!user.ok()) return user.status();
  if (!(*user)->active)
    return Status::Conflict("user_already_deactivated", c.user_id + " is deactivated");
  auto e = Add().envelope().getEvent().initUserDeactivated();
  e.setUserId(CapText(c.user_id));
  e.setOrgId(CapText(c.org_id));
  return Status::Ok();
}

Status Decider::operator()(const ReactivateUserCmd& c) {
  auto user = ManagedBy(c.user_id, c.org_id);
  if (!user.ok()) return user.status();
  if ((*user)->active) return Status::Conflict("user_not_deactivated", c.user_id + " is active");
  auto e = Add().envelope().getEvent().initUserReactivated();
  e.setUserId(CapText(c.user_id));
  e.setOrgId(CapText(c.org_id));
  return Status::Ok();
}

Status Decider::operator()(const CreateApplicationUserCmd& c) {
  auto org = Org(c.org_id);
  if (!org.ok()) return org.status();
  if (Status v = ValidateId("user id", c.user_id); !v.ok()) return v;
  if (s_.FindUser(c.user_id) != nullptr) {
    return Status::Conflict("user_exists", "user '" + c.user_id + "' exists");
  }
  auto e = Add().envelope().getEvent().initApplicationUserCreated();
  e.setOrgId(CapText(c.org_id));
  e.setUserId(CapText(c.user_id));
  e.setName(CapText(c.name));
  return Status::Ok();
}

Status Decider::operator()(const DeleteApplicationUserCmd& c) {
  auto org = Org(c.org_id);
  if (!org.ok()) return org.status();
  if (!(*org)->application_users.contains(s_.UserIdx(c.user_id))) {
    return Status::NotFound("unknown_application_user",
                            c.org_id + " has no application user '" + c.user_id + "'");
  }
  std::uint64_t cause = NextSeq();
  auto e = Add().envelope().getEvent().initApplicationUserDeleted();
  e.setOrgId(CapText(c.org_id));
  e.setUserId(CapText(c.user_id));
  std::vector<const TokenRecord*> doomed;  // oldest first, so revocations read in order
  s_.ForEachTokenOf(*s_.FindUser(c.user_id), [&](Idx, const TokenRecord& t) {
    if (!t.revoked) doomed.push_back(&t);
  });
  for (auto it = doomed.rbegin(); it != doomed.rend(); ++it) {
    Revoke(**it, schema::RevocationReason::APPLICATION_USER_DELETED, c.org_id, cause);
  }
  return Status::Ok();
}

Status Decider::operator()(const UpdatePolicyCmd& c) {
  auto org = Org(c.org_id);
  if (!org.ok()) return org.status();
  const AuthenticationPolicy& current = (*org)->policy;
  const PolicyUpdate& u = c.update;
  if (u.expected_version && *u.expected_version != current.version) {
    return Status::Conflict("conflict", "the policy is at version " +
                                            std::to_string(current.version) + ", not " +
                                            std::to_string(*u.expected_version));
  }
  AuthenticationPolicy next = current;
  next.version = current.version + 1;
  if (u.password_auth_enabled) next.password_auth_enabled = *u.password_auth_enabled;
  if (u.two_factor_required) next.two_factor_required = *u.two_factor_required;
  if (u.oauth_enabled) next.oauth_enabled = *u.oauth_enabled;
  if (u.oauth_providers) {
    std::vector<std::string> providers = *u.oauth_providers;
    std::sort(providers.begin(), providers.end());
    providers.erase(std::unique(providers.begin(), providers.end()), providers.end());
    for (const auto& p : providers) {
      if (std::find(kOauthProviders.begin(), kOauthProviders.end(), p) == kOauthProviders.end()) {
        return Status::InvalidArgument("invalid_oauth_provider",
                                       "'" + p + "' is not one of github, google, microsoft");
      }
    }
    next.oauth_providers = std::move(providers);
  }
  if (u.saml_enabled) next.saml_enabled = *u.saml_enabled;
  if (u.saml_allow_external) next.saml_allow_external = *u.saml_allow_external;
  if (u.personal_tokens_enabled) next.personal_tokens_enabled = *u.personal_tokens_enabled;
  if (u.personal_tokens_require_allowed_auth_method) {
    next.personal_tokens_require_allowed_auth_method =
        *u.personal_tokens_require_allowed_auth_method;
  }
  if (!AnyMethodEnabled(next)) {
    return Refuse("no_authentication_method_enabled",
                  "the policy would allow no login method at all");
  }
  bool saml_only = next.saml_enabled && !next.password_auth_enabled &&
                   !(next.oauth_enabled && !next.oauth_providers.empty());
  if (saml_only && (*org)->idps.empty() && !u.force) {
    return Refuse("saml_only_without_idp",
                  "SAML would be the only login method but the organization has no IdP; "
                  "add one first or force the update");
  }
  auto e = Add().envelope().getEvent().initPolicyChanged();
  e.setOrgId(CapText(c.org_id));
  PolicyToSchema(next, e.initPolicy());
  e.setForced(saml_only && (*org)->idps.empty());
  out_.policy_before = current;
  out_.policy_after = next;
  return Status::Ok();
}

Status Decider::operator()(const UpdateIpAllowlistCmd& c) {
  auto org = Org(c.org_id);
  if (!org.ok()) return org.status();
  auto ranges = ParseCidrList(c.cidrs, 100);
  if (!ranges.ok()) return ranges.status();
  if (c.enabled) {
    auto caller = ParseIp(ctx_.actor.ip);
    if (!caller.ok() || !AnyContains(*ranges, *caller)) {
      return Refuse(
          "api_client_ip_allowlist_blocks_caller",
          "the allowlist would shut out the caller's own address '" + ctx_.actor.ip + "'");
    }
  }
  std::vector<std::string> normalized;
  for (const auto& r : *ranges) normalized.push_back(r.ToString());
  auto e = Add().envelope().getEvent().initIpAllowlistChanged();
  e.setOrgId(CapText(c.org_id));
  e.setEnabled(c.enabled);
  SetList(e.initCidrs(static_cast<unsigned>(normalized.size())), normalized);
  e.setVersion((*org)->allowlist.version + 1);
  return Status::Ok();
}

}  // namespace authledger::internal
