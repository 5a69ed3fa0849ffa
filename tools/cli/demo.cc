#include "tools/cli/demo.h"

#include <authledger/engine.h>
#include <stdlib.h>

#include <filesystem>
#include <iostream>

#include "storage/event_log.h"
#include "storage/merkle.h"
#include "tools/cli/format.h"

namespace authledger::cli {

namespace {

// Narrates the story; any step that fails ends it with the reason.
class Story {
 public:
  explicit Story(std::ostream& out) : out_(out) {}

  void Chapter(const std::string& title) { out_ << "\n" << ++chapter_ << ". " << title << "\n"; }
  void Say(const std::string& line) { out_ << "   " << line << "\n"; }

  template <typename T>
  T Expect(Result<T> r, const std::string& what) {
    if (!r.ok()) throw std::runtime_error(what + " failed: " + r.status().ToString());
    return std::move(r).value();
  }

  void Decision(const std::string& who, const authledger::Decision& d) {
    Say(who + " → " + (d.allowed ? "ALLOWED" : "DENIED") + " (" + d.reason + ", rule " + d.rule +
        ", at revision " + std::to_string(d.revision) + ")");
  }

  void Impact(const PolicyChange& change) {
    if (change.impact.empty()) Say("impact: no token's decision changes");
    for (const auto& i : change.impact) {
      Say("impact: token " + i.token_prefix + " of " + i.user_id + ": " + i.reason_before + " → " +
          i.reason_after);
    }
  }

