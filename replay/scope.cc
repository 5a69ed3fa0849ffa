#include "replay/scope.h"

#include <algorithm>

namespace authledger::replay {

using storage::Subject;
using K = storage::SubjectKind;

namespace {

std::string Str(capnp::Text::Reader t) { return {t.begin(), t.size()}; }

// The first seq ≤ last of `subject`, or 0.
Result<std::uint64_t> FirstOf(const storage::EventLog& log, const Subject& subject,
                              std::uint64_t last) {
  std::uint64_t first = 0;
  Status s = log.ScanSubject(subject, 1, last, [&](std::uint64_t seq) {
    first = seq;
    return false;
  });
  if (!s.ok()) return s;
  return first;
}

}  // namespace

Result<std::vector<std::uint64_t>> SubjectSeqs(const storage::EventLog& log,
                                               const std::vector<Subject>& subjects,
                                               std::uint64_t last) {
  std::vector<std::uint64_t> seqs;
  for (const auto& subject : subjects) {
    Status s = log.ScanSubject(subject, 1, last, [&](std::uint64_t seq) {
      seqs.push_back(seq);
      return true;
    });
    if (!s.ok()) return s;
  }
  std::sort(seqs.begin(), seqs.end());
  seqs.erase(std::unique(seqs.begin(), seqs.end()), seqs.end());
  return seqs;
}

Result<TokenScope> ScopeOfToken(const storage::EventLog& log, const std::string& token_prefix,
                                const std::vector<std::string>& orgs, std::uint64_t last) {
  TokenScope scope;
  std::set<std::string> org_ids(orgs.begin(), orgs.end());
  std::vector<Subject> subjects = {{K::kToken, token_prefix}};

  auto created_seq = FirstOf(log, {K::kToken, token_prefix}, last);
  if (!created_seq.ok()) return created_seq.status();
  if (*created_seq != 0) {
    auto created = log.Read(*created_seq);
    if (!created.ok()) return created.status();
    auto event = created->envelope().getEvent();
    if (event.isTokenCreated()) {
      auto c = event.getTokenCreated();
      scope.found = true;
      scope.owner_user_id = Str(c.getOwnerUserId());
      scope.application_org = Str(c.getOrgId());
      if (!scope.application_org.empty()) org_ids.insert(scope.application_org);
      std::string idp(storage::IdpOfMethod(Str(c.getMethod())));
      if (!idp.empty()) subjects.push_back({K::kIdp, idp});
    }
  }

  if (scope.found) {
    // The owner's events give its email (hence the managing organization's domain) and
    // every organization it was ever a member of.
    const Subject owner{K::kUser, scope.owner_user_id};
    subjects.push_back(owner);
    std::string email;
    std::vector<std::uint64_t> owner_seqs;
    Status s = log.ScanSubject(owner, 1, last, [&](std::uint64_t seq) {
      owner_seqs.push_back(seq);
      return true;
    });
    if (!s.ok()) return s;
    for (std::uint64_t seq : owner_seqs) {
      auto e = log.Read(seq);
      if (!e.ok()) return e.status();
      auto event = e->envelope().getEvent();
      if (event.isUserRegistered()) email = Str(event.getUserRegistered().getEmail());
      if (event.isMemberAdded()) scope.orgs_ever.insert(Str(event.getMemberAdded().getOrgId()));
      if (event.isApplicationUserCreated()) {
        scope.orgs_ever.insert(Str(event.getApplicationUserCreated().getOrgId()));
      }
    }
    org_ids.insert(scope.orgs_ever.begin(), scope.orgs_ever.end());
    const std::string domain = internal::EmailDomain(email);
    if (!domain.empty()) {
      const Subject d{K::kDomain, domain};
      subjects.push_back(d);
      std::vector<std::uint64_t> domain_seqs;
      s = log.ScanSubject(d, 1, last, [&](std::uint64_t seq) {
        domain_seqs.push_back(seq);
        return true;
      });
      if (!s.ok()) return s;
      for (std::uint64_t seq : domain_seqs) {
        auto e = log.Read(seq);
        if (!e.ok()) return e.status();
        auto event = e->envelope().getEvent();
        if (event.isDomainVerified()) org_ids.insert(Str(event.getDomainVerified().getOrgId()));
      }
    }
  }
  for (const auto& org : org_ids) subjects.push_back({K::kOrganization, org});
  scope.subjects = std::move(subjects);
  return scope;
}

Result<internal::State> FoldSeqs(const storage::EventLog& log,
                                 const std::vector<std::uint64_t>& seqs, std::uint64_t last) {
  internal::State state;
  for (std::uint64_t seq : seqs) {
    auto e = log.Read(seq);
    if (!e.ok()) return e.status();
    internal::Evolve(state, e->envelope());
  }
  state.revision = last;
  return state;
}

}  // namespace authledger::replay
