// Encoding of the engine's State as a snapshot (packed Cap'n Proto, schema/snapshot.capnp).
//
// Decoding rebuilds the derived indexes (domain owners, tokens by secret and by owner),
// so a decoded snapshot equals the state it was made from, field by field.
//
// Thread-safety: pure functions; EncodeSnapshot reads `state` without synchronizing.
#pragma once

#include <authledger/status.h>

#include <string>
#include <string_view>

#include "engine/state.h"

namespace authledger::internal {

std::string EncodeSnapshot(const State& state);
// Corruption("snapshot_undecodable") for bytes that are not a snapshot.
Result<State> DecodeSnapshot(std::string_view bytes);

}  // namespace authledger::internal
