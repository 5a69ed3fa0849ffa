// Fuzz target: the JSON encoding of the wire API (tools/server/wire_json.h), which
// decodes every HTTP request (its body and its path and query parameters) into its
// schema/wire.capnp request, as the dispatcher does, and encodes every answer.
//
// Input: the name of a member of Request.body (its schema name, e.g. checkToken) on the
// first line, optionally followed by a space and parameters `name=value&…`, then the
// JSON body. A request is refused with invalid_request or decoded; what decodes encodes
// back to JSON that decodes to the same request (the same JSON again), so that nothing
// is accepted that the server would then misread or fail to answer with. And any bytes
// (the whole input) as a text field encode to JSON that decodes back to the same bytes.
// The fast path of POST /v1/check (check_json.h) agrees with the general one: a body
// its decoder takes (the whole input, and the JSON after the first line) decodes to the
// same request through DecodeRequest, and a Decision made of the input encodes to the
// same bytes.
#include <capnp/dynamic.h>
#include <capnp/message.h>
#include <capnp/schema.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "schema/wire.capnp.h"
#include "tests/fuzz/fuzz_check.h"
#include "tools/server/check_json.h"
#include "tools/server/wire_json.h"

namespace {

using authledger::server::DecodeJson;
using authledger::server::DecodeRequest;
using authledger::server::EncodeJson;
using authledger::server::Params;

// `a=1&b=x` as parameters (a name without '=' has an empty value).
Params ParseParams(std::string_view text) {
  Params params;
  while (!text.empty()) {
    const std::size_t amp = text.find('&');
    const std::string_view pair = text.substr(0, amp);
    const std::size_t eq = pair.find('=');
    params.emplace_back(std::string(pair.substr(0, eq)),
                        eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1)));
    text = amp == std::string_view::npos ? std::string_view() : text.substr(amp + 1);
  }
  return params;
}

// `text` as a check's token, encoded to JSON and decoded again: the same bytes.
void CheckTextRoundTrip(std::string_view text) {
  const std::string bytes(text);
  capnp::MallocMessageBuilder message;
  auto check = message.initRoot<authledger::wire::Request>().getBody().initCheckToken();
  check.setToken(capnp::Text::Reader(bytes.c_str(), bytes.size()));
  const std::string encoded = EncodeJson(capnp::toDynamic(check.asReader()));

  capnp::MallocMessageBuilder again_message;
  auto again = again_message.initRoot<authledger::wire::Request>().getBody().initCheckToken();
  authledger::Status decoded = DecodeJson(encoded, capnp::toDynamic(again));
  if (!decoded.ok()) {
    std::fprintf(stderr, "encoded %s does not decode: %s\n", encoded.c_str(),
                 decoded.ToString().c_str());
  }
  FUZZ_CHECK(decoded.ok());
  auto token = again.asReader().getToken();
  FUZZ_CHECK(std::string_view(token.cStr(), token.size()) == text);
}

// The fast decoder of POST /v1/check (check_json.h): a body it takes decodes through
// DecodeRequest, to the same request.
void CheckFastCheckDecoder(std::string_view json) {
  authledger::server::CheckBody fast;
  if (!authledger::server::TryDecodeCheckBody(json, &fast)) return;
  capnp::MallocMessageBuilder message;
  auto check = message.initRoot<authledger::wire::Request>().getBody().initCheckToken();
  authledger::Status decoded = DecodeRequest(json, {}, capnp::toDynamic(check));
  if (!decoded.ok()) {
    std::fprintf(stderr, "the fast decoder takes a body the general one refuses: %s\n",
                 decoded.ToString().c_str());
  }
  FUZZ_CHECK(decoded.ok());
  auto r = check.asReader();
  auto same = [](capnp::Text::Reader text, std::string_view view) {
    return std::string_view(text.cStr(), text.size()) == view;
  };
  FUZZ_CHECK(same(r.getToken(), fast.token));
  FUZZ_CHECK(same(r.getOrgId(), fast.org_id));
  FUZZ_CHECK(same(r.getIp(), fast.ip));
  FUZZ_CHECK(r.getTimeUs() == fast.time_us);
}

// The fast encoder of a check's Decision (check_json.h) against the general one, for a
// Decision made of `input`: its lines as the texts, its first bytes as the revision.
void CheckFastDecisionEncoder(std::string_view input) {
  authledger::Decision d;
  std::string* texts[] = {&d.reason, &d.rule, &d.token_prefix, &d.user_id, &d.org_id};
  std::string_view rest = input;
  for (std::string* text : texts) {
    const std::size_t eol = rest.find('\n');
    *text = std::string(rest.substr(0, eol));
    rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 1);
  }
  d.allowed = !input.empty() && (input[0] & 1) != 0;
  for (std::size_t i = 0; i < 8 && i < input.size(); ++i) {
    d.revision = (d.revision << 8) | static_cast<unsigned char>(input[i]);
  }
  capnp::MallocMessageBuilder message;
  auto response = message.initRoot<authledger::wire::Response>();
  authledger::server::SetDecision(response.getBody().initDecision(), d);
  const std::string general = authledger::server::EncodeResponseBody(response.asReader());
  std::string fast;
  authledger::server::AppendDecisionJson(d, fast);
  if (fast != general) std::fprintf(stderr, "fast %s\ngeneral %s\n", fast.c_str(), general.c_str());
  FUZZ_CHECK(fast == general);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  CheckTextRoundTrip(input);
  CheckFastCheckDecoder(input);
  CheckFastDecisionEncoder(input);
  const std::size_t eol = input.find('\n');
  if (eol == std::string_view::npos) return 0;
  CheckFastCheckDecoder(input.substr(eol + 1));
  const std::string_view line = input.substr(0, eol);
  const std::size_t space = line.find(' ');
  const std::string member(line.substr(0, space));
  const Params params =
      space == std::string_view::npos ? Params() : ParseParams(line.substr(space + 1));
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
  authledger::Status decoded = DecodeRequest(json, params, request);
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
  const std::string reencoded = EncodeJson(again.asReader());
  if (reencoded != encoded) {
    std::fprintf(stderr, "re-encoded %s\nas %s\n", encoded.c_str(), reencoded.c_str());
  }
  FUZZ_CHECK(reencoded == encoded);
  return 0;
}