 private:
  std::ostream& out_;
  int chapter_ = 0;
};

std::string MakeTempDir() {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "authledger-demo-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) return {};
  return pattern;
}

void Play(Story& s, Engine& engine) {
  const Actor admin = Actor::Admin("carol", "198.51.100.10");
  const Actor alice = Actor::User("alice", "203.0.113.5");
  const CheckContext from_laptop = [] {
    CheckContext c;
    c.ip = "203.0.113.5";
    return c;
  }();
  auto at_now = [&] {
    CheckContext c = from_laptop;
    auto checkpoint = engine.Checkpoint();
    c.time_us = checkpoint.ok() ? checkpoint->time_us : 0;
    return c;
  };

  s.Chapter("An organization and its members");
  s.Expect(engine.CreateOrganization(admin, "acme", "Acme Corp"), "create organization");
  s.Expect(engine.VerifyDomain(admin, "acme", "acme.example"), "verify domain");
  s.Expect(engine.AddIdp(admin, "acme", {"acme-okta", "Acme Okta", {"acme.example"}, 28800, true}),
           "add IdP");
  s.Expect(engine.RegisterUser(admin, "alice", "alice@acme.example"), "register alice");
  s.Expect(engine.RegisterUser(admin, "bob", "bob@freelance.example"), "register bob");
  s.Expect(engine.AddMember(admin, "acme", "alice"), "add alice");
  auto rev = s.Expect(engine.AddMember(admin, "acme", "bob"), "add bob");
  s.Say("carol (admin) created organization 'acme', verified acme.example and linked the SAML");
  s.Say("IdP 'acme-okta'. alice@acme.example is now a managed user of acme; bob, a freelancer");
  s.Say("with his own email domain, is a plain member. Log revision: " + std::to_string(rev));

  s.Chapter("alice logs in with her password");
  auto session = s.Expect(engine.RecordLogin(alice, {"alice", "password", false}), "login");
  s.Say("session " + session.token_prefix + " created (method password, no 2FA)");
  s.Decision("session → acme", engine.CheckToken(session.secret, "acme", at_now()));

  s.Chapter("alice creates a personal API token from that session");
  TokenSpec spec;
  spec.description = "deploy scripts on alice's laptop";
  spec.max_age_seconds = 30 * 86400;
  auto token = s.Expect(engine.CreatePersonalToken(alice, session.token_prefix, spec), "token");
  s.Say("token " + token.token_prefix + " created; its secret was returned once:");
  s.Say("  " + MaskSecret(token.secret) + "  (the engine keeps only its SHA-256)");
  s.Say("it inherits the method its session was created with: password");
  s.Decision("token → acme", engine.CheckToken(token.secret, "acme", at_now()));

  s.Chapter("acme switches to SSO only, and requires tokens to follow the allowed methods");
  PolicyUpdate sso_only;
  sso_only.password_auth_enabled = false;
  sso_only.oauth_enabled = false;
  sso_only.personal_tokens_require_allowed_auth_method = true;
  auto dry = s.Expect(engine.DryRunPolicy(admin, "acme", sso_only), "dry run");
  s.Say("dry run first (nothing appended): version " + std::to_string(dry.before.version) + " → " +
        std::to_string(dry.after.version));
  s.Impact(dry);
  sso_only.expected_version = dry.before.version;
  auto change = s.Expect(engine.UpdatePolicy(admin, "acme", sso_only), "SSO-only policy");
  s.Say("applied at revision " + std::to_string(change.revision) +
        ": password_auth_enabled=false, "
        "oauth_enabled=false, personal_tokens_require_allowed_auth_method=true");
  s.Decision("token → acme", engine.CheckToken(token.secret, "acme", at_now()));
  auto why = engine.Explain(token.secret, "acme", at_now());
  s.Say("why:");
  for (const auto& step : why.trace) {
    s.Say(std::string("  ") + (step.passed ? "✓ " : "✗ ") + step.condition +
          (step.detail.empty() ? "" : " [" + step.detail + "]"));
  }

  s.Chapter("acme loosens the policy again: password logins are back");
  PolicyUpdate loosen;
  loosen.password_auth_enabled = true;
  auto loosened = s.Expect(engine.UpdatePolicy(admin, "acme", loosen), "loosen");
  s.Impact(loosened);
  s.Decision("token → acme", engine.CheckToken(token.secret, "acme", at_now()));
  s.Say("tightening is soft: the token was never revoked, only refused while the policy said so");

  s.Chapter("alice turns on two-factor authentication");
  auto twofa = s.Expect(engine.EnableTwoFactor(alice, "alice"), "enable 2FA");
  s.Say("2FA enabled at revision " + std::to_string(twofa) + "; in the same atomic batch the");
  s.Say("engine revoked her password-created session and token (cause = the 2FA event)");
  s.Decision("token → acme", engine.CheckToken(token.secret, "acme", at_now()));
  s.Decision("session → acme", engine.CheckToken(session.secret, "acme", at_now()));
  PolicyUpdate everything;
  everything.oauth_enabled = true;
  everything.personal_tokens_require_allowed_auth_method = false;
  s.Expect(engine.UpdatePolicy(admin, "acme", everything), "loosen everything");
  s.Decision("token → acme, policy fully open", engine.CheckToken(token.secret, "acme", at_now()));
  s.Say("revocations are hard: no policy brings the token back");

  s.Chapter("The log's checkpoint");
  auto checkpoint = s.Expect(engine.Checkpoint(), "checkpoint");
  s.Say("size " + std::to_string(checkpoint.size) + " events, time " +
        FormatTime(checkpoint.time_us));
  s.Say("root " + checkpoint.root_hex);
  s.Say("an auditor who keeps this (size, root) can later demand proofs that any event is in the");
  s.Say("log and that the log only ever grew");
}

// After the engine closed: prove the 2FA event is in the tree, as an auditor would.
void ProveAfterClose(Story& s, const std::string& dir) {
  storage::EventLogOptions options;
  options.read_only = true;
  auto log = s.Expect(storage::EventLog::Open(dir, options), "open the log read-only");
  std::uint64_t size = log->size();
  std::uint64_t seq = 0;
  Status scanned = log->Scan(1, size, [&](const storage::DecodedEvent& e) {
    if (e.envelope().getEvent().isTwoFactorEnabled()) seq = e.seq();
    return seq == 0;
  });
  if (!scanned.ok()) throw std::runtime_error("scanning the log failed: " + scanned.ToString());
  auto event = s.Expect(log->Read(seq), "read the 2FA event");
  auto proof = s.Expect(log->InclusionProof(seq, size), "inclusion proof");
  auto root = s.Expect(log->RootAt(size), "root");
  bool ok = storage::VerifyInclusion(storage::LeafHash(event.bytes()), seq - 1, size, proof, root);
  s.Say("inclusion proof for the 2FA event (seq " + std::to_string(seq) +
        "): " + std::to_string(proof.size()) + " hashes, " + (ok ? "verified" : "NOT VERIFIED") +
        " against the root");
  if (!ok) throw std::runtime_error("the inclusion proof did not verify");
}

}  // namespace

int RunDemo(const std::string& data_dir, std::ostream& out) {
  std::string dir = data_dir.empty() ? MakeTempDir() : data_dir;
  std::error_code ec;
  if (dir.empty()) {
    std::cerr << "authledger demo: cannot create a temporary directory\n";
    return 1;
  }
  if (std::filesystem::exists(dir, ec) && !std::filesystem::is_empty(dir, ec)) {
    std::cerr << "authledger demo: " << dir << " is not empty; the demo needs a fresh directory\n";
    return 2;
  }
  out << "authledger demo — an organization's authentication policy, decided and recorded\n";
  Story story(out);
  try {
    {
      auto engine = story.Expect(Engine::Open(dir), "open the engine");
      Play(story, *engine);
    }
    ProveAfterClose(story, dir);
  } catch (const std::exception& e) {
    std::cerr << "authledger demo: " << e.what() << "\n";
    return 1;
  }
  out << "\nThe log is in " << dir << " (kept for exploring)\n";
  return 0;
}

}  // namespace authledger::cli
