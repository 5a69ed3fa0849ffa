// Fuzz target: the JSON encoding of the wire API (tools/server/wire_json.h), which
// decodes every HTTP request body into its schema/wire.capnp request.
//
// Input: the name of a member of Request.body (its schema name, e.g. checkToken) on the
// first line, then the JSON body. A body is refused with invalid_request or decoded; what decodes
// encodes back to JSON that decodes to the same request (the same JSON again), so that nothing is
// accepted that the server would then misread or fail to answer with.
#include <capnp/dynamic.h>
#include <capnp/message.h>
#include <capnp/schema.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "schema/wire.capnp.h"
#include "tests/fuzz/fuzz_check.h"
#include "tools/server/wire_json.h"

namespace {

using authledger::server::DecodeJson;
using authledger::server::EncodeJson;

// Whether `text` is well-formed UTF-8 (no overlong forms, surrogates or values past
// U+10FFFF).
bool IsUtf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
      cp = c & 0x1fu;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      cp = c & 0x0fu;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      cp = c & 0x07u;
    } else {
      return false;
    }
    for (std::size_t k = 1; k <= n; ++k) {
      if (i + k >= text.size()) return false;
      const auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xc0u) != 0x80u) return false;
      cp = (cp << 6) | (cc & 0x3fu);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

bool HasControlCharacter(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 && c != ' ' && c != '\t' && c != '\n' && c != '\r') {
      return true;
    }
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t eol = input.find('\n');
  if (eol == std::string_view::npos) return 0;
  const std::string member(input.substr(0, eol));
  KJ_IF_MAYBE (found,
               capnp::Schema::from<authledger::wire::Request::Body>().findFieldByName(member)) {
    if (!found->getType().isStruct()) return 0;
  } else {
    return 0;
  }
  const auto field = capnp::Schema::from<authledger::wire::Request::Body>().getFieldByName(member);
  const std::string_view json = input.substr(eol + 1);

  capnp::MallocMessageBuilder message;
  auto body = capnp::toDynamic(message.initRoot<authledger::wire::Request>().getBody());
  auto request = body.init(field).as<capnp::DynamicStruct>();
  authledger::Status decoded = DecodeJson(json, request);
  if (!decoded.ok()) {
    FUZZ_CHECK(decoded.reason() == "invalid_request");
    return 0;
  }
  const std::string encoded = EncodeJson(request.asReader());

  capnp::MallocMessageBuilder again_message;
  auto again_body = capnp::toDynamic(again_message.initRoot<authledger::wire::Request>().getBody());
  auto again = again_body.init(field).as<capnp::DynamicStruct>();
  authledger::Status redecoded = DecodeJson(encoded, again);
  if (!redecoded.ok()) {
    std::fprintf(stderr, "re-encoded %s does not decode: %s\n", encoded.c_str(),
                 redecoded.ToString().c_str());
  }
  FUZZ_CHECK(redecoded.ok());
  // Cap'n Proto's JSON codec passes text through as bytes, so a body that is not UTF-8
  // or has raw control characters (which JSON forbids) may re-encode differently; only
  // well-formed bodies must be stable.
  if (IsUtf8(json) && !HasControlCharacter(json)) {
    FUZZ_CHECK(EncodeJson(again.asReader()) == encoded);
  }
  return 0;
}
