// JSON text (RFC 8259) into Cap'n Proto's generic capnp::JsonValue, in place of
// JsonCodec::decodeRaw. Cap'n Proto 0.9's parser reads the hex digits a-f of a \u escape
// as 0-5 (so "\u000c", the form feed our encoder writes, came back as U+0002) and turns
// each half of a surrogate pair into a separate invalid sequence; strings decoded here
// are exact, so that every text the server encodes (replay::JsonString: control
// characters as \u00XX, all other bytes as they are) decodes back to the same bytes.
//
// Strings: escapes decode to UTF-8 (a surrogate pair to its one code point, a lone
// surrogate is an error); unescaped bytes are kept as they are, UTF-8 or not, except
// control characters (below 0x20), which JSON requires to be escaped. Numbers follow
// the JSON grammar and must be finite doubles.
//
// Thread-safety: a pure function.
#pragma once

#include <authledger/status.h>
#include <capnp/compat/json.h>

#include <cstddef>
#include <string_view>

namespace authledger::replay {

// Fills `out` from `text`: one JSON value, optionally surrounded by whitespace, whose
// arrays and objects nest at most `max_depth` deep. invalid_json otherwise, with a
// message saying what is wrong at which byte.
Status ParseJson(std::string_view text, capnp::JsonValue::Builder out, std::size_t max_depth);

}  // namespace authledger::replay
