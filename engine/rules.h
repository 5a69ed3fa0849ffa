// The rules of the authentication policy (R1–R5 and "token live"), as pure functions
// over a State. Each returns the reason code of the first condition that fails, or
// "ok"; the traced variants also list every condition they checked.
//
// Thread-safety: pure functions of their arguments.
#pragma once

#include <authledger/decision.h>
#include <authledger/engine.h>

#include <cstring>
#include <string>
#include <string_view>

#include "engine/state.h"

namespace authledger::internal {

// Reason codes (stable).
inline constexpr std::string_view kOk = "ok";

// reason == kOk, spelled so that it compiles to two comparisons (the check path makes
// several; std::string_view's operator== is not always inlined).
inline bool IsOk(std::string_view reason) {
  return reason.size() == kOk.size() && std::memcmp(reason.data(), kOk.data(), kOk.size()) == 0;
}

// allowed(m, O) of the policy `p` of organization `org`; "ok" or the reason it is not.
std::string_view AllowedMethod(const State& s, const Organization& org,
                               const AuthenticationPolicy& p, const User& user,
                               std::string_view method);

// R1: may `user` log in with `method`? (Checked against the managing org, if any.)
std::string_view LoginRule(const State& s, const User& user, std::string_view method);

// R3: may `user` create a personal token from `session`?
std::string_view CreatePersonalTokenRule(const State& s, const User& user,
                                         const TokenRecord& session, std::int64_t now_us);

// "Token live" for `token` at `now_us`.
std::string_view TokenLive(const State& s, const TokenRecord& token, std::int64_t now_us);

struct CheckOptions {
  // Evaluate IP allowlists (off when computing the impact of a policy change, which
  // does not depend on where requests come from).
  bool check_ip = true;
  // Evaluate with this policy in place of the organization's (dry runs, impact).
  const AuthenticationPolicy* policy_override = nullptr;
};

// The whole check of a token presented to `org_id` (R2, R4 or R5 by kind). `trace`
// may be null.
Decision CheckTokenAgainst(const State& s, const TokenRecord* token, std::string_view org_id,
                           const CheckContext& ctx, std::vector<TraceStep>* trace,
                           const CheckOptions& options = {});

// CheckTokenAgainst (no trace, default options) for a caller that has already looked up
// the organization: `org_idx` is s.OrgIdx(org_id). The engine's check looks it up before
// the token, so that the cache misses of the two lookups may overlap.
Decision CheckTokenInOrg(const State& s, const TokenRecord* token, std::string_view org_id,
                         Idx org_idx, const CheckContext& ctx);

// Every token that could be presented to `org_id`: the sessions and personal tokens of
// its members and the tokens of its application users.
std::vector<const TokenRecord*> TokensFacing(const State& s, std::string_view org_id);

// The (token, org_id) pairs whose decision differs between policies `before` and `after`
// of organization `org_id` at `now_us` (IP allowlists aside: they do not change).
std::vector<ImpactEntry> PolicyImpact(const State& s, std::string_view org_id,
                                      const AuthenticationPolicy& before,
                                      const AuthenticationPolicy& after, std::int64_t now_us);

}  // namespace authledger::internal
