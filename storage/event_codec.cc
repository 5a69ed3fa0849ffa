#include "storage/event_codec.h"

#include <capnp/any.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>

#include "storage/canonical_check.h"

namespace authledger::storage {

// Events are a few hundred bytes: a 1 KiB first segment (instead of capnp's 8 KiB
// default) keeps a large batch of drafts from allocating and zeroing 8 KiB each.
constexpr unsigned kDraftFirstSegmentWords = 128;

EventDraft::EventDraft()
    : message_(std::make_unique<capnp::MallocMessageBuilder>(kDraftFirstSegmentWords)),
      envelope_(message_->initRoot<schema::Envelope>()) {}
EventDraft EventDraft::CopyOf(schema::Envelope::Reader envelope) {
  EventDraft draft;
  draft.message_->setRoot(envelope);
  draft.envelope_ = draft.message_->getRoot<schema::Envelope>();
  return draft;
}

EventDraft::EventDraft(EventDraft&&) noexcept = default;
EventDraft& EventDraft::operator=(EventDraft&&) noexcept = default;
EventDraft::~EventDraft() = default;

kj::Array<capnp::word> CanonicalBytes(schema::Envelope::Reader envelope) {
  return capnp::canonicalize(envelope);
}

namespace {

// Stored events are small; the limit guards decoding of damaged bytes against
// pathological amplification, not legitimate events.
constexpr std::uint64_t kTraversalLimitWords = 1 << 20;
// Larger events are left to Cap'n Proto's check, whose walk is bounded by the traversal
// limit (a canonical message is read once: its size in words).
constexpr std::size_t kPlainCheckMaxWords = kTraversalLimitWords / 16;

}  // namespace

// The buffer, the one segment and the reader over it, together on the heap so that a
// DecodedEvent moves without moving the reader (which its envelope points into).
struct DecodedEvent::Storage {
  // Events are a few hundred bytes: a buffer of at least this many words is rarely
  // outgrown when reused.
  static constexpr std::size_t kMinWords = 64;

  kj::Array<capnp::word> words;  // capacity; the event is its first `size` words
  std::size_t size = 0;
  kj::ArrayPtr<const capnp::word> segment;
  std::optional<capnp::SegmentArrayMessageReader> reader;

  kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>> segments() const { return {&segment, 1}; }
};

DecodedEvent::DecodedEvent() = default;

Result<DecodedEvent> DecodedEvent::Decode(std::span<const std::uint8_t> bytes,
                                          bool require_canonical) {
  DecodedEvent event;
  if (Status s = event.Assign(bytes, require_canonical); !s.ok()) return s;
  return event;
}

Status DecodedEvent::Assign(std::span<const std::uint8_t> bytes, bool require_canonical) {
  envelope_ = {};
  if (storage_) {
    storage_->reader.reset();
    storage_->size = 0;
    storage_->segment = {};
  }
  if (bytes.empty() || bytes.size() % sizeof(capnp::word) != 0) {
    return Status::Corruption("event_undecodable", "stored event has " +
                                                       std::to_string(bytes.size()) +
                                                       " bytes, not a positive multiple of 8");
  }
  if (!storage_) storage_ = std::make_unique<Storage>();
  Storage& st = *storage_;
  const std::size_t n = bytes.size() / sizeof(capnp::word);
  if (st.words.size() < n) st.words = kj::heapArray<capnp::word>(std::max(n, Storage::kMinWords));
  std::memcpy(st.words.begin(), bytes.data(), bytes.size());
  const kj::ArrayPtr<const capnp::word> words(st.words.begin(), n);
  capnp::ReaderOptions options;
  options.traversalLimitInWords = kTraversalLimitWords;
  options.nestingLimit = 16;
  try {
    // One full walk: a damaged pointer, pointers that share data or lists of empty
    // elements (whose repeated reads would exhaust the traversal limit) fail here, not
    // later in a reader that does not expect an exception (Evolve, export). A canonical
    // event (every stored one) is walked by the canonical check; any other by
    // canonicalizing it. IsPlainCanonical decides most events at a fraction of the cost
    // of Cap'n Proto's check, and only ever accepts what that check accepts (see
    // canonical_check.h); the rest go through Cap'n Proto's walk, on a reader allowed a
    // quarter of the traversal limit.
    const kj::ArrayPtr<const capnp::word> segments[1] = {words};
    bool canonical_form =
        n <= kPlainCheckMaxWords && IsPlainCanonical({words.begin(), n}, options.nestingLimit / 2);
    capnp::ReaderOptions walk_options = options;
    walk_options.traversalLimitInWords = kTraversalLimitWords / 4;
    if (!canonical_form) {
      capnp::SegmentArrayMessageReader walk(kj::arrayPtr(segments, 1), walk_options);
      // A null root reads as an all-default envelope whose canonical form is other bytes.
      if (walk.getRoot<capnp::AnyPointer>().isNull()) {
        return Status::Corruption("event_undecodable", "stored event has no envelope");
      }
      canonical_form = walk.isCanonical();
      if (!canonical_form && !require_canonical) {
        static_cast<void>(capnp::canonicalize(walk.getRoot<schema::Envelope>()));
      }
    }
    // isCanonical lets some other encodings through (an empty list of any element
    // size), so `verify` compares the bytes with the canonical encoding itself.
    if (require_canonical) {
      bool same = false;
      if (canonical_form) {
        capnp::SegmentArrayMessageReader fresh(kj::arrayPtr(segments, 1), walk_options);
        same = capnp::canonicalize(fresh.getRoot<schema::Envelope>()).asBytes() ==
               kj::ArrayPtr<const kj::byte>(bytes.data(), bytes.size());
      }
      if (!same) {
        return Status::Corruption("event_not_canonical",
                                  "stored event bytes are not the canonical encoding");
      }
    }
    st.segment = words;
    st.size = n;
    st.reader.emplace(st.segments(), options);
    auto envelope = st.reader->getRoot<schema::Envelope>();
    static_cast<void>(envelope.getEvent().which());
    envelope_ = envelope;
  } catch (const kj::Exception& e) {
    st.reader.reset();
    st.size = 0;
    st.segment = {};
    return Status::Corruption("event_undecodable", std::string("stored event does not decode: ") +
                                                       e.getDescription().cStr());
  }
  return Status::Ok();
}

std::span<const std::uint8_t> DecodedEvent::bytes() const {
  if (!storage_) return {};
  return AsBytes(storage_->segment);
}

DecodedEvent::DecodedEvent(DecodedEvent&& other) noexcept
    : storage_(std::move(other.storage_)), envelope_(other.envelope_) {
  other.envelope_ = {};
}

DecodedEvent& DecodedEvent::operator=(DecodedEvent&& other) noexcept {
  if (this != &other) {
    storage_ = std::move(other.storage_);
    envelope_ = other.envelope_;
    other.envelope_ = {};
  }
  return *this;
}

DecodedEvent::~DecodedEvent() = default;

std::array<std::uint8_t, 8> SeqKey(std::uint64_t seq) {
  std::array<std::uint8_t, 8> key{};
  for (int i = 7; i >= 0; --i) {
    key[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(seq & 0xff);
    seq >>= 8;
  }
  return key;
}

bool ParseSeqKey(std::span<const std::uint8_t> key, std::uint64_t* seq) {
  if (key.size() != 8) return false;
  std::uint64_t value = 0;
  for (std::uint8_t b : key) value = (value << 8) | b;
  *seq = value;
  return true;
}

}  // namespace authledger::storage
