// Conflict keys: what a command reads and what events write, so that the engine can
// decide a command against the published (durable) state while other commands' events
// are still on their way to disk — as long as none of them writes what it reads.
//
// A key names one subject: "o:" org, "u:" user, "t:" token prefix, "i:" IdP, "d:"
// domain. A command whose reads cannot be bounded (a policy update computes its impact
// over every token of the organization's members) is a barrier: it waits until nothing
// is pending.
//
// Thread-safety: pure functions; ReadsOf reads `state` without synchronizing.
#pragma once

#include <string>
#include <vector>

#include "engine/commands.h"
#include "engine/state.h"
#include "schema/events.capnp.h"

namespace authledger::internal {

struct ReadSet {
  std::vector<std::string> keys;
  bool barrier = false;
};

ReadSet ReadsOf(const State& state, const Command& command);
// Appends the keys `event` writes to `out`.
void AppendWrites(schema::Envelope::Reader event, std::vector<std::string>* out);

}  // namespace authledger::internal
