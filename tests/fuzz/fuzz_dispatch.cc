// Fuzz target: the server's HTTP/JSON routes end to end without sockets
// (tools/server/dispatch.h Dispatcher::Handle, then Service and the engine), over the
// engine and Service of service_fixture.h.
//
// Input: a first line `METHOD TARGET KEY [name=value…]` and the body after it. KEY is
// `admin`, `backend` or `auditor` for that role's valid key, anything else is sent as
// the key itself; the optional pairs set the headers (on_behalf_of, as_admin=true,
// client_ip, request_id). Anywhere in the input, @session@, @personal@ and
// @application@ stand for those tokens' secrets and @session_prefix@, @personal_prefix@
// and @application_prefix@ for their prefixes, so that checks and token routes reach
// the rules.
//
// A request to /v1/check… gets the same answer from a Dispatcher without the fast path
// of POST /v1/check (check_json.h). Every answer is a JSON object (errors with a non-empty reason);
// no answer holds an API key (requests that spell one out outside their Authorization header are
// skipped), and no check or explain answer holds the secret it was given to check (a
// secret the request also spells out elsewhere, say as an organization id, may be echoed
// from there: such a request is not held to that).
#include <capnp/compat/json.h>
#include <capnp/message.h>

#include <string>
#include <string_view>

#include "replay/json_parse.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/service_fixture.h"
#include "tools/server/dispatch.h"

namespace {

using authledger::fuzz::kAdminKey;
using authledger::fuzz::kAuditorKey;
using authledger::fuzz::kBackendKey;
using authledger::fuzz::ServiceFixture;
using authledger::server::ApiRequest;
using authledger::server::ApiResponse;
using authledger::server::Dispatcher;

// Deep enough for any answer (an event page nests about six levels).
constexpr std::size_t kMaxAnswerNesting = 64;

class Fixture {
 public:
  Fixture() : dispatcher_(service_.service()), general_(service_.service(), false) {}

  ApiRequest Request(std::string_view raw) const {
    std::string input(raw);
    for (const ServiceFixture::Token* token :
         {&service_.session(), &service_.personal(), &service_.application()}) {
      Substitute(input, "@" + token->name + "@", token->secret);
      Substitute(input, "@" + token->name + "_prefix@", token->prefix);
    }
    const std::size_t eol = input.find('\n');
    std::string_view line = std::string_view(input).substr(0, eol);
    ApiRequest request;
    request.body = eol == std::string::npos ? std::string() : input.substr(eol + 1);
    request.method = Word(line);
    request.target = Word(line);
    const std::string key = Word(line);
    request.authorization = "Bearer " + (key == "admin"     ? std::string(kAdminKey)
                                         : key == "backend" ? std::string(kBackendKey)
                                         : key == "auditor" ? std::string(kAuditorKey)
                                                            : key);
    while (!line.empty()) {
      const std::string pair = Word(line);
      const std::size_t eq = pair.find('=');
      const std::string name = pair.substr(0, eq);
      const std::string value = eq == std::string::npos ? "" : pair.substr(eq + 1);
      if (name == "on_behalf_of") request.on_behalf_of = value;
      if (name == "as_admin") request.as_admin = value == "true";
      if (name == "client_ip") request.client_ip = value;
      if (name == "request_id") request.request_id = value;
    }
    request.peer_ip = "127.0.0.1";
    return request;
  }

  ApiResponse Handle(const ApiRequest& request) { return dispatcher_.Handle(request); }
  // Without the fast path of POST /v1/check: the reference it must agree with.
  ApiResponse HandleGenerally(const ApiRequest& request) { return general_.Handle(request); }

  bool HoldsSecret(std::string_view text) const { return service_.HoldsSecret(text); }
  // Whether `text` holds a secret other than as the token to check.
  bool SpellsOutSecret(const std::string& text) const {
    return service_.HoldsSecret(service_.WithoutTokenMembers(text));
  }
  static bool HoldsApiKey(std::string_view text) { return ServiceFixture::HoldsApiKey(text); }

 private:
  static std::string Word(std::string_view& line) {
    const std::size_t space = line.find(' ');
    std::string word(line.substr(0, space));
    line = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
    return word;
  }

  static void Substitute(std::string& body, std::string_view name, const std::string& value) {
    for (std::size_t at = body.find(name); at != std::string::npos;
         at = body.find(name, at + value.size())) {
      body.replace(at, name.size(), value);
    }
  }

  ServiceFixture service_;
  Dispatcher dispatcher_;
  Dispatcher general_;
};

// The string value of `name` in `object`, or nullptr if absent or not a string.
const char* StringField(capnp::JsonValue::Reader object, std::string_view name) {
  for (auto field : object.getObject()) {
    if (std::string_view(field.getName().cStr(), field.getName().size()) == name &&
        field.getValue().isString()) {
      return field.getValue().getString().cStr();
    }
  }
  return nullptr;
}

// `json` with the digits of its "revision" member removed.
std::string WithoutRevision(std::string json) {
  constexpr std::string_view kRevision = "\"revision\":";
  const std::size_t at = json.find(kRevision);
  if (at == std::string::npos) return json;
  const std::size_t digits = at + kRevision.size();
  const std::size_t end = json.find_first_not_of("0123456789", digits);
  json.erase(digits, (end == std::string::npos ? json.size() : end) - digits);
  return json;
}

Fixture* fixture = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  static Fixture instance;
  fixture = &instance;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ApiRequest request =
      fixture->Request(std::string_view(reinterpret_cast<const char*>(data), size));
  // A request that spells out an API key elsewhere than in its Authorization header is
  // not sent: answers may echo it (an unknown parameter's name), and an id made of it
  // would stay in the engine's state for later answers.
  const std::string echoable = request.method + request.target + request.body +
                               request.on_behalf_of + request.client_ip + request.request_id;
  if (fixture->HoldsApiKey(echoable)) return 0;
  const ApiResponse response = fixture->Handle(request);
  if (request.target.starts_with("/v1/check")) {
    // A check changes nothing but the token uses the engine records in the background,
    // which may move the revision in between: the general path must give the same
    // answer, revision aside.
    const ApiResponse general = fixture->HandleGenerally(request);
    FUZZ_CHECK(general.status == response.status);
    FUZZ_CHECK(general.content_type == response.content_type);
    FUZZ_CHECK(WithoutRevision(general.body) == WithoutRevision(response.body));
    FUZZ_CHECK(general.route == response.route);
  }
  FUZZ_CHECK(!fixture->HoldsApiKey(response.body));
  FUZZ_CHECK(!fixture->HoldsApiKey(response.route));
  if (response.content_type != "application/json") return 0;  // /metrics
  capnp::MallocMessageBuilder message;
  auto json = message.initRoot<capnp::JsonValue>();
  FUZZ_CHECK(authledger::replay::ParseJson(response.body, json, kMaxAnswerNesting).ok());
  FUZZ_CHECK(json.isObject());
  if (response.status == 200) {
    if ((request.target.starts_with("/v1/check") || request.target.starts_with("/v1/explain")) &&
        !fixture->SpellsOutSecret(echoable)) {
      FUZZ_CHECK(!fixture->HoldsSecret(response.body));
    }
  } else {
    const char* reason = StringField(json.asReader(), "reason");
    FUZZ_CHECK(reason != nullptr && *reason != '\0');
  }
  return 0;
}
