// Scoped replay: the state of only the subjects a question is about, folded from their
// events found through the log's subject index — never the whole log.
//
// A decision about token T at organization O (CheckTokenAgainst: R2, R4, R5 and "token
// live") reads T's record; of its owner, whether it is active, its memberships, its
// application organization and its token validity; of O, whether it exists, its policy
// and its IP allowlist; of the IdP of T's method, whether it exists or was removed and
// its organization. Folding with Evolve (which finds or creates what an event names)
// exactly the events that change those gives a state in which that decision, at every
// seq of the fold, is the one the full state gives. It reads nothing of the organization
// managing the owner (R1 and R3 do, token checks do not), nor the configuration of any
// organization but O: a membership of the IdP's organization is one of the owner's.
//
// The narrow histories (storage/subjects.h) hold exactly those events: T's lifecycle,
// the owner's account, O's configuration, the IdP's lifecycle. If T is extended on use,
// its expiry also depends on its latest recorded use: Evolve keeps the greatest
// `last_used_us` of T's uses, and the engine records a use only when it is later than
// the one recorded before it (Decide drops the others), so the last use in seq order is
// that greatest one, and it is the only use folded. Two refinements keep the fold exact
// on any log:
//   - O exists in the full state from the first event naming it. When that event is a
//     configuration event, the narrow fold creates O at the same seq; when it is not
//     (an organization named before it was created: never in a log the engine wrote),
//     O's broad history is folded instead.
//   - T's record comes from the first `token_created` of T itself, not from one whose
//     session T is.
// A log whose narrow index does not reach the question's seq (written by an older
// build, opened read-only) is answered from the broad histories (organization, user,
// IdP), as before the narrow kinds existed. narrow_index_test checks both against full
// folds.
//
// Thread-safety: functions of their arguments; the log is used read-only. An EventCache
// is not synchronized.
#pragma once

#include <authledger/status.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "engine/state.h"
#include "storage/event_log.h"
#include "storage/subjects.h"

namespace authledger::replay {

// Which histories a scoped question reads.
enum class Histories {
  kNarrow,  // organization configuration, IdP lifecycle, user account, token lifecycle
  kBroad,   // every event naming the organization, IdP or user
};

// kNarrow when the narrow index covers 1..last, else kBroad.
Histories HistoriesFor(const storage::EventLog& log, std::uint64_t last);

// The events of one question, each read from the log once.
class EventCache {
 public:
  explicit EventCache(const storage::EventLog& log) : log_(log) {}
  EventCache(const EventCache&) = delete;
  EventCache& operator=(const EventCache&) = delete;

  // Valid as long as the cache.
  Result<const storage::DecodedEvent*> Read(std::uint64_t seq);

 private:
  const storage::EventLog& log_;
  std::map<std::uint64_t, storage::DecodedEvent> events_;
};

// The history of organization `org_id` that a decision at it reads, up to `last`: its
// configuration (kNarrow) unless it was named before its first configuration event, else
// all its events. `seqs`, if given, receives the seqs of that history up to `last`.
Result<storage::Subject> OrgHistory(const storage::EventLog& log, const std::string& org_id,
                                    std::uint64_t last, Histories histories,
                                    std::vector<std::uint64_t>* seqs = nullptr);

// Which organizations' histories a token's scope holds besides those asked about.
enum class OwnerOrgs {
  kNone,  // none: a decision at an organization reads no other organization's history
          // (a membership, an application user's organization or an IdP's owner is read
          // from the owner's account and the IdP's lifecycle, which name it)
  kAll,   // every organization the owner was ever a member of and an application token's
          // organization (a timeline has an interval at each)
};

// Which of a token's own events a scope holds.
enum class TokenEvents {
  kDecisive,  // those that change its decisions: its lifecycle, and its last use if uses
              // extend its lifetime (the narrow histories; the broad one has them all)
  kAll,       // all of them (a timeline counts its uses)
};

// What a token's decisions depend on, as of seq `last`.
struct TokenScope {
  bool found = false;  // the token was created at or before `last`
  std::string owner_user_id;
  std::string application_org;      // application tokens
  std::set<std::string> orgs_ever;  // organizations the owner was ever a member of, or the
                                    // application user of (≤ last)
  std::vector<storage::Subject> subjects;
  // A token extended on use, through the narrow histories with TokenEvents::kDecisive:
  // the seq of its last `token_used` ≤ last (0 if none), whose subject (the token's
  // whole history) is not in `subjects`.
  std::uint64_t last_use = 0;
  std::vector<std::uint64_t> seqs;  // the seqs ≤ last of `subjects` and `last_use`,
                                    // ascending, once each
};

// The scope of `token_prefix` for decisions at organizations `orgs` (and, as
// `owner_orgs` says, the owner's), up to seq `last`: the token's record, the IdP of its
// method, its owner's account and those organizations.
Result<TokenScope> ScopeOfToken(EventCache& events, const storage::EventLog& log,
                                const std::string& token_prefix,
                                const std::vector<std::string>& orgs, std::uint64_t last,
                                Histories histories, TokenEvents token_events,
                                OwnerOrgs owner_orgs);

// Folds the events `seqs` into a fresh state; its revision is then `last`.
Result<internal::State> FoldSeqs(EventCache& events, const std::vector<std::uint64_t>& seqs,
                                 std::uint64_t last);

}  // namespace authledger::replay
