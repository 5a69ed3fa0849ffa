#include "storage/subjects.h"

#include <algorithm>
#include <iterator>

#include "storage/event_codec.h"

namespace authledger::storage {

namespace {

// The whole text, NUL bytes included (cStr() would stop at the first one).
std::string_view View(capnp::Text::Reader text) { return {text.begin(), text.size()}; }

class SubjectList {
 public:
  void Add(SubjectKind kind, capnp::Text::Reader id) { Add(kind, View(id)); }
  void Add(SubjectKind kind, std::string_view id) {
    if (id.empty()) return;
    Subject subject{kind, std::string(id)};
    if (std::find(subjects_.begin(), subjects_.end(), subject) == subjects_.end()) {
      subjects_.push_back(std::move(subject));
    }
  }
  std::vector<Subject> Take() { return std::move(subjects_); }

 private:
  std::vector<Subject> subjects_;
};

}  // namespace

std::string_view IdpOfMethod(std::string_view method) {
  constexpr std::string_view kSaml = "saml:";
  if (method.substr(0, kSaml.size()) != kSaml) return {};
  return method.substr(kSaml.size());
}

std::vector<Subject> SubjectsOf(schema::Envelope::Reader envelope) {
  using K = SubjectKind;
  using E = schema::Envelope::Event;
  SubjectList s;
  auto event = envelope.getEvent();
  switch (event.which()) {
    case E::ORGANIZATION_CREATED:
      s.Add(K::kOrganization, event.getOrganizationCreated().getOrgId());
      break;
    case E::DOMAIN_VERIFIED:
      s.Add(K::kOrganization, event.getDomainVerified().getOrgId());
      s.Add(K::kDomain, event.getDomainVerified().getDomain());
      break;
    case E::DOMAIN_UNVERIFIED:
      s.Add(K::kOrganization, event.getDomainUnverified().getOrgId());
      s.Add(K::kDomain, event.getDomainUnverified().getDomain());
      break;
    case E::IDP_ADDED:
      s.Add(K::kOrganization, event.getIdpAdded().getOrgId());
      s.Add(K::kIdp, event.getIdpAdded().getIdpId());
      break;
    case E::IDP_REMOVED:
      s.Add(K::kOrganization, event.getIdpRemoved().getOrgId());
      s.Add(K::kIdp, event.getIdpRemoved().getIdpId());
      break;
    case E::USER_REGISTERED:
      s.Add(K::kUser, event.getUserRegistered().getUserId());
      break;
    case E::USER_DEACTIVATED:
      s.Add(K::kUser, event.getUserDeactivated().getUserId());
      s.Add(K::kOrganization, event.getUserDeactivated().getOrgId());
      break;
    case E::USER_REACTIVATED:
      s.Add(K::kUser, event.getUserReactivated().getUserId());
      s.Add(K::kOrganization, event.getUserReactivated().getOrgId());
      break;
    case E::MEMBER_ADDED:
      s.Add(K::kOrganization, event.getMemberAdded().getOrgId());
      s.Add(K::kUser, event.getMemberAdded().getUserId());
      break;
    case E::MEMBER_REMOVED:
      s.Add(K::kOrganization, event.getMemberRemoved().getOrgId());
      s.Add(K::kUser, event.getMemberRemoved().getUserId());
      break;
    case E::APPLICATION_USER_CREATED:
      s.Add(K::kOrganization, event.getApplicationUserCreated().getOrgId());
      s.Add(K::kUser, event.getApplicationUserCreated().getUserId());
      break;
    case E::APPLICATION_USER_DELETED:
      s.Add(K::kOrganization, event.getApplicationUserDeleted().getOrgId());
      s.Add(K::kUser, event.getApplicationUserDeleted().getUserId());
      break;
    case E::TWO_FACTOR_ENABLED:
      s.Add(K::kUser, event.getTwoFactorEnabled().getUserId());
      break;
    case E::TWO_FACTOR_DISABLED:
      s.Add(K::kUser, event.getTwoFactorDisabled().getUserId());
      break;
    case E::POLICY_CHANGED:
      s.Add(K::kOrganization, event.getPolicyChanged().getOrgId());
      break;
    case E::IP_ALLOWLIST_CHANGED:
      s.Add(K::kOrganization, event.getIpAllowlistChanged().getOrgId());
      break;
    case E::LOGIN_REJECTED: {
      auto e = event.getLoginRejected();
      s.Add(K::kUser, e.getUserId());
      s.Add(K::kOrganization, e.getOrgId());
      s.Add(K::kIdp, IdpOfMethod(View(e.getMethod())));
      break;
    }
    case E::TOKEN_CREATED: {
      auto e = event.getTokenCreated();
      s.Add(K::kToken, e.getTokenPrefix());
      s.Add(K::kUser, e.getOwnerUserId());
      s.Add(K::kOrganization, e.getOrgId());
      s.Add(K::kIdp, IdpOfMethod(View(e.getMethod())));
      s.Add(K::kToken, e.getSessionPrefix());
      break;
    }
    case E::TOKEN_REVOKED: {
      auto e = event.getTokenRevoked();
      s.Add(K::kToken, e.getTokenPrefix());
      s.Add(K::kUser, e.getOwnerUserId());
      s.Add(K::kOrganization, e.getOrgId());
      break;
    }
    case E::USER_TOKENS_EXPIRED:
      s.Add(K::kUser, event.getUserTokensExpired().getUserId());
      break;
    case E::TOKEN_USED:
      s.Add(K::kToken, event.getTokenUsed().getTokenPrefix());
      s.Add(K::kUser, event.getTokenUsed().getOwnerUserId());
      break;
  }
  // An event of a later schema version (unknown union member) lands in no case above.
  return s.Take();
}

std::vector<Subject> NarrowSubjectsOf(schema::Envelope::Reader envelope) {
  using K = SubjectKind;
  using E = schema::Envelope::Event;
  SubjectList s;
  auto event = envelope.getEvent();
  switch (event.which()) {
    case E::ORGANIZATION_CREATED:
      s.Add(K::kOrganizationConfig, event.getOrganizationCreated().getOrgId());
      break;
    case E::DOMAIN_VERIFIED:
      s.Add(K::kOrganizationConfig, event.getDomainVerified().getOrgId());
      break;
    case E::DOMAIN_UNVERIFIED:
      s.Add(K::kOrganizationConfig, event.getDomainUnverified().getOrgId());
      break;
    case E::IDP_ADDED:
      s.Add(K::kOrganizationConfig, event.getIdpAdded().getOrgId());
      s.Add(K::kIdpConfig, event.getIdpAdded().getIdpId());
      break;
    case E::IDP_REMOVED:
      s.Add(K::kOrganizationConfig, event.getIdpRemoved().getOrgId());
      s.Add(K::kIdpConfig, event.getIdpRemoved().getIdpId());
      break;
    case E::POLICY_CHANGED:
      s.Add(K::kOrganizationConfig, event.getPolicyChanged().getOrgId());
      break;
    case E::IP_ALLOWLIST_CHANGED:
      s.Add(K::kOrganizationConfig, event.getIpAllowlistChanged().getOrgId());
      break;
    case E::USER_REGISTERED:
      s.Add(K::kUserAccount, event.getUserRegistered().getUserId());
      break;
    case E::USER_DEACTIVATED:
      s.Add(K::kUserAccount, event.getUserDeactivated().getUserId());
      break;
    case E::USER_REACTIVATED:
      s.Add(K::kUserAccount, event.getUserReactivated().getUserId());
      break;
    case E::MEMBER_ADDED:
      s.Add(K::kUserAccount, event.getMemberAdded().getUserId());
      break;
    case E::MEMBER_REMOVED:
      s.Add(K::kUserAccount, event.getMemberRemoved().getUserId());
      break;
    case E::APPLICATION_USER_CREATED:
      s.Add(K::kUserAccount, event.getApplicationUserCreated().getUserId());
      break;
    case E::APPLICATION_USER_DELETED:
      s.Add(K::kUserAccount, event.getApplicationUserDeleted().getUserId());
      break;
    case E::TWO_FACTOR_ENABLED:
      s.Add(K::kUserAccount, event.getTwoFactorEnabled().getUserId());
      break;
    case E::TWO_FACTOR_DISABLED:
      s.Add(K::kUserAccount, event.getTwoFactorDisabled().getUserId());
      break;
    case E::USER_TOKENS_EXPIRED:
      s.Add(K::kUserAccount, event.getUserTokensExpired().getUserId());
      break;
    case E::TOKEN_CREATED:
      s.Add(K::kTokenLifecycle, event.getTokenCreated().getTokenPrefix());
      break;
    case E::TOKEN_REVOKED:
      s.Add(K::kTokenLifecycle, event.getTokenRevoked().getTokenPrefix());
      break;
    // A use changes only when a token extended on use expires (a token's history has
    // them); a refused login changes nothing. They are what makes broad histories long.
    case E::LOGIN_REJECTED:
    case E::TOKEN_USED:
      break;
  }
  return s.Take();
}

std::vector<Subject> IndexSubjectsOf(schema::Envelope::Reader envelope) {
  std::vector<Subject> subjects = SubjectsOf(envelope);
  std::vector<Subject> narrow = NarrowSubjectsOf(envelope);
  subjects.insert(subjects.end(), std::make_move_iterator(narrow.begin()),
                  std::make_move_iterator(narrow.end()));
  return subjects;
}

std::string IndexPrefix(const Subject& subject) {
  std::string prefix;
  prefix.reserve(subject.id.size() + 2);
  prefix.push_back(static_cast<char>(subject.kind));
  prefix.append(subject.id);
  prefix.push_back('\0');
  return prefix;
}

std::string IndexKey(const Subject& subject, std::uint64_t seq) {
  std::string key = IndexPrefix(subject);
  auto seq_key = SeqKey(seq);
  key.append(reinterpret_cast<const char*>(seq_key.data()), seq_key.size());
  return key;
}

}  // namespace authledger::storage
