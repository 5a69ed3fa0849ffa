// Decide: the pure function from (state, command) to the events that carry it out, or
// the reason it is refused.
//
// No I/O and no clock: the time and the seq the first event will get come in the
// context. Consequences that must not change with engine versions (revocations on a 2FA
// change, on deleting an application user) are written out as events here, so that
// replaying an old log with new code gives the same history.
//
// Thread-safety: pure.
#pragma once

#include <authledger/engine.h>
#include <authledger/status.h>

#include <vector>

#include "engine/commands.h"
#include "engine/state.h"
#include "storage/event_codec.h"

namespace authledger::internal {

struct DecideContext {
  std::int64_t now_us = 0;
  std::uint64_t next_seq = 1;  // seq the first decided event will get
  Actor actor;
  std::uint32_t session_max_age_seconds = 86400;  // non-SAML sessions
};

struct Decided {
  std::vector<storage::EventDraft> events;
  // A login refused by R1: `events` holds the LoginRejected record, and the command
  // reports this reason after appending it.
  Status rejection;
  // UpdatePolicy: the policies before and after.
  AuthenticationPolicy policy_before, policy_after;
};

Result<Decided> Decide(const State& state, const Command& command, const DecideContext& ctx);

// Validation shared with the facade.
Status ValidateId(std::string_view what, const std::string& id);

}  // namespace authledger::internal
