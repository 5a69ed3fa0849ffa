// Randomized model test: random command sequences applied both to the engine (through its
// public API) and to the reference model (tests/engine/reference_model.h), which was
// written from DESIGN.md alone. After every command the two must agree on accepted versus
// refused (and on the reason when a rule refused), and after every step on every
// (token, organization) check at a random address, on R3 for every session, and on the
// stored policy and allowlist. Sometimes the engine is reopened from its log mid-sequence.
//
// Each sequence has a fixed seed; a failure prints the seed and the commands that led to it.
#include <authledger/engine.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/engine/engine_fixture.h"
#include "tests/engine/reference_model.h"

namespace authledger::testing {
namespace {

// More with AUTHLEDGER_MODEL_SEQUENCES (default 200; 100 in sanitizer builds, see
// CMakeLists.txt) / AUTHLEDGER_MODEL_STEPS (for a long hunt);
// AUTHLEDGER_MODEL_COVERAGE=1 prints how often each verdict and command outcome came up.
int FromEnv(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && std::atoi(v) > 0 ? std::atoi(v) : fallback;
}
#ifndef AUTHLEDGER_MODEL_DEFAULT_SEQUENCES
#define AUTHLEDGER_MODEL_DEFAULT_SEQUENCES 200
#endif
const int kSequences = FromEnv("AUTHLEDGER_MODEL_SEQUENCES", AUTHLEDGER_MODEL_DEFAULT_SEQUENCES);
const int kSteps = FromEnv("AUTHLEDGER_MODEL_STEPS", 60);

const std::vector<std::string> kOrgs = {"org1", "org2", "org3"};
const std::vector<std::string> kCheckOrgs = {"org1", "org2", "org3", "org9"};
const std::vector<std::string> kDomains = {"acme.com", "beta.io"};
const std::vector<std::pair<std::string, std::string>> kPeople = {
    {"u1", "alice@acme.com"}, {"u2", "bob@Acme.COM"},   {"u3", "carol@beta.io"},
    {"u4", "dave@beta.io"},   {"u5", "erin@gmail.com"}, {"u6", "frank@gmail.com"}};
const std::vector<std::string> kApps = {"app1", "app2", "app3"};
const std::vector<std::string> kIdps = {"idp1", "idp2", "idp3", "idp4"};
const std::vector<std::string> kProviders = {"github", "google", "microsoft"};
const std::vector<std::int64_t> kAdvanceSeconds = {1,     30,    59,    60,    61,    61,   120,
                                                   300,   540,   599,   600,   601,   3599, 3600,
                                                   43200, 86399, 86400, 86401, 172800};

struct Totals {
  long sequences = 0, steps = 0, commands = 0, refused = 0, checks = 0, r3_checks = 0, impacts = 0,
       reopens = 0, deadline_probes = 0;
  std::map<std::string, long> check_reasons;  // coverage: how often each verdict came up
  std::map<std::string, long> outcomes;       // coverage: command → accepted / reason
};
Totals totals;

class ModelTest : public EngineTest, public ::testing::WithParamInterface<int> {
 public:
  static void TearDownTestSuite() {
    std::printf(
        "[model] %ld sequences, %ld steps, %ld commands (%ld refused), %ld token checks, "
        "%ld deadline probes, %ld R3 checks, %ld policy impacts, %ld reopens compared\n",
        totals.sequences, totals.steps, totals.commands, totals.refused, totals.checks,
        totals.deadline_probes, totals.r3_checks, totals.impacts, totals.reopens);
    if (std::getenv("AUTHLEDGER_MODEL_COVERAGE") == nullptr) return;
    for (const auto& [reason, n] : totals.check_reasons) {
      std::printf("[model]   check %s: %ld\n", reason.c_str(), n);
    }
    for (const auto& [what, n] : totals.outcomes) {
      std::printf("[model]   %s: %ld\n", what.c_str(), n);
    }
  }

 protected:
  using Kind = model::Kind;

