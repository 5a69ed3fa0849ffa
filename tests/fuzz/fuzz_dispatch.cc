// Fuzz target: the server's HTTP/JSON routes end to end without sockets
// (tools/server/dispatch.h Dispatcher::Handle, then Service and the engine), over one
// engine opened at start-up in a temporary directory (under /dev/shm when there is one:
// commits fsync) holding two organizations, users, an IdP, a session, a personal and an
// application token.
//
// Input: a first line `METHOD TARGET KEY [name=value…]` and the body after it. KEY is
// `admin`, `backend` or `auditor` for that role's valid key, anything else is sent as
// the key itself; the optional pairs set the headers (on_behalf_of, as_admin=true,
// client_ip, request_id). Anywhere in the input, @session@, @personal@ and
// @application@ stand for those tokens' secrets and @session_prefix@, @personal_prefix@
// and @application_prefix@ for their prefixes, so that checks and token routes reach
// the rules. Commands that pass are appended, so the engine's state drifts as the
// fuzzer runs; a crash found late may need the inputs before it.
//
// Every answer is a JSON object (errors with a non-empty reason); no answer holds an
// API key (requests that spell one out outside their Authorization header are skipped),
// and no check or explain answer holds the secret it was given.
#include <authledger/engine.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include "tests/fuzz/fuzz_check.h"
#include "tools/server/api_keys.h"
#include "tools/server/dispatch.h"
#include "tools/server/json_body.h"
#include "tools/server/service.h"

namespace {

using authledger::Actor;
using authledger::Engine;
using authledger::server::ApiKeys;
using authledger::server::ApiRequest;
using authledger::server::ApiResponse;
using authledger::server::Dispatcher;
using authledger::server::Service;

constexpr std::int64_t kStartUs = 1767225600LL * 1'000'000;  // 2026-01-01T00:00:00Z
constexpr std::string_view kBackendKey = "backend-key-0123456789";
constexpr std::string_view kAdminKey = "admin-key-0123456789ab";
constexpr std::string_view kAuditorKey = "auditor-key-0123456789";

#define SETUP(expr) FUZZ_CHECK((expr).ok())

class Fixture {
 public:
  Fixture() {
    const std::filesystem::path base = std::filesystem::is_directory("/dev/shm")
                                           ? "/dev/shm"
                                           : std::filesystem::temp_directory_path();
    std::string pattern = (base / "authledger-fuzz-XXXXXX").string();
    FUZZ_CHECK(::mkdtemp(pattern.data()) != nullptr);
    dir_ = pattern;

    auto keys = ApiKeys::Parse("ci backend " + std::string(kBackendKey) + "\nops admin " +
                               std::string(kAdminKey) + "\naudit auditor " +
                               std::string(kAuditorKey) + "\n");
    FUZZ_CHECK(keys.ok());
    keys_ = std::make_unique<ApiKeys>(std::move(keys).value());
    authledger::EngineOptions options;
    options.clock = [] { return kStartUs; };
    auto engine = Engine::Open((dir_ / "data").string(), options);
    FUZZ_CHECK(engine.ok());
    engine_ = std::move(engine).value();
    Populate(*engine_);
    service_ = std::make_unique<Service>(*engine_, *keys_, (dir_ / "data").string(),
                                         [] { return kStartUs; });
    dispatcher_ = std::make_unique<Dispatcher>(*service_);
  }
  ~Fixture() {
    dispatcher_.reset();
    service_.reset();
    engine_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  Fixture(const Fixture&) = delete;
  Fixture& operator=(const Fixture&) = delete;

  ApiRequest Request(std::string_view raw) const {
    std::string input(raw);
    for (const auto& token : {&session_, &personal_, &application_}) {
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

  ApiResponse Handle(const ApiRequest& request) const { return dispatcher_->Handle(request); }

  bool HoldsSecret(std::string_view text) const {
    for (const auto& token : {&session_, &personal_, &application_}) {
      if (text.find(token->secret) != std::string_view::npos) return true;
    }
    return HoldsApiKey(text);
  }
  bool HoldsApiKey(std::string_view text) const {
    return text.find(kBackendKey) != std::string_view::npos ||
           text.find(kAdminKey) != std::string_view::npos ||
           text.find(kAuditorKey) != std::string_view::npos;
  }

 private:
  // Organization acme (acme.com, an IdP), alice (member, by password: a session and a
  // personal token), bob (member of acme, not managed) and an application user.
  void Populate(Engine& e) {
    const Actor admin = Actor::Admin("admin1", "127.0.0.1");
    SETUP(e.CreateOrganization(admin, "acme", "Acme"));
    SETUP(e.VerifyDomain(admin, "acme", "acme.com"));
    authledger::IdpSpec idp;
    idp.idp_id = "okta";
    idp.name = "Okta";
    idp.domains = {"acme.com"};
    SETUP(e.AddIdp(admin, "acme", idp));
    SETUP(e.CreateOrganization(admin, "globex", "Globex"));
    SETUP(e.RegisterUser(admin, "alice", "alice@acme.com"));
    SETUP(e.RegisterUser(admin, "bob", "bob@example.org"));
    SETUP(e.AddMember(admin, "acme", "alice"));
    SETUP(e.AddMember(admin, "acme", "bob"));
    SETUP(e.AddMember(admin, "globex", "bob"));
    auto session = e.RecordLogin(Actor::User("alice"), {"alice", "password", false});
    SETUP(session);
    session_ = {"session", session->secret, session->token_prefix};
    authledger::TokenSpec spec;
    spec.description = "ci";
    spec.max_age_seconds = 3600;
    spec.ip_allowlist = {"10.0.0.0/8", "2001:db8::/32"};
    auto personal = e.CreatePersonalToken(Actor::User("alice"), session->token_prefix, spec);
    SETUP(personal);
    personal_ = {"personal", personal->secret, personal->token_prefix};
    SETUP(e.CreateApplicationUser(admin, "acme", "deployer", "Deployer"));
    auto app = e.CreateApplicationToken(admin, "acme", "deployer", {});
    SETUP(app);
    application_ = {"application", app->secret, app->token_prefix};
  }

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

  std::filesystem::path dir_;
  std::unique_ptr<ApiKeys> keys_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<Dispatcher> dispatcher_;
  struct Token {
    std::string name;  // as in @name@ and @name_prefix@
    std::string secret;
    std::string prefix;
  };
  Token session_;
  Token personal_;
  Token application_;
};

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
  FUZZ_CHECK(!fixture->HoldsApiKey(response.body));
  FUZZ_CHECK(!fixture->HoldsApiKey(response.route));
  if (response.content_type != "application/json") return 0;  // /metrics
  authledger::server::JsonBody json;
  FUZZ_CHECK(json.Parse(response.body).ok());
  if (response.status == 200) {
    if (request.target.starts_with("/v1/check") || request.target.starts_with("/v1/explain")) {
      FUZZ_CHECK(!fixture->HoldsSecret(response.body));
    }
  } else {
    auto reason = json.String("reason");
    FUZZ_CHECK(reason.ok() && reason->has_value() && !(*reason)->empty());
  }
  return 0;
}
