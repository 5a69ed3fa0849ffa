// The public form of the log's checkpoint (hex strings, no storage types), shared by the
// engine's Checkpoint() and the log tools.
//
// Thread-safety: a pure function.
#pragma once

#include <authledger/engine.h>

#include "storage/checkpoint.h"
#include "storage/hash.h"

namespace authledger::internal {

inline LogCheckpoint PublicCheckpoint(const storage::Checkpoint& c) {
  LogCheckpoint out;
  out.size = c.size;
  out.root_hex = storage::ToHex(c.root);
  out.time_us = c.time_us;
  out.signature_hex = storage::ToHex(c.signature);
  out.key_id = c.key_id;
  return out;
}

}  // namespace authledger::internal