  // ---- Randomness ----
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  std::size_t Index(std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_);
  }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[Index(v.size())];
  }
  // Mostly one that exists, sometimes any, rarely one that never will.
  std::string AnyOrg() {
    if (!m_.orgs.empty() && Chance(0.85))
      return std::next(m_.orgs.begin(), Index(m_.orgs.size()))->first;
    return Chance(0.9) ? Pick(kOrgs) : "org9";
  }
  std::string AnyPerson() {
    std::vector<std::string> registered;
    for (const auto& [id, u] : m_.users) {
      if (!u.application) registered.push_back(id);
    }
    if (!registered.empty() && Chance(0.85)) return Pick(registered);
    return Chance(0.93) ? Pick(kPeople).first : Pick(kApps);
  }
  std::string AnyIdp() {
    std::vector<std::string> live;
    for (const auto& [id, idp] : m_.idps) {
      if (!idp.removed) live.push_back(id);
    }
    if (!live.empty() && Chance(0.8)) return Pick(live);
    return Pick(kIdps);
  }
  std::string AnyApp() {
    std::vector<std::string> live;
    for (const auto& [id, u] : m_.users) {
      if (u.application && !u.deleted) live.push_back(id);
    }
    if (!live.empty() && Chance(0.85)) return Pick(live);
    return Chance(0.95) ? Pick(kApps) : Pick(kPeople).first;
  }
  std::string AnyMethod() {
    static const std::vector<std::string> kMethods = {"password", "password", "oauth:google",
                                                      "oauth:microsoft", "oauth:github"};
    if (Chance(0.03)) return Chance(0.5) ? "ldap" : "oauth:facebook";
    if (Chance(0.35)) return "saml:" + AnyIdp();
    return Pick(kMethods);
  }
  std::vector<std::string> AnyRanges(bool allow_invalid) {
    std::vector<std::string> out;
    std::vector<std::string> valid;
    for (const auto& [text, facts] : model::Ranges()) valid.push_back(text);
    std::size_t n = 1 + Index(3);
    for (std::size_t i = 0; i < n; ++i) out.push_back(Pick(valid));
    if (allow_invalid && Chance(0.05)) out.push_back(Pick(model::InvalidRanges()));
    return out;
  }
  model::TokenLimits AnyLimits() {
    model::TokenLimits l;
    if (Chance(0.03)) l.description.assign(1001, 'x');
    if (Chance(0.3)) l.description = "random token";
    double shape = std::uniform_real_distribution<double>(0, 1)(rng_);
    static const std::vector<std::uint32_t> kMaxAges = {600,       601, 3600,     86400,
                                                        315360000, 599, 315360001};
    static const std::vector<std::int64_t> kExpiry = {60, 600, 3600, 86400};
    if (shape < 0.3) {
      // No limit.
    } else if (shape < 0.55) {
      l.expiry_us = now() + Pick(kExpiry) * kSecondUs;
      if (Chance(0.05)) l.expiry_us = now() - kSecondUs;
    } else if (shape < 0.95) {
      l.max_age_seconds = Pick(kMaxAges);
      l.extend_when_used = Chance(0.4);
    } else {
      l.max_age_seconds = 3600;
      l.expiry_us = now() + 600 * kSecondUs;
    }
    if (Chance(0.02)) l.extend_when_used = true;
    if (Chance(0.4)) l.ip_allowlist = AnyRanges(true);
    if (Chance(0.02)) l.ip_allowlist.assign(101, "10.0.0.0/8");
    l.scopes.assign(Index(3), "projects:read");
    if (Chance(0.02)) l.scopes.assign(101, "projects:read");
    return l;
  }
  static TokenSpec Spec(const model::TokenLimits& l) {
    TokenSpec s;
    s.description = l.description;
    s.expiry_time_us = l.expiry_us;
    s.max_age_seconds = l.max_age_seconds;
    s.extend_when_used = l.extend_when_used;
    s.ip_allowlist = l.ip_allowlist;
    s.scopes = l.scopes;
    return s;
  }
  // A token of the model, preferring kind `kind` (any kind if none).
  std::optional<std::size_t> AnyToken(std::optional<Kind> kind, double prefer_live = 0.8) {
    std::vector<std::size_t> all, live;
    for (std::size_t i = 0; i < m_.tokens.size(); ++i) {
      if (kind && m_.tokens[i].kind != *kind) continue;
      all.push_back(i);
      if (!m_.tokens[i].revoked) live.push_back(i);
    }
    if (all.empty()) return std::nullopt;
    if (!live.empty() && Chance(prefer_live)) return Pick(live);
    return Pick(all);
  }

  // ---- Agreement ----
  void Log(std::string line) { history_.push_back(std::move(line)); }
  std::string History() const {
    std::ostringstream out;
    out << "\nseed " << GetParam() << ", commands so far:\n";
    std::size_t from = history_.size() > 120 ? history_.size() - 120 : 0;
    for (std::size_t i = from; i < history_.size(); ++i) out << "  " << history_[i] << "\n";
    return out.str();
  }
  static std::string Describe(const model::Expect& e) {
    return e.ok ? "accept" : (e.compare_reason ? "refuse " + e.reason : "refuse");
  }

