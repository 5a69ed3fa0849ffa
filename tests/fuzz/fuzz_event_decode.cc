// Fuzz target: decoding stored event bytes (storage/event_codec.h), as the log does on
// every read, scan and verify.
//
// Whatever decodes must re-encode canonically without throwing, the canonical bytes
// must decode under the `verify` check (require_canonical), and re-encoding them must
// give the same bytes; bytes accepted as canonical must be exactly their canonical
// encoding. Seeds: real events of the demo story (make_seeds.cc).
#include <cstdint>
#include <cstring>
#include <span>

#include "storage/event_codec.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using authledger::storage::AsBytes;
using authledger::storage::CanonicalBytes;
using authledger::storage::DecodedEvent;

bool SameBytes(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  auto event = DecodedEvent::Decode(bytes);
  auto strict = DecodedEvent::Decode(bytes, /*require_canonical=*/true);
  if (!event.ok()) {
    FUZZ_CHECK(!strict.ok());  // the strict decode accepts a subset
    return 0;
  }
  // Read what a reader reads first.
  static_cast<void>(event->seq());
  static_cast<void>(event->time_us());

  kj::Array<capnp::word> canonical = CanonicalBytes(event->envelope());
  auto again = DecodedEvent::Decode(AsBytes(canonical), /*require_canonical=*/true);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->seq() == event->seq() && again->time_us() == event->time_us());
  FUZZ_CHECK(again->envelope().getEvent().which() == event->envelope().getEvent().which());
  FUZZ_CHECK(SameBytes(AsBytes(CanonicalBytes(again->envelope())), AsBytes(canonical)));
  FUZZ_CHECK(!strict.ok() || SameBytes(AsBytes(canonical), bytes));
  return 0;
}
