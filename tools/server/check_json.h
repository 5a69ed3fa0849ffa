// The JSON of `POST /v1/check` without Cap'n Proto's dynamic codec: a decoder for the
// usual shape of a check's body and an encoder for the Decision it answers. They are
// shortcuts for wire_json.h, not a second definition of the API:
// - TryDecodeCheckBody accepts only bodies for which DecodeRequest (wire_json.h) gives
//   the very same CheckToken request: one flat object whose keys are among token,
//   org_id, ip and time_us, each at most once; strings of printable ASCII without
//   escapes; time_us a plain whole number within ±2^53. Anything else (escapes,
//   other bytes, null, unknown keys, nesting, malformed JSON, …) is "not mine": the
//   caller takes the general path, so every error answer still comes from there.
// - AppendDecisionJson writes the bytes that EncodeResponseBody writes for a Response
//   whose body is that Decision, set as Service sets it (texts end at a NUL byte).
// tests/server/check_json_test.cc holds both to the general path, on chosen and random
// inputs; so does the wire_json fuzz target.
//
// Thread-safety: pure functions.
#pragma once

#include <authledger/decision.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace authledger::server {

// A CheckToken request as its body gives it; the texts are views into the body.
struct CheckBody {
  std::string_view token;
  std::string_view org_id;
  std::string_view ip;
  std::int64_t time_us = 0;
};

// Fills `out` and returns true when `body` has the shape above; false otherwise.
bool TryDecodeCheckBody(std::string_view body, CheckBody* out);

// Appends the JSON of `decision` to `out`.
void AppendDecisionJson(const Decision& decision, std::string& out);

}  // namespace authledger::server