  template <typename T>
  bool Agree(const std::string& what, const model::Expect& want, const Result<T>& got) {
    ++totals.commands;
    if (!got.ok()) ++totals.refused;
    Log("[" + std::to_string(now() / kSecondUs - kStartUs / kSecondUs) + "s] " + what +
        " -> model " + Describe(want) + ", engine " + got.status().ToString());
    ++totals.outcomes[what.substr(0, what.find(' ')) + " " + std::string(got.status().reason())];
    bool same =
        got.ok() == want.ok && (!want.compare_reason || got.status().reason() == want.reason);
    if (!same) {
      failed_ = true;
      ADD_FAILURE() << what << ": engine says " << got.status().ToString() << ", model says "
                    << Describe(want) << History();
      return false;
    }
    // What reached the log: a refusal appends nothing (but a login refused by R1 is recorded);
    // an accepted command appends its events in one batch and returns its revision.
    const std::uint64_t appended = engine_->revision() - revision_before_;
    if (appended > 0) m_.last_event_us = m_.EventTime(now());
    std::optional<std::uint64_t> expected = want.ok ? expected_events_ : 0;
    if (what.rfind("Login", 0) == 0 && !want.ok) {
      expected = want.compare_reason ? std::optional<std::uint64_t>(1) : std::nullopt;
    }
    if (expected ? appended != *expected : appended > 1) {
      Mismatch(what + ": appended " + std::to_string(appended) + " events, expected " +
               (expected ? std::to_string(*expected) : "0 or 1"));
      return false;
    }
    if (got.ok() && RevisionOf(got.value()) != (appended > 0 ? engine_->revision() : 0)) {
      Mismatch(what + ": returned revision " + std::to_string(RevisionOf(got.value())) +
               ", the log is at " + std::to_string(engine_->revision()));
      return false;
    }
    return true;
  }
  static std::uint64_t RevisionOf(std::uint64_t revision) { return revision; }
  static std::uint64_t RevisionOf(const CreatedToken& t) { return t.revision; }
  static std::uint64_t RevisionOf(const PolicyChange& c) { return c.revision; }
  void Mismatch(const std::string& what) {
    failed_ = true;
    ADD_FAILURE() << what << History();
  }

