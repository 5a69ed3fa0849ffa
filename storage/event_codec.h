// Encoding of events to and from the bytes the log stores and the Merkle tree hashes.
//
// An event is stored as the canonical Cap'n Proto encoding of its Envelope (one
// segment, no segment table; see capnp::canonicalize): the same logical event always
// has the same bytes, so a leaf hash can be recomputed by anyone holding the event.
// EventDraft is what a writer builds; DecodedEvent is what a reader gets back.
//
// Thread-safety: values; one object is not synchronized, distinct ones are independent.
#pragma once

#include <authledger/status.h>
#include <capnp/message.h>
#include <kj/array.h>

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <utility>

#include "schema/events.capnp.h"

namespace authledger::storage {

// An event being written: the caller fills everything but `seq`, which the log assigns.
class EventDraft {
 public:
  EventDraft();
  // A draft holding a copy of `envelope` (as read, e.g. written by another schema
  // version); its seq is still assigned by the log.
  static EventDraft CopyOf(schema::Envelope::Reader envelope);
  EventDraft(EventDraft&&) noexcept;
  EventDraft& operator=(EventDraft&&) noexcept;
  EventDraft(const EventDraft&) = delete;
  EventDraft& operator=(const EventDraft&) = delete;
  ~EventDraft();

  schema::Envelope::Builder envelope() { return envelope_; }
  schema::Envelope::Reader reader() const { return envelope_.asReader(); }

 private:
  std::unique_ptr<capnp::MallocMessageBuilder> message_;
  schema::Envelope::Builder envelope_;
};

// The canonical bytes of an envelope (a whole number of 8-byte words).
kj::Array<capnp::word> CanonicalBytes(schema::Envelope::Reader envelope);

inline std::span<const std::uint8_t> AsBytes(kj::ArrayPtr<const capnp::word> words) {
  return {reinterpret_cast<const std::uint8_t*>(words.begin()), words.size() * sizeof(capnp::word)};
}

// An event read back from storage: owns an aligned copy of its bytes.
//
// Assign decodes other bytes into the same object, reusing its buffer and reader: a scan
// that decodes each event into one object (or into a few, recycled) allocates nothing
// per event. A default-constructed or moved-from object is empty: no bytes, and an
// envelope of defaults.
class DecodedEvent {
 public:
  // Decodes stored bytes. Fails with Corruption("event_undecodable") if they are not a
  // well-formed envelope; with `require_canonical`, also if they are not canonical (the
  // check `verify` runs: any re-encoding of an event is tampering).
  static Result<DecodedEvent> Decode(std::span<const std::uint8_t> bytes,
                                     bool require_canonical = false);
  // Decode, into this object; on failure it is left empty.
  Status Assign(std::span<const std::uint8_t> bytes, bool require_canonical = false);

  DecodedEvent();
  DecodedEvent(DecodedEvent&&) noexcept;
  DecodedEvent& operator=(DecodedEvent&&) noexcept;
  DecodedEvent(const DecodedEvent&) = delete;
  DecodedEvent& operator=(const DecodedEvent&) = delete;
  ~DecodedEvent();
  friend void swap(DecodedEvent& a, DecodedEvent& b) noexcept {
    a.storage_.swap(b.storage_);
    std::swap(a.envelope_, b.envelope_);
  }

  schema::Envelope::Reader envelope() const { return envelope_; }
  std::uint64_t seq() const { return envelope_.getSeq(); }
  std::int64_t time_us() const { return envelope_.getTimeUs(); }
  // The exact stored bytes (what the leaf hash covers).
  std::span<const std::uint8_t> bytes() const;

 private:
  struct Storage;
  std::unique_ptr<Storage> storage_;
  schema::Envelope::Reader envelope_;
};

// Keys of the `events` and `snapshots` families: the seq, 8 bytes big-endian, so that
// byte order is seq order.
std::array<std::uint8_t, 8> SeqKey(std::uint64_t seq);
// Parses a SeqKey; false if `key` is not 8 bytes.
bool ParseSeqKey(std::span<const std::uint8_t> key, std::uint64_t* seq);

}  // namespace authledger::storage
