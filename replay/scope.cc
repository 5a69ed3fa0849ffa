#include "replay/scope.h"

#include <algorithm>

namespace authledger::replay {

using storage::Subject;
using K = storage::SubjectKind;

namespace {

std::string Str(capnp::Text::Reader t) { return {t.begin(), t.size()}; }

// The seqs ≤ last of `subject`, ascending.
Result<std::vector<std::uint64_t>> SeqsOf(const storage::EventLog& log, const Subject& subject,
                                          std::uint64_t last) {
  std::vector<std::uint64_t> seqs;
  Status s = log.ScanSubject(subject, 1, last, [&](std::uint64_t seq) {
    seqs.push_back(seq);
    return true;
  });
  if (!s.ok()) return s;
  return seqs;
}

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

// The seq of the last `token_used` ≤ last of token `prefix`, or 0: its whole history read
// from the end (its other events there are its lifecycle and the personal tokens made
// from it, as a session).
Result<std::uint64_t> LastUseOf(EventCache& events, const storage::EventLog& log,
                                const std::string& prefix, std::uint64_t last) {
  auto seqs = SeqsOf(log, {K::kToken, prefix}, last);
  if (!seqs.ok()) return seqs.status();
  for (auto it = seqs->rbegin(); it != seqs->rend(); ++it) {
    auto e = events.Read(*it);
    if (!e.ok()) return e.status();
    auto event = (*e)->envelope().getEvent();
    if (event.isTokenUsed() && Str(event.getTokenUsed().getTokenPrefix()) == prefix) return *it;
  }
  return std::uint64_t{0};
}

// The subjects of a scope and their seqs, each subject scanned once.
class ScopeBuilder {
 public:
  ScopeBuilder(EventCache& events, const storage::EventLog& log, std::uint64_t last)
      : events_(events), log_(log), last_(last) {}

  // Adds `subject`, whose seqs are `seqs`.
  void Add(const Subject& subject, const std::vector<std::uint64_t>& seqs) {
    subjects_.push_back(subject);
    seqs_.insert(seqs_.end(), seqs.begin(), seqs.end());
  }
  // Adds `subject` and calls `use` with each of its events in order, until it returns
  // false.
  template <typename Fn>
  Status AddReading(const Subject& subject, Fn use) {
    auto seqs = SeqsOf(log_, subject, last_);
    if (!seqs.ok()) return seqs.status();
    Add(subject, *seqs);
    for (std::uint64_t seq : *seqs) {
      auto e = events_.Read(seq);
      if (!e.ok()) return e.status();
      if (!use((*e)->envelope().getEvent())) break;
    }
    return Status::Ok();
  }
  Status Add(const Subject& subject) {
    return AddReading(subject, [](auto) { return false; });
  }
  // Adds one seq of a subject not in the scope.
  void AddSeq(std::uint64_t seq) { seqs_.push_back(seq); }
  void Finish(TokenScope& scope) {
    std::sort(seqs_.begin(), seqs_.end());
    seqs_.erase(std::unique(seqs_.begin(), seqs_.end()), seqs_.end());
    scope.subjects = std::move(subjects_);
    scope.seqs = std::move(seqs_);
  }