  // ---- Commands ----
  void CreateOrganization() {
    std::vector<std::string> missing;
    for (const auto& o : kOrgs) {
      if (m_.orgs.count(o) == 0) missing.push_back(o);
    }
    std::string org = !missing.empty() && Chance(0.8) ? Pick(missing) : Pick(kOrgs);
    if (Chance(0.03)) org = "";
    auto want = m_.CreateOrganization(org);
    Agree("CreateOrganization " + org, want,
          engine_->CreateOrganization(admin_, org, org + " Inc"));
  }
  void VerifyDomain() {
    std::string org = AnyOrg();
    std::string domain = Chance(0.97) ? Pick(kDomains) : "not a domain";
    auto want = m_.VerifyDomain(org, domain);
    Agree("VerifyDomain " + org + " " + domain, want, engine_->VerifyDomain(admin_, org, domain));
  }
  void UnverifyDomain() {
    std::string org = AnyOrg(), domain = Pick(kDomains);
    auto want = m_.UnverifyDomain(org, domain);
    Agree("UnverifyDomain " + org + " " + domain, want,
          engine_->UnverifyDomain(admin_, org, domain));
  }
  void AddIdp() {
    IdpSpec spec;
    std::string org = AnyOrg();
    spec.idp_id = Pick(kIdps);
    spec.name = "IdP " + spec.idp_id;
    auto it = m_.orgs.find(org);
    if (it != m_.orgs.end() && !it->second.domains.empty() && Chance(0.9)) {
      for (const auto& d : it->second.domains) {
        if (spec.domains.empty() || Chance(0.5)) spec.domains.push_back(d);
      }
    } else if (Chance(0.8)) {
      spec.domains.push_back(Pick(kDomains));
    }
    static const std::vector<std::uint32_t> kAges = {600, 601, 660, 3600, 86400, 599};
    spec.max_age_seconds = Pick(kAges);
    spec.extend_when_used = Chance(0.5);
    auto want =
        m_.AddIdp(org, spec.idp_id, spec.domains, spec.max_age_seconds, spec.extend_when_used);
    std::string domains;
    for (const auto& d : spec.domains) domains += d + ",";
    Agree("AddIdp " + org + " " + spec.idp_id + " [" + domains + "] max_age " +
              std::to_string(spec.max_age_seconds) + (spec.extend_when_used ? " extend" : ""),
          want, engine_->AddIdp(admin_, org, spec));
  }
  void RemoveIdp() {
    std::string idp = AnyIdp();
    auto it = m_.idps.find(idp);
    std::string org = it != m_.idps.end() && Chance(0.85) ? it->second.org : AnyOrg();
    auto want = m_.RemoveIdp(org, idp);
    Agree("RemoveIdp " + org + " " + idp, want, engine_->RemoveIdp(admin_, org, idp));
  }
  void RegisterUser() {
    std::string id, email;
    std::vector<std::pair<std::string, std::string>> missing;
    for (const auto& p : kPeople) {
      if (m_.users.count(p.first) == 0) missing.push_back(p);
    }
    if (Chance(0.95)) {
      const auto& person = !missing.empty() && Chance(0.8) ? Pick(missing) : Pick(kPeople);
      id = person.first;
      email = person.second;
    } else {
      id = Pick(kApps);
      email = id + "@gmail.com";
    }
    auto want = m_.RegisterUser(id, email);
    Agree("RegisterUser " + id + " " + email, want, engine_->RegisterUser(admin_, id, email));
  }
  void AddMember() {
    std::string org = AnyOrg(), user = AnyPerson();
    auto want = m_.AddMember(org, user);
    Agree("AddMember " + org + " " + user, want, engine_->AddMember(admin_, org, user));
  }
  void RemoveMember() {
    std::string org = AnyOrg(), user = AnyPerson();
    auto want = m_.RemoveMember(org, user);
    Agree("RemoveMember " + org + " " + user, want, engine_->RemoveMember(admin_, org, user));
  }
  void SetActive(bool active) {
    std::vector<std::string> candidates;  // managed users in the other state
    for (const auto& [id, u] : m_.users) {
      if (!u.application && u.active != active && !m_.ManagingOrg(id).empty()) {
        candidates.push_back(id);
      }
    }
    std::string user = !candidates.empty() && Chance(0.8) ? Pick(candidates) : AnyPerson();
    std::string org = m_.users.count(user) == 1 && Chance(0.85) ? m_.ManagingOrg(user) : AnyOrg();
    if (org.empty()) org = AnyOrg();
    auto want = m_.SetActive(org, user, active);
    Agree(std::string(active ? "ReactivateUser " : "DeactivateUser ") + org + " " + user, want,
          active ? engine_->ReactivateUser(admin_, org, user)
                 : engine_->DeactivateUser(admin_, org, user));
  }
  void CreateApplicationUser() {
    std::string org = AnyOrg(), user = Chance(0.95) ? Pick(kApps) : Pick(kPeople).first;
    auto want = m_.CreateApplicationUser(org, user);
    Agree("CreateApplicationUser " + org + " " + user, want,
          engine_->CreateApplicationUser(admin_, org, user, "app " + user));
  }
  void DeleteApplicationUser() {
    std::string user = AnyApp();
    auto it = m_.users.find(user);
    std::string org = it != m_.users.end() && Chance(0.85) ? it->second.application_org : AnyOrg();
    if (org.empty()) org = AnyOrg();
    expected_events_ = 1 + RevocableTokens(user, /*password_only=*/false);
    auto want = m_.DeleteApplicationUser(org, user);
    Agree("DeleteApplicationUser " + org + " " + user, want,
          engine_->DeleteApplicationUser(admin_, org, user));
  }
  // The tokens of `user` a 2FA change (password ones) or a deletion (all) revokes.
  std::uint64_t RevocableTokens(const std::string& user, bool password_only) const {
    return static_cast<std::uint64_t>(
        std::count_if(m_.tokens.begin(), m_.tokens.end(), [&](const model::Token& t) {
          return t.owner == user && !t.revoked && (!password_only || t.method == "password");
        }));
  }
  void SetTwoFactor() {
    std::string user = AnyPerson();
    auto it = m_.users.find(user);
    bool enable = it != m_.users.end() && Chance(0.9) ? !it->second.two_factor : Chance(0.5);
    expected_events_ = 1 + RevocableTokens(user, /*password_only=*/true);
    auto want = m_.SetTwoFactor(user, enable);
    Actor actor = Actor::User(user);
    Agree(std::string(enable ? "EnableTwoFactor " : "DisableTwoFactor ") + user, want,
          enable ? engine_->EnableTwoFactor(actor, user) : engine_->DisableTwoFactor(actor, user));
  }
  void UpdatePolicy() {
    std::string org = AnyOrg();
    PolicyUpdate u;
    std::ostringstream what;
    auto maybe = [&](std::optional<bool>& field, const char* name) {
      if (Chance(0.3)) {
        field = Chance(0.5);
        what << " " << name << "=" << *field;
      }
    };
    maybe(u.password_auth_enabled, "password");
    maybe(u.two_factor_required, "2fa_required");
    maybe(u.oauth_enabled, "oauth");
    maybe(u.saml_enabled, "saml");
    maybe(u.saml_allow_external, "saml_external");
    maybe(u.personal_tokens_enabled, "personal");
    maybe(u.personal_tokens_require_allowed_auth_method, "personal_require_method");
    if (Chance(0.25)) {
      std::vector<std::string> providers;
      std::size_t n = Index(4);
      for (std::size_t i = 0; i < n; ++i) providers.push_back(Pick(kProviders));
      if (Chance(0.05)) providers.push_back("facebook");
      what << " providers=[";
      for (const auto& p : providers) what << p << ",";
      what << "]";
      u.oauth_providers = providers;
    }
    auto it = m_.orgs.find(org);
    std::uint64_t version = it != m_.orgs.end() ? it->second.policy.version : 1;
    double v = std::uniform_real_distribution<double>(0, 1)(rng_);
    if (v < 0.3) {
      u.expected_version = version;
    } else if (v < 0.4) {
      u.expected_version = Chance(0.5) ? version - 1 : version + 1;
    }
    if (u.expected_version) what << " expected_version=" << *u.expected_version;
    u.force = Chance(0.3);
    if (u.force) what << " force";
    bool dry = Chance(0.2);

    AuthenticationPolicy after;
    std::map<std::string, ImpactEntry> want_impact;
    if (it != m_.orgs.end()) want_impact = ModelImpact(org, u, &after);
    if (dry) expected_events_ = 0;
    const AuthenticationPolicy before =
        it != m_.orgs.end() ? it->second.policy : AuthenticationPolicy{};
    auto want = m_.UpdatePolicy(org, u, dry);
    auto got = dry ? engine_->DryRunPolicy(admin_, org, u) : engine_->UpdatePolicy(admin_, org, u);
    if (!Agree((dry ? "DryRunPolicy " : "UpdatePolicy ") + org + what.str(), want, got)) return;
    if (!got.ok()) return;
    ++totals.impacts;
    if (!(got->before == before) || !(got->after == after)) {
      Mismatch("policy before/after " + org + " differs from the model's");
    }
    std::map<std::string, ImpactEntry> got_impact;
    for (const auto& e : got->impact) got_impact[e.token_prefix] = e;
    for (const auto& [prefix, e] : want_impact) {
      auto g = got_impact.find(prefix);
      if (g == got_impact.end()) {
        Mismatch("impact lacks " + prefix + " (" + e.reason_before + " -> " + e.reason_after + ")");
      } else if (g->second.allowed_before != e.allowed_before ||
                 g->second.reason_before != e.reason_before ||
                 g->second.allowed_after != e.allowed_after ||
                 g->second.reason_after != e.reason_after || g->second.user_id != e.user_id ||
                 g->second.org_id != e.org_id) {
        Mismatch("impact of " + prefix + ": engine " + g->second.reason_before + " -> " +
                 g->second.reason_after + ", model " + e.reason_before + " -> " + e.reason_after);
      }
    }
    for (const auto& [prefix, e] : got_impact) {
      if (want_impact.count(prefix) == 0) {
        Mismatch("impact has extra " + prefix + " (" + e.reason_before + " -> " + e.reason_after +
                 ")");
      }
    }
  }
  // The pairs an update of `org` would flip, by the model (no addresses involved).
  std::map<std::string, ImpactEntry> ModelImpact(const std::string& org, const PolicyUpdate& u,
                                                 AuthenticationPolicy* after) {
    std::map<std::string, ImpactEntry> impact;
    if (!m_.UpdatePolicy(org, u, /*dry_run=*/true, after).ok) return impact;
    const AuthenticationPolicy before = m_.orgs.at(org).policy;
    for (const auto& t : m_.tokens) {
      auto b = m_.Check(t, org, m_.EventTime(now()), "", &before, false);
      auto a = m_.Check(t, org, m_.EventTime(now()), "", after, false);
      if (b.allowed == a.allowed) continue;
      impact[t.prefix] = {t.prefix, t.owner, org, b.allowed, b.reason, a.allowed, a.reason};
    }
    return impact;
  }
  void UpdateIpAllowlist() {
    std::string org = AnyOrg();
    bool enabled = Chance(0.6);
    std::vector<std::string> ranges = Chance(0.1) ? std::vector<std::string>{} : AnyRanges(true);
    static const std::vector<std::string> kCallerIps = {"198.51.100.1", "198.51.100.1", "10.0.0.5",
                                                        "2001:db8::1"};
    Actor actor = admin_;
    actor.ip = Pick(kCallerIps);
    auto want = m_.UpdateIpAllowlist(org, enabled, ranges, actor.ip);
    std::string list;
    for (const auto& r : ranges) list += r + ",";
    Agree("UpdateIpAllowlist " + org + (enabled ? " on [" : " off [") + list + "] from " + actor.ip,
          want, engine_->UpdateIpAllowlist(actor, org, enabled, ranges));
  }
  void Login() {
    std::string user = AnyPerson(), method = AnyMethod();
    bool two_factor = Chance(0.5);
    model::Token session;
    auto want = m_.Login(user, method, two_factor, m_.EventTime(now()), &session);
    auto got = engine_->RecordLogin(Actor::User(user), {user, method, two_factor});
    if (Agree("Login " + user + " " + method + (two_factor ? " 2fa" : "") + " -> #" +
                  std::to_string(m_.tokens.size()),
              want, got) &&
        got.ok()) {
      Keep(session, *got);
    }
  }
  void EndSession() {
    auto i = AnyToken(Chance(0.95) ? std::optional(Kind::kSession) : std::nullopt);
    if (!i) return;
    auto want = m_.EndSession(*i);
    const auto& t = m_.tokens[*i];
    Agree("EndSession #" + std::to_string(*i), want,
          engine_->EndSession(Actor::User(t.owner), t.prefix));
  }
  void CreatePersonalToken() {
    auto i = AnyToken(Chance(0.95) ? std::optional(Kind::kSession) : std::nullopt, 0.9);
    if (!i) return;
    model::TokenLimits limits = AnyLimits();
    model::Token token;
    auto want = m_.CreatePersonalToken(*i, limits, m_.EventTime(now()), &token);
    const auto& s = m_.tokens[*i];
    auto got = engine_->CreatePersonalToken(Actor::User(s.owner), s.prefix, Spec(limits));
    if (Agree("CreatePersonalToken from #" + std::to_string(*i) + Limits(limits) + " -> #" +
                  std::to_string(m_.tokens.size()),
              want, got) &&
        got.ok()) {
      Keep(token, *got);
    }
  }
  void CreateApplicationToken() {
    std::string user = AnyApp();
    auto it = m_.users.find(user);
    std::string org = it != m_.users.end() && it->second.application && Chance(0.9)
                          ? it->second.application_org
                          : AnyOrg();
    model::TokenLimits limits = AnyLimits();
    model::Token token;
    auto want = m_.CreateApplicationToken(org, user, limits, m_.EventTime(now()), &token);
    auto got = engine_->CreateApplicationToken(admin_, org, user, Spec(limits));
    if (Agree("CreateApplicationToken " + org + " " + user + Limits(limits) + " -> #" +
                  std::to_string(m_.tokens.size()),
              want, got) &&
        got.ok()) {
      Keep(token, *got);
    }
  }
  void RevokeToken() {
    auto i = AnyToken(std::nullopt);
    if (!i) return;
    const auto& t = m_.tokens[*i];
    bool by_owner = t.kind != Kind::kApplication && Chance(0.5);
    std::string org = by_owner ? "" : AnyOrg();
    Actor actor = by_owner ? Actor::User(t.owner) : admin_;
    std::string prefix = t.prefix;
    auto want = m_.RevokeToken(*i, org);
    Agree("RevokeToken #" + std::to_string(*i) + (by_owner ? " by owner" : " by admin of " + org),
          want, engine_->RevokeToken(actor, prefix, org));
  }
  void ExpireUserTokens() {
    std::string user = AnyPerson();
    auto want = m_.ExpireUserTokens(user);
    Actor actor = m_.IsPerson(user) ? Actor::User(user) : admin_;
    Agree("ExpireUserTokens " + user, want, engine_->ExpireUserTokens(actor, user));
  }
  void AdvanceClock() {
    std::int64_t s = Pick(kAdvanceSeconds);
    Advance(s);
    Log("advance " + std::to_string(s) + "s");
  }
  // The clock steps back a little (NTP); the log's time must not.
  void StepClockBack() {
    static const std::vector<std::int64_t> kBack = {1, 30, 59, 61};
    std::int64_t s = Pick(kBack);
    Advance(-s);
    Log("clock back " + std::to_string(s) + "s");
  }
  void ReopenEngine() {
    Log("reopen");
    ++totals.reopens;
    Reopen();
  }

