// A fast check that a one-segment Cap'n Proto message is in canonical form, for decoding
// stored events (event_codec.cc).
//
// Cap'n Proto's own check (MessageReader::isCanonical) walks the message through its
// bounds-checked readers, which costs about as much as the rest of reading an event
// from the log. This one walks the words directly, applying the same rules: every
// object lies at the read head in pre-order, structs are truncated (a non-zero last data
// word, a non-null last pointer; for a struct list, in some element), list padding is
// zero, and the message ends where its last object does.
//
// It is one-sided: it accepts only what Cap'n Proto's check accepts, and accepts only
// messages that its readers then read without any error (every object in bounds, no far
// or capability pointer, nesting within `max_depth`, no list of zero-sized elements that
// would make a read count more words than the message holds). Whatever it does not
// accept is for Cap'n Proto's check to decide; canonical_check_test compares the two on
// valid and damaged events.
//
// Thread-safety: a pure function.
#pragma once

#include <capnp/common.h>

#include <span>

namespace authledger::storage {

// True if `words` (one segment; the root pointer first) hold a non-null root and are in
// canonical form as described above; false if not, or not within what this check decides.
bool IsPlainCanonical(std::span<const capnp::word> words, unsigned max_depth);

}  // namespace authledger::storage