 private:
  EventCache& events_;
  const storage::EventLog& log_;
  std::uint64_t last_;
  std::vector<Subject> subjects_;
  std::vector<std::uint64_t> seqs_;
};

}  // namespace

Histories HistoriesFor(const storage::EventLog& log, std::uint64_t last) {
  return log.NarrowIndexThrough() >= last ? Histories::kNarrow : Histories::kBroad;
}

Result<const storage::DecodedEvent*> EventCache::Read(std::uint64_t seq) {
  if (auto it = events_.find(seq); it != events_.end()) return &it->second;
  auto e = log_.Read(seq);
  if (!e.ok()) return e.status();
  return &events_.emplace(seq, std::move(e).value()).first->second;
}

Result<Subject> OrgHistory(const storage::EventLog& log, const std::string& org_id,
                           std::uint64_t last, Histories histories,
                           std::vector<std::uint64_t>* seqs) {
  const Subject broad{K::kOrganization, org_id};
  const Subject config{K::kOrganizationConfig, org_id};
  const Subject* chosen = &broad;
  std::vector<std::uint64_t> chosen_seqs;
  if (histories == Histories::kNarrow) {
    // Every configuration event names the organization in the full state too (Evolve
    // creates it there): if the first event naming it at all is one, the organization
    // comes into being at the same seq in both folds.
    auto first_named = FirstOf(log, broad, last);
    if (!first_named.ok()) return first_named.status();
    auto config_seqs = SeqsOf(log, config, last);
    if (!config_seqs.ok()) return config_seqs.status();
    if (*first_named == 0 || (!config_seqs->empty() && config_seqs->front() == *first_named)) {
      chosen = &config;
      chosen_seqs = std::move(config_seqs).value();
    }
  }
  if (seqs != nullptr) {
    if (chosen == &broad) {
      auto broad_seqs = SeqsOf(log, broad, last);
      if (!broad_seqs.ok()) return broad_seqs.status();
      chosen_seqs = std::move(broad_seqs).value();
    }
    *seqs = std::move(chosen_seqs);
  }
  return *chosen;
}

Result<TokenScope> ScopeOfToken(EventCache& events, const storage::EventLog& log,
                                const std::string& token_prefix,
                                const std::vector<std::string>& orgs, std::uint64_t last,
                                Histories histories, TokenEvents token_events,
                                OwnerOrgs owner_orgs) {
  const bool narrow = histories == Histories::kNarrow;
  TokenScope scope;
  ScopeBuilder builder(events, log, last);
  std::set<std::string> org_ids(orgs.begin(), orgs.end());
  std::string idp;

  // The token's record: its lifecycle, or its whole history (which also lists its uses
  // and the personal tokens made from it, as a session) where the question needs its
  // uses: a timeline counts them, and they move the expiry of a token extended on use.
  const bool whole = !narrow || token_events == TokenEvents::kAll;
  bool extended_on_use = false;
  Status s =
      builder.AddReading({whole ? K::kToken : K::kTokenLifecycle, token_prefix}, [&](auto event) {
        if (!event.isTokenCreated() ||
            Str(event.getTokenCreated().getTokenPrefix()) != token_prefix) {
          return true;
        }
        auto c = event.getTokenCreated();
        scope.found = true;
        extended_on_use = c.getExtendWhenUsed() && c.getMaxAgeSeconds() != 0;
        scope.owner_user_id = Str(c.getOwnerUserId());
        scope.application_org = Str(c.getOrgId());
        idp = storage::IdpOfMethod(Str(c.getMethod()));
        return false;
      });
  if (!s.ok()) return s;
  if (!whole && extended_on_use) {
    auto last_use = LastUseOf(events, log, token_prefix, last);
    if (!last_use.ok()) return last_use.status();
    scope.last_use = *last_use;
    if (scope.last_use != 0) builder.AddSeq(scope.last_use);
  }
  if (!idp.empty()) {
    if (s = builder.Add({narrow ? K::kIdpConfig : K::kIdp, idp}); !s.ok()) return s;
  }

  if (scope.found) {
    // The owner's account gives every organization it was ever a member of.
    s = builder.AddReading(
        {narrow ? K::kUserAccount : K::kUser, scope.owner_user_id}, [&](auto event) {
          if (event.isMemberAdded()) {
            scope.orgs_ever.insert(Str(event.getMemberAdded().getOrgId()));
          }
          if (event.isApplicationUserCreated()) {
            scope.orgs_ever.insert(Str(event.getApplicationUserCreated().getOrgId()));
          }
          return true;
        });
    if (!s.ok()) return s;
    if (owner_orgs == OwnerOrgs::kAll) {
      org_ids.insert(scope.orgs_ever.begin(), scope.orgs_ever.end());
      if (!scope.application_org.empty()) org_ids.insert(scope.application_org);
    }
  }
  for (const auto& org : org_ids) {
    std::vector<std::uint64_t> seqs;
    auto history = OrgHistory(log, org, last, histories, &seqs);
    if (!history.ok()) return history.status();
    builder.Add(*history, seqs);
  }
  builder.Finish(scope);
  return scope;
}

Result<internal::State> FoldSeqs(EventCache& events, const std::vector<std::uint64_t>& seqs,
                                 std::uint64_t last) {
  internal::State state;
  for (std::uint64_t seq : seqs) {
    auto e = events.Read(seq);
    if (!e.ok()) return e.status();
    internal::Evolve(state, (*e)->envelope());
  }
  state.revision = last;
  return state;
}

}  // namespace authledger::replay