  static std::string Limits(const model::TokenLimits& l) {
    std::ostringstream out;
    if (l.description.size() > 1000) out << " long-description";
    if (l.expiry_us != 0) out << " expiry@" << (l.expiry_us - kStartUs) / kSecondUs << "s";
    if (l.max_age_seconds != 0) out << " max_age " << l.max_age_seconds;
    if (l.extend_when_used) out << " extend";
    if (l.scopes.size() > 100) out << " 101-scopes";
    if (l.ip_allowlist.size() > 100) {
      out << " 101-ranges";
    } else if (!l.ip_allowlist.empty()) {
      out << " ips [";
      for (const auto& r : l.ip_allowlist) out << r << ",";
      out << "]";
    }
    return out.str();
  }
  void Keep(model::Token token, const CreatedToken& created) {
    token.prefix = created.token_prefix;
    token.secret = created.secret;
    m_.tokens.push_back(std::move(token));
  }

  // ---- Checks after every step ----
  void CompareChecks() {
    const std::int64_t t = now();
    revision_checked_ = engine_->revision();
    std::vector<bool> used(m_.tokens.size(), false);
    for (std::size_t i = 0; i < m_.tokens.size() && !failed_; ++i) {
      for (const auto& org : kCheckOrgs) {
        const std::string& ip = Pick(model::Addresses());
        auto want = m_.Check(m_.tokens[i], org, t, ip);
        Decision got = engine_->CheckToken(m_.tokens[i].secret, org, {t, ip});
        ++totals.checks;
        ++totals.check_reasons[std::string(got.rule) + " " + got.reason];
        if (got.allowed != want.allowed || got.reason != want.reason) {
          Mismatch("CheckToken #" + std::to_string(i) + " on " + org + " from '" + ip +
                   "': engine " + got.reason + ", model " + want.reason);
          break;
        }
        const auto& tok = m_.tokens[i];
        static const std::map<Kind, std::string> kRule = {
            {Kind::kSession, "R2"}, {Kind::kPersonal, "R4"}, {Kind::kApplication, "R5"}};
        if (got.allowed && got.rule != kRule.at(tok.kind)) {
          Mismatch("CheckToken #" + std::to_string(i) + " allowed by rule " + got.rule);
          break;
        }
        if (got.revision > engine_->revision() || got.revision < revision_checked_) {
          Mismatch("CheckToken #" + std::to_string(i) + " at revision " +
                   std::to_string(got.revision) + ", the log was at " +
                   std::to_string(revision_checked_));
          break;
        }
        if (got.token_prefix != tok.prefix || got.user_id != tok.owner || got.org_id != org) {
          Mismatch("CheckToken #" + std::to_string(i) + " on " + org + " names token '" +
                   got.token_prefix + "', user '" + got.user_id + "', org '" + got.org_id + "'");
          break;
        }
        // Explain is the same check with its trace: every condition up to the first failure.
        Explanation e = engine_->ExplainPrefix(tok.prefix, org, {t, ip});
        if (e.decision.allowed != want.allowed || e.decision.reason != want.reason ||
            e.trace.empty() ||
            !std::all_of(e.trace.begin(), e.trace.end() - 1,
                         [](const TraceStep& s) { return s.passed; }) ||
            e.trace.back().passed != want.allowed) {
          Mismatch("ExplainPrefix #" + std::to_string(i) + " on " + org + " from '" + ip +
                   "': engine " + e.decision.reason + " with " + std::to_string(e.trace.size()) +
                   " steps, model " + want.reason);
          break;
        }
        used[i] = used[i] || want.allowed;
      }
    }
    for (const auto& org : kCheckOrgs) {
      Decision got = engine_->CheckToken("not-a-token-secret", org, {t, "10.0.0.5"});
      ++totals.checks;
      if (got.allowed || got.reason != "unknown_token") {
        Mismatch("CheckToken of an unknown secret on " + org + ": " + got.reason);
      }
    }
    for (std::size_t i = 0; i < m_.tokens.size() && !failed_; ++i) {
      const auto& s = m_.tokens[i];
      if (s.kind != Kind::kSession) continue;
      std::string want = m_.CanCreatePersonal(s, t);
      Decision got = engine_->CanCreatePersonalToken(s.prefix, {t, "10.0.0.5"});
      ++totals.r3_checks;
      if (got.allowed != (want == "ok") || got.reason != want) {
        Mismatch("CanCreatePersonalToken #" + std::to_string(i) + ": engine " + got.reason +
                 ", model " + want);
      }
    }
    for (const auto& org : kOrgs) ComparePolicy(org);
    // The engine records an allowed use at most once per interval; make it durable now.
    for (std::size_t i = 0; i < m_.tokens.size(); ++i) {
      if (used[i]) m_.NoteAllowedUse(m_.tokens[i], t);
    }
    engine_->FlushTokenUse();
    // Each deadline (with the uses now recorded), probed on both sides against an unknown
    // organization: a check that fails whatever happens records no use, so probing the
    // future changes nothing.
    for (std::size_t i = 0; i < m_.tokens.size() && !failed_; ++i) {
      auto deadline = model::Model::Deadline(m_.tokens[i]);
      if (!deadline) continue;
      for (std::int64_t at : {*deadline - 1, *deadline}) {
        auto want = m_.Check(m_.tokens[i], "org9", at, "10.0.0.5");
        Decision got = engine_->CheckToken(m_.tokens[i].secret, "org9", {at, "10.0.0.5"});
        ++totals.deadline_probes;
        if (got.allowed || got.reason != want.reason) {
          Mismatch("CheckToken #" + std::to_string(i) + " at its deadline" +
                   (at < *deadline ? " - 1us" : "") + ": engine " + got.reason + ", model " +
                   want.reason);
          break;
        }
      }
    }
  }
  void ComparePolicy(const std::string& org) {
    auto it = m_.orgs.find(org);
    auto policy = engine_->GetPolicy(org);
    auto allowlist = engine_->GetIpAllowlist(org);
    if (it == m_.orgs.end()) {
      if (policy.ok() || allowlist.ok()) Mismatch("GetPolicy of unknown " + org + " succeeded");
      return;
    }
    if (!policy.ok() || !(*policy == it->second.policy)) {
      Mismatch("GetPolicy " + org + " differs from the model's: " + policy.status().ToString());
      return;
    }
    if (!allowlist.ok() || allowlist->enabled != it->second.allowlist_enabled ||
        std::set<std::string>(allowlist->cidrs.begin(), allowlist->cidrs.end()) !=
            model::Normalized(it->second.allowlist)) {
      Mismatch("GetIpAllowlist " + org +
               " differs from the model's: " + allowlist.status().ToString());
    }
  }

