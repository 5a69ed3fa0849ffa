// Scoped replay: the state of only the subjects a question is about, folded from their
// events found through the log's subject index — never the whole log.
//
// A decision about token T at organization O reads T's record, its owner (2FA, active,
// memberships, token validity), O (policy, allowlist, IdPs), the IdP of T's method and
// the organization verifying the owner's email domain. Folding exactly the events of
// those subjects with Evolve (which finds or creates what an event names) gives a state
// in which that decision is the one the full state gives; replay_test checks it against
// full replays.
//
// Thread-safety: functions of their arguments; the log is used read-only.
#pragma once

#include <authledger/status.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "engine/state.h"
#include "storage/event_log.h"
#include "storage/subjects.h"

namespace authledger::replay {

// The seqs in [1, last] of the events of any of `subjects`, ascending, without duplicates.
Result<std::vector<std::uint64_t>> SubjectSeqs(const storage::EventLog& log,
                                               const std::vector<storage::Subject>& subjects,
                                               std::uint64_t last);

// What a token's decisions depend on, as of seq `last`.
struct TokenScope {
  bool found = false;  // the token was created at or before `last`
  std::string owner_user_id;
  std::string application_org;      // application tokens
  std::set<std::string> orgs_ever;  // organizations the owner was ever a member of (≤ last)
  std::vector<storage::Subject> subjects;
};

// The scope of `token_prefix` for decisions at organizations `orgs` (plus, always, the
// owner's own organizations, managing organizations and IdP).
Result<TokenScope> ScopeOfToken(const storage::EventLog& log, const std::string& token_prefix,
                                const std::vector<std::string>& orgs, std::uint64_t last);

// Folds the events `seqs` into a fresh state; its revision is then `last`.
Result<internal::State> FoldSeqs(const storage::EventLog& log,
                                 const std::vector<std::uint64_t>& seqs, std::uint64_t last);

}  // namespace authledger::replay
