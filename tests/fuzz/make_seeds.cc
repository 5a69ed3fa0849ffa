// fuzz_make_seeds DIR: writes the binary seed corpora of the fuzz targets into
// DIR/event_decode and DIR/snapshot_decode, from a story played on a fresh engine (every
// kind of event): each stored event's bytes, and snapshots of the state at several seqs
// (in small chunks, so that they have several); and into DIR/frame_protocol, binary
// connections (frame_input.h): framed requests with the fuzz fixture's API keys,
// pipelined, cut into reads in several ways, truncated, malformed and oversize. Run once
// when a schema changes; the corpora are committed (tests/fuzz/corpus).
#include <authledger/engine.h>
#include <capnp/dynamic.h>
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/snapshot.h"
#include "engine/state_store.h"
#include "replay/event_json.h"
#include "schema/wire.capnp.h"
#include "storage/event_log.h"
#include "tests/fuzz/frame_input.h"
#include "tests/fuzz/service_fixture.h"
#include "tests/fuzz/snapshot_input.h"
#include "tools/server/wire_json.h"

namespace authledger {
namespace {

constexpr std::int64_t kStartUs = 1767225600LL * 1'000'000;  // 2026-01-01T00:00:00Z

template <typename T>
void Step(const Result<T>& r, std::string_view what) {
  if (!r.ok()) std::cerr << what << ": " << r.status().ToString() << "\n";
}

void PlayStory(Engine& e) {
  const Actor admin = Actor::Admin("carol", "198.51.100.10");
  const Actor alice = Actor::User("alice", "203.0.113.5");
  Step(e.CreateOrganization(admin, "acme", "Acme"), "create acme");
  Step(e.VerifyDomain(admin, "acme", "acme.com"), "verify acme.com");
  IdpSpec idp;
  idp.idp_id = "okta";
  idp.name = "Okta";
  idp.domains = {"acme.com"};
  Step(e.AddIdp(admin, "acme", idp), "add okta");
  Step(e.CreateOrganization(admin, "globex", "Globex"), "create globex");
  Step(e.RegisterUser(admin, "alice", "alice@acme.com"), "register alice");
  Step(e.RegisterUser(admin, "bob", "bob@example.org"), "register bob");
  Step(e.AddMember(admin, "acme", "alice"), "alice joins acme");
  Step(e.AddMember(admin, "acme", "bob"), "bob joins acme");
  Step(e.AddMember(admin, "globex", "bob"), "bob joins globex");
  auto session = e.RecordLogin(alice, {"alice", "password", false});
  Step(session, "alice logs in");
  TokenSpec spec;
  spec.description = "laptop";
  spec.max_age_seconds = 3600;
  spec.extend_when_used = true;
  spec.ip_allowlist = {"10.0.0.0/8", "2001:db8::/32"};
  spec.scopes = {"read"};
  if (session.ok()) {
    auto personal = e.CreatePersonalToken(alice, session->token_prefix, spec);
    Step(personal, "alice creates a personal token");
    CheckContext ctx;
    ctx.time_us = kStartUs + 1'000'000;
    ctx.ip = "10.1.2.3";
    if (personal.ok()) static_cast<void>(e.CheckToken(personal->secret, "acme", ctx));
    e.FlushTokenUse();
  }
  Step(e.RecordLogin(Actor::User("bob"), {"bob", "oauth:github", false}), "bob logs in");
  PolicyUpdate strict;
  strict.two_factor_required = true;
  strict.oauth_providers = std::vector<std::string>{"google"};
  strict.expected_version = 1;
  Step(e.UpdatePolicy(admin, "acme", strict), "acme requires 2FA");
  Step(e.RecordLogin(alice, {"alice", "oauth:github", false}), "alice's rejected login");
  Step(e.UpdateIpAllowlist(admin, "acme", true, {"198.51.100.0/24", "2001:db8::/48"}),
       "acme's allowlist");
  Step(e.EnableTwoFactor(alice, "alice"), "alice enables 2FA");
  Step(e.CreateApplicationUser(admin, "acme", "deployer", "Deployer"), "application user");
  TokenSpec app_spec;
  app_spec.expiry_time_us = kStartUs + 86'400'000'000LL;
  auto app = e.CreateApplicationToken(admin, "acme", "deployer", app_spec);
  Step(app, "application token");
  if (app.ok()) Step(e.RevokeToken(admin, app->token_prefix, "acme"), "revoke it");
  Step(e.ExpireUserTokens(admin, "bob"), "expire bob's tokens");
  Step(e.DeactivateUser(admin, "acme", "alice"), "deactivate alice");
  Step(e.ReactivateUser(admin, "acme", "alice"), "reactivate alice");
  Step(e.DeleteApplicationUser(admin, "acme", "deployer"), "delete the application user");
  Step(e.RemoveMember(admin, "globex", "bob"), "bob leaves globex");
  Step(e.RemoveIdp(admin, "acme", "okta"), "remove okta");
  Step(e.UnverifyDomain(admin, "acme", "acme.com"), "unverify acme.com");
  Step(e.DisableTwoFactor(alice, "alice"), "alice disables 2FA");
}

void Write(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// The frame of the wire::Request that `json` describes (empty if it does not decode).
std::string RequestFrame(const std::string& json) {
  capnp::MallocMessageBuilder message;
  Status decoded = server::DecodeJson(json, capnp::toDynamic(message.initRoot<wire::Request>()));
  if (!decoded.ok()) {
    std::cerr << json << ": " << decoded.ToString() << "\n";
    return {};
  }
  kj::Array<capnp::word> words = capnp::messageToFlatArray(message);
  const auto bytes = words.asBytes();
  return fuzz::FrameOf(
      std::string_view(reinterpret_cast<const char*>(bytes.begin()), bytes.size()));
}

std::string Authenticate(std::string_view key) {
  return RequestFrame(R"({"id":1,"body":{"authenticate":{"api_key":")" + std::string(key) +
                      "\"}}}");
}

void WriteFrameSeeds(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  const std::string health = RequestFrame(R"({"id":9,"body":{"health":null}})");
  const std::string check = RequestFrame(
      R"({"id":2,"body":{"check_token":{"token":"alp_unknown","org_id":"acme","ip":"10.1.2.3"}}})");
  const std::string get_policy =
      RequestFrame(R"({"id":3,"body":{"get_policy":{"org_id":"acme"}}})");
  const std::string create_org = RequestFrame(
      R"({"id":4,"body":{"create_organization":{"org_id":"initech","name":"Initech"}}})");
  const std::string register_user = RequestFrame(
      R"({"id":5,"body":{"register_user":{"user_id":"carol","email":"carol@acme.com"}}})");
  const std::string audit_events = RequestFrame(
      R"({"id":6,"body":{"audit_events":{"types":["token_created","member_added"],"limit":3}}})");
  const std::string explain =
      RequestFrame(R"({"id":7,"body":{"explain":{"token_prefix":"alp_x","org_id":"acme"}}})");
  // A segment table claiming 2^31 segments: whole words, but not a message.
  const std::string not_a_message =
      fuzz::LengthPrefix(16) + std::string("\xff\xff\xff\x7f", 4) + std::string(12, '\x01');
  const std::vector<std::pair<std::string, std::string>> seeds = {
      {"health", fuzz::MakeFrameInput({256}, health)},
      {"health_bytewise", fuzz::MakeFrameInput({}, health)},
      {"check_unauthenticated", fuzz::MakeFrameInput({3}, check)},
      {"backend_check", fuzz::MakeFrameInput({7, 1, 64}, Authenticate(fuzz::kBackendKey) + check)},
      {"backend_pipelined",
       fuzz::MakeFrameInput({256}, Authenticate(fuzz::kBackendKey) + get_policy + check + explain)},
      {"admin_commands",
       fuzz::MakeFrameInput({5, 200}, Authenticate(fuzz::kAdminKey) + create_org + register_user)},
      {"auditor_events",
       fuzz::MakeFrameInput({64, 2}, Authenticate(fuzz::kAuditorKey) + audit_events)},
      {"auditor_refused_command",
       fuzz::MakeFrameInput({256}, Authenticate(fuzz::kAuditorKey) + create_org)},
      {"truncated",
       fuzz::MakeFrameInput({256}, Authenticate(fuzz::kBackendKey) + fuzz::LengthPrefix(800) +
                                       std::string(100, 'x'))},
      {"truncated_header", fuzz::MakeFrameInput({1}, health + health.substr(0, 3))},
      {"oversize", fuzz::MakeFrameInput({256}, health + fuzz::LengthPrefix(1u << 20) + health)},
      {"oversize_max", fuzz::MakeFrameInput({2}, fuzz::LengthPrefix(0xffffffffu))},
      {"length_not_words", fuzz::MakeFrameInput({256}, fuzz::LengthPrefix(5) + "abcde" + health)},
      {"length_zero", fuzz::MakeFrameInput({4}, fuzz::LengthPrefix(0) + health)},
      {"not_a_message", fuzz::MakeFrameInput({16, 8}, not_a_message + health)},
  };
  for (const auto& [name, bytes] : seeds) Write(dir / name, bytes);
}

int Run(const std::filesystem::path& out) {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "authledger-seeds-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) return 1;
  const std::string dir = pattern + "/data";
  {
    EngineOptions options;
    std::int64_t now = kStartUs;
    options.clock = [now]() mutable { return now += 1'000'000; };
    auto engine = Engine::Open(dir, options);
    if (!engine.ok()) {
      std::cerr << engine.status().ToString() << "\n";
      return 1;
    }
    PlayStory(**engine);
  }
  storage::EventLogOptions options;
  options.read_only = true;
  auto log = storage::EventLog::Open(dir, options);
  if (!log.ok()) {
    std::cerr << log.status().ToString() << "\n";
    return 1;
  }
  const std::uint64_t size = (*log)->size();
  std::filesystem::create_directories(out / "event_decode");
  std::filesystem::create_directories(out / "snapshot_decode");
  Status scanned = (*log)->Scan(1, size, [&](const storage::DecodedEvent& e) {
    char name[64];
    std::snprintf(name, sizeof(name), "%02llu-", static_cast<unsigned long long>(e.seq()));
    const auto bytes = e.bytes();
    Write(out / "event_decode" / (name + replay::EventTypeName(e.envelope())),
          std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    return true;
  });
  if (!scanned.ok()) return 1;
  for (std::uint64_t seq : {std::uint64_t{0}, std::uint64_t{5}, size / 2, size}) {
    auto loaded = internal::LoadState(**log, seq);
    if (!loaded.ok()) return 1;
    auto encoded = internal::EncodeSnapshot(loaded->state, /*chunk_records=*/2);
    Write(out / "snapshot_decode" / ("state-at-" + std::to_string(seq)),
          fuzz::MakeSnapshotInput(static_cast<std::uint32_t>(seq), encoded.header, encoded.chunks));
  }
  std::filesystem::remove_all(pattern);
  WriteFrameSeeds(out / "frame_protocol");
  std::cout << size << " events, 4 snapshots and the binary connections written under "
            << out.string() << "\n";
  return 0;
}

}  // namespace
}  // namespace authledger

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_make_seeds DIR\n";
    return 2;
  }
  return authledger::Run(argv[1]);
}
