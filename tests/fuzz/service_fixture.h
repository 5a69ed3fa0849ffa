// The server's Service over a real engine, set up once per fuzz process (in
// LLVMFuzzerInitialize) for the targets that answer requests: an engine in a temporary
// directory (under /dev/shm when there is one: commits fsync) holding two
// organizations, users, an IdP, a session, a personal and an application token, and
// three API keys (kBackendKey, kAdminKey, kAuditorKey).
//
// Commands that pass are appended, so the engine's state drifts as the fuzzer runs; a
// crash found late may need the inputs before it.
//
// Thread-safety: used by the fuzzing thread only.
#pragma once

#include <authledger/engine.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include "tests/fuzz/fuzz_check.h"
#include "tools/server/api_keys.h"
#include "tools/server/service.h"

namespace authledger::fuzz {

inline constexpr std::int64_t kStartUs = 1767225600LL * 1'000'000;  // 2026-01-01T00:00:00Z
inline constexpr std::string_view kBackendKey = "backend-key-0123456789";
inline constexpr std::string_view kAdminKey = "admin-key-0123456789ab";
inline constexpr std::string_view kAuditorKey = "auditor-key-0123456789";

class ServiceFixture {
 public:
  // A token made at set-up: `name` (session, personal or application), its secret and
  // its prefix.
  struct Token {
    std::string name;
    std::string secret;
    std::string prefix;
  };

  // `token_use_interval_us` as EngineOptions': the engine records an allowed token's
  // use in the background at most once per interval, which moves the revision that
  // answers carry (a test comparing two answers exactly wants that off: 2^60).
  explicit ServiceFixture(
      std::int64_t token_use_interval_us = EngineOptions().token_use_interval_us) {
    const std::filesystem::path base = std::filesystem::is_directory("/dev/shm")
                                           ? "/dev/shm"
                                           : std::filesystem::temp_directory_path();
    std::string pattern = (base / "authledger-fuzz-XXXXXX").string();
    FUZZ_CHECK(::mkdtemp(pattern.data()) != nullptr);
    dir_ = pattern;

    auto keys = server::ApiKeys::Parse("ci backend " + std::string(kBackendKey) + "\nops admin " +
                                       std::string(kAdminKey) + "\naudit auditor " +
                                       std::string(kAuditorKey) + "\n");
    FUZZ_CHECK(keys.ok());
    keys_ = std::make_unique<server::ApiKeys>(std::move(keys).value());
    EngineOptions options;
    options.clock = [] { return kStartUs; };
    options.token_use_interval_us = token_use_interval_us;
    auto engine = Engine::Open((dir_ / "data").string(), options);
    FUZZ_CHECK(engine.ok());
    engine_ = std::move(engine).value();
    Populate(*engine_);
    service_ = std::make_unique<server::Service>(*engine_, *keys_, (dir_ / "data").string(),
                                                 [] { return kStartUs; });
  }
  ~ServiceFixture() {
    service_.reset();
    engine_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  ServiceFixture(const ServiceFixture&) = delete;
  ServiceFixture& operator=(const ServiceFixture&) = delete;

  server::Service& service() { return *service_; }
  const Token& session() const { return session_; }
  const Token& personal() const { return personal_; }
  const Token& application() const { return application_; }

  // Whether `text` holds one of the API keys.
  static bool HoldsApiKey(std::string_view text) {
    return text.find(kBackendKey) != std::string_view::npos ||
           text.find(kAdminKey) != std::string_view::npos ||
           text.find(kAuditorKey) != std::string_view::npos;
  }
  // Whether `text` holds an API key or the secret of a token made at set-up.
  bool HoldsSecret(std::string_view text) const {
    for (const Token* token : {&session_, &personal_, &application_}) {
      if (text.find(token->secret) != std::string_view::npos) return true;
    }
    return HoldsApiKey(text);
  }
  // `text` without each secret given as the token to check (`"token":"<secret>"`).
  std::string WithoutTokenMembers(std::string text) const {
    for (const Token* token : {&session_, &personal_, &application_}) {
      const std::string member = "\"token\":\"" + token->secret + "\"";
      for (std::size_t at = text.find(member); at != std::string::npos;
           at = text.find(member, at)) {
        text.erase(at, member.size());
      }
    }
    return text;
  }

 private:
  // Organization acme (acme.com, an IdP), alice (member, by password: a session and a
  // personal token), bob (member of acme and globex, not managed) and an application
  // user of acme with a token.
  void Populate(Engine& e) {
    const Actor admin = Actor::Admin("admin1", "127.0.0.1");
    Setup(e.CreateOrganization(admin, "acme", "Acme"));
    Setup(e.VerifyDomain(admin, "acme", "acme.com"));
    IdpSpec idp;
    idp.idp_id = "okta";
    idp.name = "Okta";
    idp.domains = {"acme.com"};
    Setup(e.AddIdp(admin, "acme", idp));
    Setup(e.CreateOrganization(admin, "globex", "Globex"));
    Setup(e.RegisterUser(admin, "alice", "alice@acme.com"));
    Setup(e.RegisterUser(admin, "bob", "bob@example.org"));
    Setup(e.AddMember(admin, "acme", "alice"));
    Setup(e.AddMember(admin, "acme", "bob"));
    Setup(e.AddMember(admin, "globex", "bob"));
    auto session = e.RecordLogin(Actor::User("alice"), {"alice", "password", false});
    Setup(session);
    session_ = {"session", session->secret, session->token_prefix};
    TokenSpec spec;
    spec.description = "ci";
    spec.max_age_seconds = 3600;
    spec.ip_allowlist = {"10.0.0.0/8", "2001:db8::/32"};
    auto personal = e.CreatePersonalToken(Actor::User("alice"), session->token_prefix, spec);
    Setup(personal);
    personal_ = {"personal", personal->secret, personal->token_prefix};
    Setup(e.CreateApplicationUser(admin, "acme", "deployer", "Deployer"));
    auto app = e.CreateApplicationToken(admin, "acme", "deployer", {});
    Setup(app);
    application_ = {"application", app->secret, app->token_prefix};
  }

  template <typename T>
  static void Setup(const T& result) {
    FUZZ_CHECK(result.ok());
  }

  std::filesystem::path dir_;
  std::unique_ptr<server::ApiKeys> keys_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<server::Service> service_;
  Token session_;
  Token personal_;
  Token application_;
};

}  // namespace authledger::fuzz
