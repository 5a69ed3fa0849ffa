// Entities of the engine's State as flat field → text maps, and the differences between
// them: what the step-through shows for each event and what Diff shows between two
// moments.
//
// Thread-safety: pure functions.
#pragma once

#include <authledger/audit.h>

#include <map>
#include <string>
#include <vector>

#include "engine/state.h"
#include "storage/subjects.h"

namespace authledger::replay {

using FieldMap = std::map<std::string, std::string>;

FieldMap DescribePolicy(const AuthenticationPolicy& policy);
FieldMap DescribeOrg(const internal::State& s, const internal::Organization& org);
FieldMap DescribeUser(const internal::State& s, const internal::User& user);
FieldMap DescribeToken(const internal::State& s, const internal::TokenRecord& token);
FieldMap DescribeIdp(const internal::IdentityProvider& idp);

// Appends to `out` one change per field that differs; a null map is an absent entity.
void DiffFields(const std::string& entity, const FieldMap* before, const FieldMap* after,
                std::vector<FieldChange>& out);

// The field maps of the entities named by `subjects` in `s` (absent ones left out),
// keyed by entity name ("organization org1", …). A domain is described by its owner,
// and brings in the users of that email domain (whom its verification makes managed).
std::map<std::string, FieldMap> DescribeSubjects(const internal::State& s,
                                                 const std::vector<storage::Subject>& subjects);

// Every field that differs between two states, entity by entity.
std::vector<FieldChange> DiffStates(const internal::State& a, const internal::State& b);

// Text forms shared with the audit reports.
std::string TokenKindName(internal::TokenKind kind);
std::string JoinList(const std::vector<std::string>& items);

}  // namespace authledger::replay