  void RandomStep(bool setup) {
    struct Choice {
      int weight;
      void (ModelTest::*run)();
    };
    static const std::vector<Choice> kSetup = {{4, &ModelTest::CreateOrganization},
                                               {3, &ModelTest::VerifyDomain},
                                               {6, &ModelTest::RegisterUser},
                                               {6, &ModelTest::AddMember},
                                               {1, &ModelTest::CreateApplicationUser}};
    static const std::vector<Choice> kAll = {{3, &ModelTest::CreateOrganization},
                                             {4, &ModelTest::VerifyDomain},
                                             {2, &ModelTest::UnverifyDomain},
                                             {3, &ModelTest::AddIdp},
                                             {1, &ModelTest::RemoveIdp},
                                             {4, &ModelTest::RegisterUser},
                                             {7, &ModelTest::AddMember},
                                             {2, &ModelTest::RemoveMember},
                                             {2, &ModelTest::Deactivate},
                                             {2, &ModelTest::Reactivate},
                                             {2, &ModelTest::CreateApplicationUser},
                                             {1, &ModelTest::DeleteApplicationUser},
                                             {3, &ModelTest::SetTwoFactor},
                                             {8, &ModelTest::UpdatePolicy},
                                             {3, &ModelTest::UpdateIpAllowlist},
                                             {10, &ModelTest::Login},
                                             {2, &ModelTest::EndSession},
                                             {7, &ModelTest::CreatePersonalToken},
                                             {4, &ModelTest::CreateApplicationToken},
                                             {3, &ModelTest::RevokeToken},
                                             {1, &ModelTest::ExpireUserTokens},
                                             {12, &ModelTest::AdvanceClock},
                                             {1, &ModelTest::StepClockBack},
                                             {1, &ModelTest::ReopenEngine}};
    const auto& choices = setup ? kSetup : kAll;
    revision_before_ = engine_->revision();
    expected_events_ = 1;
    int total = 0;
    for (const auto& c : choices) total += c.weight;
    int r = std::uniform_int_distribution<int>(0, total - 1)(rng_);
    for (const auto& c : choices) {
      if (r < c.weight) {
        (this->*c.run)();
        return;
      }
      r -= c.weight;
    }
  }
  void Deactivate() { SetActive(false); }
  void Reactivate() { SetActive(true); }

  std::uint64_t revision_before_ = 0;
  std::uint64_t revision_checked_ = 0;  // when this step's checks began
  std::uint64_t expected_events_ = 1;   // by an accepted command
  std::mt19937_64 rng_;
  model::Model m_;
  std::vector<std::string> history_;
  bool failed_ = false;
};

TEST_P(ModelTest, EngineAgreesWithReferenceModel) {
  rng_.seed(0x5eed0000ULL + static_cast<std::uint64_t>(GetParam()));
  ++totals.sequences;
  for (int step = 0; step < kSteps && !failed_; ++step) {
    ++totals.steps;
    RandomStep(/*setup=*/step < 12);
    if (!failed_) CompareChecks();
  }
}

INSTANTIATE_TEST_SUITE_P(Model, ModelTest, ::testing::Range(0, kSequences));

}  // namespace
}  // namespace authledger::testing
