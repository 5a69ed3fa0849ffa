#include "engine/conflicts.h"

#include "storage/subjects.h"

namespace authledger::internal {

namespace {

std::string Key(char kind, std::string_view id) {
  std::string k;
  k.reserve(id.size() + 2);
  k.push_back(kind);
  k.push_back(':');
  k.append(id);
  return k;
}

// Keys of a user and of what decides whether it is managed (its email domain and the
// organization verifying it).
void AddUser(const State& s, std::string_view user_id, std::vector<std::string>& keys) {
  keys.push_back(Key('u', user_id));
  const User* user = s.FindUser(user_id);
  if (user == nullptr) return;
  std::string domain = EmailDomain(user->email);
  if (!domain.empty()) keys.push_back(Key('d', domain));
  if (const Organization* managing = s.ManagingOrg(*user)) keys.push_back(Key('o', managing->id));
}

struct Reads {
  const State& s;
  ReadSet out;

  void operator()(const CreateOrganizationCmd& c) { Org(c.org_id); }
  void operator()(const VerifyDomainCmd& c) { Org(c.org_id), Domain(c.domain); }
  void operator()(const UnverifyDomainCmd& c) { Org(c.org_id), Domain(c.domain); }
  void operator()(const AddIdpCmd& c) { Org(c.org_id), Idp(c.idp.idp_id); }
  void operator()(const RemoveIdpCmd& c) { Org(c.org_id), Idp(c.idp_id); }
  void operator()(const RegisterUserCmd& c) { AddUser(s, c.user_id, out.keys); }
  void operator()(const AddMemberCmd& c) { Org(c.org_id), AddUser(s, c.user_id, out.keys); }
  void operator()(const RemoveMemberCmd& c) { Org(c.org_id), AddUser(s, c.user_id, out.keys); }
  void operator()(const DeactivateUserCmd& c) { Org(c.org_id), AddUser(s, c.user_id, out.keys); }
  void operator()(const ReactivateUserCmd& c) { Org(c.org_id), AddUser(s, c.user_id, out.keys); }
  void operator()(const CreateApplicationUserCmd& c) {
    Org(c.org_id), AddUser(s, c.user_id, out.keys);
  }
  void operator()(const DeleteApplicationUserCmd& c) {
    Org(c.org_id), AddUser(s, c.user_id, out.keys);
  }
  void operator()(const SetTwoFactorCmd& c) { AddUser(s, c.user_id, out.keys); }
  void operator()(const UpdatePolicyCmd&) { out.barrier = true; }
  void operator()(const UpdateIpAllowlistCmd& c) { Org(c.org_id); }
  void operator()(const RecordLoginCmd& c) {
    AddUser(s, c.login.user_id, out.keys);
    if (auto idp = storage::IdpOfMethod(c.login.method); !idp.empty()) Idp(idp);
    Token(c.token.prefix);
  }
  void operator()(const EndSessionCmd& c) { TokenAndOwner(c.session_prefix); }
  void operator()(const CreatePersonalTokenCmd& c) {
    TokenAndOwner(c.session_prefix);
    Token(c.token.prefix);
  }
  void operator()(const CreateApplicationTokenCmd& c) {
    Org(c.org_id), AddUser(s, c.app_user_id, out.keys);
    Token(c.token.prefix);
  }
  void operator()(const RevokeTokenCmd& c) {
    TokenAndOwner(c.token_prefix);
    if (!c.org_id.empty()) Org(c.org_id);
  }
  void operator()(const ExpireUserTokensCmd& c) { AddUser(s, c.user_id, out.keys); }
  void operator()(const RecordTokenUseCmd& c) {
    for (const auto& use : c.uses) Token(use.token_prefix);
  }

  void Org(std::string_view id) { out.keys.push_back(Key('o', id)); }
  // Lower-cased as decide normalizes it (EmailDomain lower-cases what follows the '@').
  void Domain(std::string_view d) {
    out.keys.push_back(Key('d', EmailDomain("@" + std::string(d))));
  }
  void Idp(std::string_view id) { out.keys.push_back(Key('i', id)); }
  void Token(std::string_view prefix) { out.keys.push_back(Key('t', prefix)); }
  void TokenAndOwner(std::string_view prefix) {
    Token(prefix);
    if (const TokenRecord* t = s.FindToken(prefix)) AddUser(s, s.OwnerOf(*t).id, out.keys);
  }
};

}  // namespace

ReadSet ReadsOf(const State& state, const Command& command) {
  Reads reads{state, {}};
  std::visit(reads, command);
  return std::move(reads.out);
}

void AppendWrites(schema::Envelope::Reader event, std::vector<std::string>* out) {
  for (const auto& subject : storage::SubjectsOf(event)) {
    // Subject kinds are spelled with the same letters as conflict keys.
    out->push_back(Key(static_cast<char>(subject.kind), subject.id));
  }
  auto e = event.getEvent();
  if (e.isDomainVerified()) {
    auto d = e.getDomainVerified().getDomain();
    out->push_back(Key('d', std::string_view(d.begin(), d.size())));
  } else if (e.isDomainUnverified()) {
    auto d = e.getDomainUnverified().getDomain();
    out->push_back(Key('d', std::string_view(d.begin(), d.size())));
  }
}

}  // namespace authledger::internal
