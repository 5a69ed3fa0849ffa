// Decisions: what a check returns, and the trace `Explain` adds.
//
// Reason codes are stable snake_case words (Aiven's where one exists); `rule` names the
// rule of the policy that decided ("R2" session, "R4" personal token, "R5" application
// token, "live" for the token-liveness conditions every token must meet).
//
// Thread-safety: values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace authledger {

// Where and when a request is made; checks use no clock of their own.
struct CheckContext {
  std::int64_t time_us = 0;  // µs since the Unix epoch
  std::string ip;            // client address; empty = unknown (fails any allowlist)
};

struct Decision {
  bool allowed = false;
  std::string reason;  // "ok" when allowed
  std::string rule;
  std::string token_prefix;
  std::string user_id;
  std::string org_id;
  std::uint64_t revision = 0;  // log seq the decision was evaluated at
};

struct TraceStep {
  std::string condition;  // e.g. "token live", "allowed(password, org1)"
  bool passed = false;
  std::string detail;
};

struct Explanation {
  Decision decision;
  std::vector<TraceStep> trace;  // every condition checked, in order, up to the first failure
};

}  // namespace authledger
