// Property tests of the Auditor against the live engine.
//
// Each sequence (a fixed seed) drives the real Engine with random commands under a fake
// clock that jumps by seconds to days, captures the engine's published state after every
// command (revision → State), and then opens the log read-only beside the still-open
// engine. The state "live at seq s" is the captured one, or — for seqs inside a batch
// (2FA revocations, recorded token uses) — the captured state before it with the batch's
// earlier events folded in. Every audit answer is then compared with a brute-force answer
// computed from those live states with the engine's own rule function:
//
//   ReplayedState…  LoadState / StateAt / PolicyAt / Who at random seqs == live state;
//   ScopedExplain…  Explain (a fold of only the involved subjects) == the full check;
//   Impact…         Impact(seq) == every (token, org) pair whose `allowed` flips, by brute force;
//   TokenIntervals… access intervals == point checks at random times, and are contiguous;
//   Step…           Step(1, N) lists each event once and every change Diff(seq-1, seq) finds;
//   EventPages…     Events(filter, limit) pages concatenate to the brute-force filtered log.
//
// A failure prints the seed and the commands around the seq involved. More sequences with
// AUTHLEDGER_REPLAY_SEQUENCES, longer ones with AUTHLEDGER_REPLAY_STEPS.
#include <authledger/audit.h>
#include <authledger/engine.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "engine/engine_impl.h"
#include "engine/rules.h"
#include "engine/state.h"
#include "engine/state_store.h"
#include "replay/describe.h"
#include "storage/event_log.h"
#include "storage/subjects.h"
#include "tests/engine/engine_fixture.h"
#include "tests/support/temp_dir.h"

namespace authledger::testing {
namespace {

using internal::State;
using internal::TokenRecord;
using storage::Subject;
using K = storage::SubjectKind;

int FromEnv(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && std::atoi(v) > 0 ? std::atoi(v) : fallback;
}
const int kSequences = FromEnv("AUTHLEDGER_REPLAY_SEQUENCES", 6);
const int kSteps = FromEnv("AUTHLEDGER_REPLAY_STEPS", 150);
const int kFailuresShown = FromEnv("AUTHLEDGER_REPLAY_FAILURES_SHOWN", 6);

// How much each property exercised (printed at the end, so a weak generator shows).
struct Totals {
  long histories = 0, events = 0, tokens = 0, explains = 0, explains_allowed = 0, impacts = 0,
       flips = 0, intervals = 0, time_intervals = 0, point_checks = 0, point_allowed = 0,
       step_changes = 0, filters = 0, filtered_events = 0, open_retries = 0;
};
Totals totals;

const std::vector<std::string> kOrgs = {"org1", "org2", "org3", "org4"};
const std::vector<std::string> kCheckOrgs = {"org1", "org2", "org3", "org4", "org9"};
const std::vector<std::string> kDomains = {"acme.com", "beta.io", "gamma.org"};
const std::vector<std::pair<std::string, std::string>> kPeople = {
    {"u1", "alice@acme.com"}, {"u2", "bob@Acme.com"},   {"u3", "carol@beta.io"},
    {"u4", "dave@gamma.org"}, {"u5", "erin@gmail.com"}, {"u6", "frank@beta.io"}};
const std::vector<std::string> kApps = {"app1", "app2", "app3"};
const std::vector<std::string> kIdps = {"idp1", "idp2", "idp3", "idp4", "idp5", "idp6"};
const std::vector<std::string> kAddresses = {"10.0.0.5",    "198.51.100.1", "198.51.100.77",
                                             "203.0.113.7", "2001:db8::1",  "192.168.1.10"};
const std::vector<std::string> kRanges = {"198.51.100.0/24", "10.0.0.0/8",     "203.0.113.0/24",
                                          "2001:db8::/32",   "192.168.0.0/16", "198.51.100.77/32"};
const std::vector<std::int64_t> kSmallSteps = {1, 30, 61, 599, 600, 3600, 7200};
const std::vector<std::int64_t> kBigSteps = {21600, 86399, 86400, 259200, 604800};

State Published(const Engine& engine) {
  return dynamic_cast<const internal::EngineImpl&>(engine).PublishedState();
}

internal::CheckOptions IpCheck(const std::string& ip) {
  internal::CheckOptions o;
  o.check_ip = !ip.empty();
  return o;
}

// Names what differs between two states (State::operator== says only whether).
std::string StateDifference(const State& a, const State& b) {
  std::ostringstream out;
  if (a.revision != b.revision) out << " revision " << a.revision << "≠" << b.revision;
  if (a.last_time_us != b.last_time_us) out << " last_time_us";
  for (std::size_t i = 0; i < std::max(a.orgs.size(), b.orgs.size()); ++i) {
    if (i >= a.orgs.size() || i >= b.orgs.size() || !(a.orgs[i] == b.orgs[i])) {
      out << " org#" << i << "(" << (i < a.orgs.size() ? a.orgs[i].id : b.orgs[i].id) << ")";
    }
  }
  for (std::size_t i = 0; i < std::max(a.users.size(), b.users.size()); ++i) {
    if (i >= a.users.size() || i >= b.users.size() || !(a.users[i] == b.users[i])) {
      out << " user#" << i << "(" << (i < a.users.size() ? a.users[i].id : b.users[i].id) << ")";
    }
  }
  for (std::size_t i = 0; i < std::max(a.tokens.size(), b.tokens.size()); ++i) {
    const auto idx = static_cast<internal::Idx>(i);
    if (i >= a.tokens.size() || i >= b.tokens.size() || !(a.tokens.at(idx) == b.tokens.at(idx))) {
      out << " token#" << i;
    }
  }
  if (a.idps != b.idps) out << " idps";
  if (a.domain_owner != b.domain_owner) out << " domain_owner";
  if (a.org_index != b.org_index || a.user_index != b.user_index) out << " indexes";
  if (a.methods != b.methods || a.method_index != b.method_index) out << " methods";
  if (a.ip_lists != b.ip_lists || a.ip_list_index != b.ip_list_index) out << " ip_lists";
  return out.str();
}

// ---- One recorded history ----

struct History {
  int seed = 0;
  TempDir dir;
  std::shared_ptr<std::atomic<std::int64_t>> clock =
      std::make_shared<std::atomic<std::int64_t>>(kStartUs);
  std::unique_ptr<Engine> engine;       // still open while the auditor reads
  std::map<std::uint64_t, State> live;  // published state, by revision
  std::vector<State> at;                // the live state at every seq 0..N
  std::vector<std::int64_t> time_of;    // event time by seq (time_of[0] = 0)
  std::vector<std::vector<Subject>> subjects_of;
  std::vector<std::string> command_of;  // the command that appended each seq
  std::vector<std::string> commands;    // every command, refused ones included
  std::vector<std::uint64_t> snapshots;
  std::unique_ptr<storage::EventLog> log;  // read-only
  std::unique_ptr<Auditor> auditor;

  std::uint64_t size() const { return at.size() - 1; }
  std::int64_t last_time() const { return time_of.back(); }
  // The seq a time names: the last event at or before it.
  std::uint64_t SeqAtTime(std::int64_t t) const {
    return static_cast<std::uint64_t>(std::upper_bound(time_of.begin() + 1, time_of.end(), t) -
                                      time_of.begin() - 1);
  }
  std::vector<std::string> Prefixes() const {
    std::vector<std::string> out;
    for (const auto& t : at.back().tokens.records()) out.push_back(t.prefix.str());
    return out;
  }
  std::string Offset(std::int64_t us) const {
    return "+" + std::to_string((us - kStartUs) / kSecondUs) + "s(" + std::to_string(us) + ")";
  }
  // Seed and the events around `seq`, with the commands that appended them.
  std::string Context(std::uint64_t seq) const {
    std::ostringstream out;
    out << "\n  seed " << seed << " (rerun: --gtest_filter='*AuditorProperty*/" << seed
        << "'), log of " << size() << " events, snapshots at [";
    for (auto s : snapshots) out << s << " ";
    out << "]\n";
    const std::uint64_t from = seq > 6 ? seq - 6 : 1;
    for (std::uint64_t s = from; s <= std::min(size(), seq + 2); ++s) {
      out << (s == seq ? "  > " : "    ") << s << " " << Offset(time_of[s]) << " " << command_of[s]
          << "\n";
    }
    return out.str();
  }
};

// Drives the engine with random commands, capturing the published state after each.
class Recorder {
 public:
  explicit Recorder(History& h) : h_(h), rng_(0xa0d17000ULL + static_cast<unsigned>(h.seed)) {}

  void Run() {
    EngineOptions options;
    options.clock = [clock = h_.clock] { return clock->load(); };
    options.snapshot_interval = Pick(std::vector<std::uint64_t>{13, 40, 100000});
    auto engine = Engine::Open(h_.dir.path(), options);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    h_.engine = std::move(engine).value();
    Capture("open");
    for (int step = 0; step < kSteps; ++step) RandomStep(step < 15);
    h_.engine->FlushTokenUse();
    Capture("end");
  }

 private:
  using Step = void (Recorder::*)();

  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[std::uniform_int_distribution<std::size_t>(0, v.size() - 1)(rng_)];
  }
  std::int64_t now() const { return h_.clock->load(); }

  void Capture(const std::string& what) {
    State s = Published(*h_.engine);
    const std::uint64_t before = h_.live.empty() ? 0 : h_.live.rbegin()->first;
    for (std::uint64_t seq = before + 1; seq <= s.revision; ++seq) {
      if (h_.command_of.size() <= seq) h_.command_of.resize(seq + 1);
      h_.command_of[seq] = what;
    }
    h_.commands.push_back(h_.Offset(now()) + " " + what + " -> rev " + std::to_string(s.revision));
    h_.live[s.revision] = std::move(s);
  }
  template <typename T>
  void Done(const std::string& what, const Result<T>& r) {
    Capture(what + (r.ok() ? "" : " [refused " + std::string(r.status().reason()) + "]"));
  }
  void Done(const std::string& what, const Result<CreatedToken>& r) {
    if (r.ok()) secrets_[r->token_prefix] = r->secret;
    Capture(what + (r.ok() ? " = " + r->token_prefix
                           : " [refused " + std::string(r.status().reason()) + "]"));
  }

  // ---- Choices among what exists (mostly) ----
  const State& state() const { return h_.live.rbegin()->second; }
  std::string AnyOrg() {
    if (!state().orgs.empty() && Chance(0.9)) return Pick(state().orgs).id;
    return Pick(kOrgs);
  }
  std::string AnyPerson() {
    std::vector<std::string> people;
    for (const auto& u : state().users) {
      if (!u.application && !u.email.empty()) people.push_back(u.id);
    }
    if (!people.empty() && Chance(0.9)) return Pick(people);
    return Pick(kPeople).first;
  }
  std::string AnyApp(std::string* org) {
    std::vector<const internal::User*> apps;
    for (const auto& u : state().users) {
      if (u.application && !u.deleted) apps.push_back(&u);
    }
    if (apps.empty() || Chance(0.1)) {
      *org = AnyOrg();
      return Pick(kApps);
    }
    const internal::User* u = Pick(apps);
    *org = state().orgs[u->application_org].id;
    return u->id;
  }
  // A token, mostly one not revoked, optionally only sessions.
  const TokenRecord* AnyToken(bool sessions_only) {
    std::vector<const TokenRecord*> all, live;
    for (const auto& t : state().tokens.records()) {
      if (sessions_only && t.kind != internal::TokenKind::kSession) continue;
      all.push_back(&t);
      if (!t.revoked) live.push_back(&t);
    }
    if (all.empty()) return nullptr;
    return !live.empty() && Chance(0.85) ? Pick(live) : Pick(all);
  }
  // An organization the token's owner belongs to, mostly.
  std::string OrgOf(const TokenRecord& t) {
    const auto& owner = state().OwnerOf(t);
    std::vector<std::string> orgs;
    for (auto o : owner.orgs) orgs.push_back(state().orgs[o].id);
    if (owner.application_org != internal::kNoIdx) {
      orgs.push_back(state().orgs[owner.application_org].id);
    }
    return !orgs.empty() && Chance(0.85) ? Pick(orgs) : Pick(kCheckOrgs);
  }
  std::vector<std::string> AnyRanges() {
    std::vector<std::string> out;
    for (const auto& r : kRanges) {
      if (Chance(0.35)) out.push_back(r);
    }
    return out;
  }
  TokenSpec AnySpec() {
    TokenSpec spec;
    double shape = std::uniform_real_distribution<double>(0, 1)(rng_);
    if (shape < 0.3) {
      // No limit.
    } else if (shape < 0.55) {
      spec.expiry_time_us =
          now() + Pick(std::vector<std::int64_t>{600, 3600, 86400, 259200}) * kSecondUs;
    } else {
      spec.max_age_seconds = Pick(std::vector<std::uint32_t>{600, 3600, 86400, 604800});
      spec.extend_when_used = Chance(0.5);
    }
    if (Chance(0.25)) spec.ip_allowlist = AnyRanges();
    return spec;
  }

  // ---- Commands ----
  void CreateOrganization() {
    std::string org = Pick(kOrgs);
    Done("CreateOrganization " + org, h_.engine->CreateOrganization(Admin(), org, org + " Inc"));
  }
  void VerifyDomain() {
    std::string org = AnyOrg(), domain = Pick(kDomains);
    for (const auto& d : kDomains) {
      if (!state().domain_owner.contains(d) && Chance(0.7)) domain = d;
    }
    Done("VerifyDomain " + org + " " + domain, h_.engine->VerifyDomain(Admin(), org, domain));
  }
  void UnverifyDomain() {
    std::string org = AnyOrg(), domain = Pick(kDomains);
    if (const auto* o = state().FindOrg(org); o && !o->domains.empty() && Chance(0.8)) {
      domain = *o->domains.begin();
    }
    Done("UnverifyDomain " + org + " " + domain, h_.engine->UnverifyDomain(Admin(), org, domain));
  }
  void AddIdp() {
    std::string org = AnyOrg();
    for (const auto& o : state().orgs) {
      if (!o.domains.empty() && Chance(0.6)) org = o.id;
    }
    IdpSpec spec;
    spec.idp_id = Pick(kIdps);
    spec.name = "IdP " + spec.idp_id;
    if (const auto* o = state().FindOrg(org)) {
      for (const auto& d : o->domains) {
        if (spec.domains.empty() || Chance(0.5)) spec.domains.push_back(d);
      }
    }
    if (spec.domains.empty()) spec.domains.push_back(Pick(kDomains));
    spec.max_age_seconds = Pick(std::vector<std::uint32_t>{600, 3600, 86400, 604800});
    spec.extend_when_used = Chance(0.5);
    Done("AddIdp " + org + " " + spec.idp_id + " max_age " + std::to_string(spec.max_age_seconds) +
             (spec.extend_when_used ? " extend" : ""),
         h_.engine->AddIdp(Admin(), org, spec));
  }
  void RemoveIdp() {
    std::string org = AnyOrg(), idp = Pick(kIdps);
    for (const auto& [id, i] : state().idps) {
      if (!i.removed && Chance(0.6)) std::tie(org, idp) = std::tie(i.org_id, id);
    }
    Done("RemoveIdp " + org + " " + idp, h_.engine->RemoveIdp(Admin(), org, idp));
  }
  void RegisterUser() {
    const auto& [id, email] = Pick(kPeople);
    Done("RegisterUser " + id + " " + email, h_.engine->RegisterUser(Admin(), id, email));
  }
  void AddMember() {
    std::string org = AnyOrg(), user = AnyPerson();
    Done("AddMember " + org + " " + user, h_.engine->AddMember(Admin(), org, user));
  }
  void RemoveMember() {
    std::string org = AnyOrg(), user = AnyPerson();
    Done("RemoveMember " + org + " " + user, h_.engine->RemoveMember(Admin(), org, user));
  }
  void SetActive() {
    const bool deactivate = Chance(0.5);
    std::string user = AnyPerson(), org = AnyOrg();
    for (const auto& u : state().users) {
      if (!deactivate && !u.application && !u.active && Chance(0.8)) user = u.id;
    }
    if (const auto* u = state().FindUser(user)) {
      if (const auto* m = state().ManagingOrg(*u); m && Chance(0.9)) org = m->id;
    }
    Done((deactivate ? "DeactivateUser " : "ReactivateUser ") + org + " " + user,
         deactivate ? h_.engine->DeactivateUser(Admin(), org, user)
                    : h_.engine->ReactivateUser(Admin(), org, user));
  }
  void CreateApplicationUser() {
    std::string org = AnyOrg(), app = Pick(kApps);
    Done("CreateApplicationUser " + org + " " + app,
         h_.engine->CreateApplicationUser(Admin(), org, app, app + " bot"));
  }
  void DeleteApplicationUser() {
    std::string org;
    std::string app = AnyApp(&org);
    Done("DeleteApplicationUser " + org + " " + app,
         h_.engine->DeleteApplicationUser(Admin(), org, app));
  }
  void SetTwoFactor() {
    std::string user = AnyPerson();
    const auto* u = state().FindUser(user);
    bool enable = u ? !u->two_factor_enabled : Chance(0.5);
    Done((enable ? "EnableTwoFactor " : "DisableTwoFactor ") + user,
         enable ? h_.engine->EnableTwoFactor(Actor::User(user), user)
                : h_.engine->DisableTwoFactor(Actor::User(user), user));
  }
  void UpdatePolicy() {
    std::string org = AnyOrg();
    PolicyUpdate u;
    std::ostringstream what;
    auto maybe = [&](std::optional<bool>& field, const char* name, double p) {
      if (!Chance(p)) return;
      field = Chance(0.5);
      what << " " << name << "=" << *field;
    };
    maybe(u.password_auth_enabled, "password", 0.3);
    maybe(u.two_factor_required, "2fa_required", 0.4);
    maybe(u.oauth_enabled, "oauth", 0.3);
    maybe(u.saml_enabled, "saml", 0.3);
    maybe(u.saml_allow_external, "saml_external", 0.4);
    maybe(u.personal_tokens_enabled, "personal", 0.3);
    maybe(u.personal_tokens_require_allowed_auth_method, "personal_require_method", 0.5);
    if (Chance(0.2)) {
      std::vector<std::string> providers;
      for (const char* p : {"github", "google", "microsoft"}) {
        if (Chance(0.5)) providers.emplace_back(p);
      }
      what << " providers=" << replay::JoinList(providers);
      u.oauth_providers = providers;
    }
    u.force = Chance(0.3);
    Done("UpdatePolicy " + org + what.str() + (u.force ? " force" : ""),
         h_.engine->UpdatePolicy(Admin(), org, u));
  }
  void UpdateIpAllowlist() {
    std::string org = AnyOrg();
    bool enabled = Chance(0.6);
    auto ranges = AnyRanges();
    if (enabled && Chance(0.9) &&
        std::find(ranges.begin(), ranges.end(), kRanges[0]) == ranges.end()) {
      ranges.push_back(kRanges[0]);  // keeps the admin's own address in
    }
    Done("UpdateIpAllowlist " + org + (enabled ? " on " : " off ") + replay::JoinList(ranges),
         h_.engine->UpdateIpAllowlist(Admin(), org, enabled, ranges));
  }
  void Login() {
    std::string user = AnyPerson();
    std::string method = Pick(std::vector<std::string>{"password", "password", "oauth:google",
                                                       "oauth:github", "oauth:microsoft"});
    if (Chance(0.5)) {
      // Mostly an IdP of one of the user's organizations (SAML from another organization
      // of the user's is what saml_allow_external governs).
      std::vector<std::string> idps, own;
      const auto* u = state().FindUser(user);
      for (const auto& [id, idp] : state().idps) {
        idps.push_back(id);
        if (u && u->MemberOf(state().OrgIdx(idp.org_id)) && !idp.removed) own.push_back(id);
      }
      if (!own.empty() && Chance(0.8)) {
        method = "saml:" + Pick(own);
      } else {
        method = "saml:" + (!idps.empty() && Chance(0.9) ? Pick(idps) : Pick(kIdps));
      }
    }
    bool two_factor = Chance(0.5);
    Done("Login " + user + " " + method + (two_factor ? " 2fa" : ""),
         h_.engine->RecordLogin(Actor::User(user), {user, method, two_factor}));
  }
  void EndSession() {
    const TokenRecord* t = AnyToken(true);
    if (t == nullptr) return;
    std::string owner = state().OwnerOf(*t).id, prefix = t->prefix.str();
    Done("EndSession " + prefix, h_.engine->EndSession(Actor::User(owner), prefix));
  }
  static std::string Describe(const TokenSpec& s) {
    std::string out;
    if (s.expiry_time_us) out += " expiry " + std::to_string(s.expiry_time_us);
    if (s.max_age_seconds) out += " max_age " + std::to_string(s.max_age_seconds);
    if (s.extend_when_used) out += " extend";
    if (!s.ip_allowlist.empty()) out += " ips " + replay::JoinList(s.ip_allowlist);
    return out;
  }
  void CreatePersonalToken() {
    const TokenRecord* t = AnyToken(true);
    if (t == nullptr) return;
    std::string owner = state().OwnerOf(*t).id, session = t->prefix.str();
    TokenSpec spec = AnySpec();
    auto r = h_.engine->CreatePersonalToken(Actor::User(owner), session, spec);
    Done("CreatePersonalToken " + owner + " from " + session + Describe(spec), r);
  }
  void CreateApplicationToken() {
    std::string org;
    std::string app = AnyApp(&org);
    TokenSpec spec = AnySpec();
    auto r = h_.engine->CreateApplicationToken(Admin(), org, app, spec);
    Done("CreateApplicationToken " + org + " " + app + Describe(spec), r);
  }
  void RevokeToken() {
    const TokenRecord* t = AnyToken(false);
    if (t == nullptr) return;
    std::string owner = state().OwnerOf(*t).id, prefix = t->prefix.str();
    bool by_owner = t->kind != internal::TokenKind::kApplication && Chance(0.5);
    std::string org = by_owner ? "" : OrgOf(*t);
    Done("RevokeToken " + prefix + (by_owner ? " by owner" : " by admin of " + org),
         h_.engine->RevokeToken(by_owner ? Actor::User(owner) : Admin(), prefix, org));
  }
  void ExpireUserTokens() {
    std::string user = AnyPerson();
    Done("ExpireUserTokens " + user, h_.engine->ExpireUserTokens(Actor::User(user), user));
  }
  // Checks at the current time; the allowed ones are recorded as TokenUsed, in one batch.
  void UseTokens() {
    std::ostringstream what;
    what << "UseTokens";
    for (int i = 0; i < 4; ++i) {
      const TokenRecord* t = AnyToken(false);
      if (t == nullptr) break;
      auto secret = secrets_.find(t->prefix.str());
      if (secret == secrets_.end()) continue;
      std::string org = OrgOf(*t), ip = Chance(0.7) ? Pick(kAddresses) : "";
      Decision d = h_.engine->CheckToken(secret->second, org, {now(), ip});
      what << " " << secret->first << "@" << org << "/" << ip << "=" << d.reason;
    }
    h_.engine->FlushTokenUse();
    Capture(what.str());
  }
  void AdvanceClock() {
    std::int64_t s = Chance(0.85) ? Pick(kSmallSteps) : Pick(kBigSteps);
    h_.clock->fetch_add(s * kSecondUs);
    h_.commands.push_back("advance " + std::to_string(s) + "s");
  }
  void WriteSnapshot() {
    Status s = h_.engine->WriteSnapshot();
    EXPECT_TRUE(s.ok()) << s.ToString();
    h_.commands.push_back("snapshot at " + std::to_string(h_.engine->revision()));
  }
  Actor Admin() {
    return Chance(0.8) ? Actor::Admin("admin1", "198.51.100.1")
                       : Actor::Admin("admin2", "198.51.100.1");
  }

  void RandomStep(bool setup) {
    struct Choice {
      int weight;
      Step run;
    };
    static const std::vector<Choice> kSetup = {{4, &Recorder::CreateOrganization},
                                               {3, &Recorder::VerifyDomain},
                                               {5, &Recorder::RegisterUser},
                                               {6, &Recorder::AddMember},
                                               {1, &Recorder::CreateApplicationUser}};
    static const std::vector<Choice> kAll = {{2, &Recorder::CreateOrganization},
                                             {3, &Recorder::VerifyDomain},
                                             {2, &Recorder::UnverifyDomain},
                                             {4, &Recorder::AddIdp},
                                             {2, &Recorder::RemoveIdp},
                                             {2, &Recorder::RegisterUser},
                                             {6, &Recorder::AddMember},
                                             {2, &Recorder::RemoveMember},
                                             {2, &Recorder::SetActive},
                                             {2, &Recorder::CreateApplicationUser},
                                             {1, &Recorder::DeleteApplicationUser},
                                             {1, &Recorder::SetTwoFactor},
                                             {7, &Recorder::UpdatePolicy},
                                             {2, &Recorder::UpdateIpAllowlist},
                                             {12, &Recorder::Login},
                                             {1, &Recorder::EndSession},
                                             {9, &Recorder::CreatePersonalToken},
                                             {3, &Recorder::CreateApplicationToken},
                                             {2, &Recorder::RevokeToken},
                                             {1, &Recorder::ExpireUserTokens},
                                             {6, &Recorder::UseTokens},
                                             {10, &Recorder::AdvanceClock},
                                             {1, &Recorder::WriteSnapshot}};
    const auto& choices = setup ? kSetup : kAll;
    int total = 0;
    for (const auto& c : choices) total += c.weight;
    int r = std::uniform_int_distribution<int>(0, total - 1)(rng_);
    for (const auto& c : choices) {
      if (r < c.weight) return (this->*c.run)();
      r -= c.weight;
    }
  }

  History& h_;
  std::mt19937_64 rng_;
  std::map<std::string, std::string> secrets_;  // prefix → secret of tokens created here
};

// Records the history of `seed`, then opens the log read-only beside the open engine and
// derives the live state at every seq.
std::unique_ptr<History> Record(int seed) {
  auto h = std::make_unique<History>();
  h->seed = seed;
  Recorder(*h).Run();
  if (::testing::Test::HasFatalFailure()) return nullptr;
  // Beside the live engine. A read-only open that races a RocksDB flush or compaction
  // of the engine's can fail (AuditorBesideLiveEngine shows it); retried here, and counted,
  // so that the properties below still run on this history.
  storage::EventLogOptions options;
  options.read_only = true;
  options.create_if_missing = false;
  auto log = storage::EventLog::Open(h->dir.path(), options);
  auto auditor = Auditor::Open(h->dir.path());
  for (int attempt = 1; !log.ok() || !auditor.ok(); ++attempt) {
    ++totals.open_retries;
    if (attempt == 20) {
      ADD_FAILURE() << "opening the log read-only beside the live engine: "
                    << log.status().ToString() << " / " << auditor.status().ToString();
      return nullptr;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (!log.ok()) log = storage::EventLog::Open(h->dir.path(), options);
    if (!auditor.ok()) auditor = Auditor::Open(h->dir.path());
  }
  h->log = std::move(log).value();
  h->auditor = std::move(auditor).value();
  const std::uint64_t n = h->engine->revision();
  EXPECT_EQ(h->log->size(), n);
  EXPECT_EQ(h->auditor->size(), n);
  h->time_of.assign(n + 1, 0);
  h->subjects_of.resize(n + 1);
  h->command_of.resize(n + 1);
  h->at.reserve(n + 1);
  h->at.push_back(h->live.at(0));
  Status scanned = h->log->Scan(1, n, [&](const storage::DecodedEvent& e) {
    h->time_of[e.seq()] = e.time_us();
    h->subjects_of[e.seq()] = storage::SubjectsOf(e.envelope());
    if (auto it = h->live.find(e.seq()); it != h->live.end()) {
      h->at.push_back(it->second);
    } else {
      State next = h->at.back();  // inside a batch: fold its earlier events
      internal::Evolve(next, e.envelope());
      h->at.push_back(std::move(next));
    }
    return true;
  });
  EXPECT_TRUE(scanned.ok()) << scanned.ToString();
  EXPECT_EQ(h->at.size(), n + 1);
  auto snapshots = h->log->SnapshotSeqs();
  if (snapshots.ok()) h->snapshots = *snapshots;
  if (!scanned.ok() || h->at.size() != n + 1) return nullptr;
  ++totals.histories;
  totals.events += static_cast<long>(n);
  totals.tokens += static_cast<long>(h->at.back().tokens.size());
  return h;
}

// Histories by seed, shared by the tests of the suite (each test reads one).
std::map<int, std::unique_ptr<History>>& Cache() {
  static std::map<int, std::unique_ptr<History>> cache;
  return cache;
}

const History* HistoryFor(int seed) {
  auto& cache = Cache();
  if (auto it = cache.find(seed); it != cache.end()) return it->second.get();
  while (cache.size() >= 8) cache.erase(cache.begin());  // bounded, for long hunts
  auto h = Record(seed);
  const History* out = h.get();
  if (h) cache[seed] = std::move(h);
  return out;
}

std::string Key(const ImpactEntry& e) {
  return e.token_prefix + " user=" + e.user_id + " org=" + e.org_id + " " +
         (e.allowed_before ? "allowed" : "denied") + "(" + e.reason_before + ") -> " +
         (e.allowed_after ? "allowed" : "denied") + "(" + e.reason_after + ")";
}
std::string Show(const FieldChange& c) {
  return c.entity + " " + c.field + ": '" + c.before + "' -> '" + c.after + "'";
}
template <typename T>
std::vector<T> Sorted(std::vector<T> v) {
  std::sort(v.begin(), v.end());
  return v;
}

class AuditorProperty : public ::testing::TestWithParam<int> {
 public:
  static void TearDownTestSuite() {
    std::printf(
        "[auditor property] %ld histories, %ld events, %ld tokens; %ld explains (%ld allowed); "
        "%ld impacts with %ld flips; %ld intervals (%ld opened by time), %ld point checks (%ld "
        "allowed); %ld step changes; %ld event filters matching %ld events; %ld read-only opens "
        "retried\n",
        totals.histories, totals.events, totals.tokens, totals.explains, totals.explains_allowed,
        totals.impacts, totals.flips, totals.intervals, totals.time_intervals, totals.point_checks,
        totals.point_allowed, totals.step_changes, totals.filters, totals.filtered_events,
        totals.open_retries);
    Cache().clear();
  }

 protected:
  void SetUp() override {
    h_ = HistoryFor(GetParam());
    ASSERT_NE(h_, nullptr) << "recording seed " << GetParam() << " failed";
    std::uint64_t salt = 0;
    for (char c : std::string(::testing::UnitTest::GetInstance()->current_test_info()->name())) {
      salt = salt * 131 + static_cast<unsigned char>(c);
    }
    rng_.seed(salt ^ (0x5eedULL << 32) ^ static_cast<std::uint64_t>(GetParam()));
  }

  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[std::uniform_int_distribution<std::size_t>(0, v.size() - 1)(rng_)];
  }
  std::uint64_t AnySeq(std::uint64_t from = 1) {
    return std::uniform_int_distribution<std::uint64_t>(from, h_->size())(rng_);
  }
  std::int64_t AnyTime(std::int64_t from, std::int64_t to) {
    return std::uniform_int_distribution<std::int64_t>(from, to)(rng_);
  }
  // Reports a failure with the history around `seq` (the first few in full, then only
  // counted); false once so many failed that going on is pointless.
  bool Fail(const std::string& what, std::uint64_t seq) {
    if (++failures_ <= kFailuresShown) ADD_FAILURE() << what << h_->Context(seq);
    return !Stop();
  }
  bool Stop() const { return failures_ >= 500; }
  void TearDown() override {
    if (failures_ > kFailuresShown) {
      ADD_FAILURE() << "... and " << failures_ - kFailuresShown << " more failures like these"
                    << (Stop() ? " (stopped there)" : "") << ", seed " << GetParam();
    }
  }

  // Checks Diff(seq a, seq b) against the live states: the entities' fields that differ,
  // then every decision that differs for a token at an organization it faces in either
  // state (exists there, and its owner is a member or application user), each evaluated
  // at its moment's time, IP allowlists aside.
  // Returns the field changes.
  std::vector<FieldChange> CheckDiff(const std::vector<FieldChange>& diff, std::uint64_t a,
                                     std::uint64_t b) {
    const State& sa = h_->at[a];
    const State& sb = h_->at[b];
    std::vector<FieldChange> fields;
    std::set<std::string> decisions, want;
    for (const auto& c : diff) {
      if (c.field.rfind("decision@", 0) == 0) {
        decisions.insert(Show(c));
      } else {
        fields.push_back(c);
      }
    }
    const std::string what = "Diff(" + std::to_string(a) + ", " + std::to_string(b) + ")";
    if (fields != replay::DiffStates(sa, sb)) Fail(what + " differs from the live states' diff", b);
    auto faces = [](const State& s, const std::string& org, const std::string& prefix) {
      const auto* o = s.FindOrg(org);
      const auto* t = s.FindToken(prefix);
      return o && t && (o->members.contains(t->owner) || o->application_users.contains(t->owner));
    };
    auto text = [](const Decision& d) {
      return d.allowed ? std::string("allowed") : "denied (" + d.reason + ")";
    };
    internal::CheckOptions no_ip;
    no_ip.check_ip = false;
    const State& bigger = sa.tokens.size() > sb.tokens.size() ? sa : sb;
    std::set<std::string> orgs;
    for (const State* s : {&sa, &sb}) {
      for (const auto& o : s->orgs) orgs.insert(o.id);
    }
    for (const auto& t : bigger.tokens.records()) {
      const std::string prefix = t.prefix.str();
      for (const auto& org : orgs) {
        if (!faces(sa, org, prefix) && !faces(sb, org, prefix)) continue;
        Decision da = internal::CheckTokenAgainst(sa, sa.FindToken(prefix), org,
                                                  {h_->time_of[a], ""}, nullptr, no_ip);
        Decision db = internal::CheckTokenAgainst(sb, sb.FindToken(prefix), org,
                                                  {h_->time_of[b], ""}, nullptr, no_ip);
        if (da.allowed == db.allowed && da.reason == db.reason) continue;
        want.insert(Show({"token " + prefix, "decision@" + org, text(da), text(db)}));
      }
    }
    if (decisions != want) {
      std::string missing, extra;
      for (const auto& k : want) {
        if (!decisions.count(k)) missing += "\n      " + k;
      }
      for (const auto& k : decisions) {
        if (!want.count(k)) extra += "\n      " + k;
      }
      Fail(what + " decisions differ from brute force; missing:" + missing + "\n    extra:" + extra,
           b);
    }
    return fields;
  }

  const History* h_ = nullptr;
  std::mt19937_64 rng_;
  int failures_ = 0;
};

// ---- 1. State at a seq ----

// What StateAt must say about `s` at `time`, computed from the live state.
std::vector<std::string> SummaryDifferences(const StateSummary& got, const State& s,
                                            std::uint64_t seq, std::int64_t time) {
  std::vector<std::string> diffs;
  auto expect = [&](const std::string& what, auto want, auto have) {
    if (!(want == have)) diffs.push_back(what);
  };
  std::uint64_t active = 0, revoked = 0, live = 0;
  for (const auto& u : s.users) active += u.active;
  for (const auto& t : s.tokens.records()) {
    revoked += t.revoked;
    live += internal::TokenLive(s, t, time) == internal::kOk;
  }
  expect("seq", seq, got.seq);
  expect("time_us", time, got.time_us);
  expect("users", std::uint64_t{s.users.size()}, got.users);
  expect("active_users", active, got.active_users);
  expect("tokens", std::uint64_t{s.tokens.size()}, got.tokens);
  expect("revoked_tokens", revoked, got.revoked_tokens);
  expect("live_tokens", live, got.live_tokens);
  std::map<std::string, const StateSummary::Org*> orgs;
  for (const auto& o : got.orgs) orgs[o.id] = &o;
  expect("org count", s.orgs.size(), got.orgs.size());
  for (const auto& o : s.orgs) {
    auto it = orgs.find(o.id);
    if (it == orgs.end()) {
      diffs.push_back("org " + o.id + " missing");
      continue;
    }
    const auto& g = *it->second;
    auto ids = [&](const std::set<internal::Idx>& users) {
      std::vector<std::string> out;
      for (auto u : users) out.push_back(s.users[u].id);
      return Sorted(out);
    };
    std::vector<std::string> managed;
    for (const auto& u : s.users) {
      if (!u.application && o.domains.contains(internal::EmailDomain(u.email))) {
        managed.push_back(u.id);
      }
    }
    const std::string org = "org " + o.id + " ";
    expect(org + "name", o.name, g.name);
    expect(org + "policy", o.policy, g.policy);
    expect(org + "allowlist", o.allowlist, g.allowlist);
    expect(org + "domains", std::vector<std::string>(o.domains.begin(), o.domains.end()),
           Sorted(g.domains));
    expect(org + "idps", std::vector<std::string>(o.idps.begin(), o.idps.end()), Sorted(g.idps));
    expect(org + "members", ids(o.members), Sorted(g.members));
    expect(org + "application_users", ids(o.application_users), Sorted(g.application_users));
    expect(org + "managed_users", Sorted(managed), Sorted(g.managed_users));
  }
  return diffs;
}

TEST_P(AuditorProperty, ReplayedStateEqualsLiveStateAtRandomSeqs) {
  const History& h = *h_;
  std::set<std::uint64_t> seqs = {0, h.size()};
  for (auto snap : h.snapshots) {
    for (auto s : {snap - 1, snap, snap + 1}) {
      if (s <= h.size()) seqs.insert(s);
    }
  }
  for (int i = 0; i < 16; ++i) seqs.insert(AnySeq(0));
  for (std::uint64_t seq : seqs) {
    if (Stop()) return;
    const State& want = h.at[seq];
    const std::string source = h.live.count(seq) ? "captured live" : "live (inside a batch)";
    auto loaded = internal::LoadState(*h.log, seq);
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString() << h.Context(seq);
    if (!(loaded->state == want)) {
      Fail("LoadState(" + std::to_string(seq) + ") from snapshot " +
               std::to_string(loaded->snapshot_seq) + " differs from the " + source +
               " state:" + StateDifference(loaded->state, want),
           seq);
    }
    auto summary = h.auditor->StateAt(Moment::AtSeq(seq));
    ASSERT_TRUE(summary.ok()) << summary.status().ToString();
    for (const auto& d : SummaryDifferences(*summary, want, seq, h.time_of[seq])) {
      if (!Fail("StateAt(seq " + std::to_string(seq) + ") differs in " + d, seq)) return;
    }
    for (const auto& org : kCheckOrgs) {
      const auto* o = want.FindOrg(org);
      auto policy = h.auditor->PolicyAt(org, Moment::AtSeq(seq));
      if (o == nullptr ? policy.ok() : !policy.ok() || !(*policy == o->policy)) {
        Fail("PolicyAt(" + org + ", seq " + std::to_string(seq) +
                 ") differs: " + policy.status().ToString(),
             seq);
      }
      // Who: exactly the tokens allowed (IP allowlists aside) at the moment's time.
      auto who = h.auditor->Who(org, Moment::AtSeq(seq));
      if (o == nullptr) {
        if (who.ok()) Fail("Who(" + org + ") of an organization not yet created succeeded", seq);
        continue;
      }
      ASSERT_TRUE(who.ok()) << who.status().ToString();
      std::set<std::string> want_tokens, got_tokens;
      internal::CheckOptions no_ip;
      no_ip.check_ip = false;
      for (const auto& t : want.tokens.records()) {
        if (internal::CheckTokenAgainst(want, &t, org, {h.time_of[seq], ""}, nullptr, no_ip)
                .allowed) {
          want_tokens.insert(t.prefix.str());
        }
      }
      for (const auto& t : who->tokens) got_tokens.insert(t.token_prefix);
      if (want_tokens != got_tokens) {
        Fail("Who(" + org + ", seq " + std::to_string(seq) + ") lists tokens [" +
                 replay::JoinList({got_tokens.begin(), got_tokens.end()}) + "], brute force [" +
                 replay::JoinList({want_tokens.begin(), want_tokens.end()}) + "]",
             seq);
      }
    }
  }
  // By time: the last event at or before it, checks evaluated at the time itself.
  for (int i = 0; i < 8 && !Stop(); ++i) {
    const std::int64_t t = AnyTime(kStartUs - kSecondUs, h.last_time() + 86400 * kSecondUs);
    const std::uint64_t seq = h.SeqAtTime(t);
    auto got_seq = h.auditor->SeqOf(Moment::AtTime(t));
    ASSERT_TRUE(got_seq.ok()) << got_seq.status().ToString();
    if (*got_seq != seq) {
      Fail("SeqOf(time " + h.Offset(t) + ") = " + std::to_string(*got_seq), seq);
    }
    auto summary = h.auditor->StateAt(Moment::AtTime(t));
    ASSERT_TRUE(summary.ok()) << summary.status().ToString();
    for (const auto& d : SummaryDifferences(*summary, h.at[seq], seq, t)) {
      if (!Fail("StateAt(time " + h.Offset(t) + ") differs in " + d, seq)) return;
    }
  }
}

// ---- 2. Explain by a scoped fold ----

TEST_P(AuditorProperty, ScopedExplainEqualsFullCheckAtRandomMoments) {
  const History& h = *h_;
  static const std::vector<std::int64_t> kLater = {0,
                                                   1,
                                                   59 * kSecondUs,
                                                   600 * kSecondUs,
                                                   3600 * kSecondUs,
                                                   86400 * kSecondUs,
                                                   4 * kSecondUs * 86400};
  struct Probe {
    Moment at;
    std::uint64_t seq;
    std::optional<std::int64_t> time;  // of the request; else the moment's
    std::int64_t effective;
  };
  std::vector<Probe> probes;
  for (std::uint64_t seq : {h.size(), AnySeq(), AnySeq(), AnySeq(), AnySeq()}) {
    std::optional<std::int64_t> t;
    if (Chance(0.7)) t = h.time_of[seq] + Pick(kLater);
    probes.push_back({Moment::AtSeq(seq), seq, t, t ? *t : h.time_of[seq]});
  }
  for (int i = 0; i < 2; ++i) {
    std::int64_t t = AnyTime(h.time_of[1], h.last_time());
    probes.push_back({Moment::AtTime(t), h.SeqAtTime(t), std::nullopt, t});
  }
  const std::vector<std::string> all = h.Prefixes();
  for (const auto& p : probes) {
    const State& s = h.at[p.seq];
    // Every token that exists at the moment, one created later (if any) and one never.
    std::vector<std::string> prefixes = {"nosuchtoken"};
    for (const auto& t : s.tokens.records()) prefixes.push_back(t.prefix.str());
    if (all.size() > s.tokens.size()) prefixes.push_back(all[s.tokens.size()]);
    for (const auto& prefix : prefixes) {
      for (const auto& org : kCheckOrgs) {
        for (const std::string& ip : {std::string(), Pick(kAddresses)}) {
          if (Stop()) return;
          auto got = h.auditor->Explain(prefix, org, p.at, p.time, ip);
          ASSERT_TRUE(got.ok()) << got.status().ToString() << h.Context(p.seq);
          std::vector<TraceStep> trace;
          Decision want = internal::CheckTokenAgainst(s, s.FindToken(prefix), org,
                                                      {p.effective, ip}, &trace, IpCheck(ip));
          const Decision& d = got->decision;
          ++totals.explains;
          totals.explains_allowed += d.allowed;
          bool same_trace = trace.size() == got->trace.size();
          for (std::size_t i = 0; same_trace && i < trace.size(); ++i) {
            same_trace = trace[i].condition == got->trace[i].condition &&
                         trace[i].passed == got->trace[i].passed &&
                         trace[i].detail == got->trace[i].detail;
          }
          if (d.allowed != want.allowed || d.reason != want.reason || d.rule != want.rule ||
              d.user_id != want.user_id || d.revision != p.seq || !same_trace) {
            std::string last = got->trace.empty() ? "" : got->trace.back().condition;
            Fail("Explain(" + prefix + ", " + org + ", seq " + std::to_string(p.seq) +
                     (p.at.time_us ? " by time" : "") + ", time " + h.Offset(p.effective) +
                     ", ip '" + ip + "') = " + d.rule + " " + d.reason + " (user '" + d.user_id +
                     "', revision " + std::to_string(d.revision) + ", " +
                     std::to_string(got->trace.size()) + " steps, last '" + last +
                     "'); the full check on the live state = " + want.rule + " " + want.reason +
                     " (user '" + want.user_id + "', " + std::to_string(trace.size()) + " steps)",
                 p.seq);
          }
        }
      }
    }
  }
}

// ---- 3. Impact of each event ----

TEST_P(AuditorProperty, ImpactEqualsBruteForceFlipsOfEveryEvent) {
  const History& h = *h_;
  EXPECT_FALSE(h.auditor->Impact(0).ok());
  EXPECT_FALSE(h.auditor->Impact(h.size() + 1).ok());
  internal::CheckOptions no_ip;
  no_ip.check_ip = false;
  for (std::uint64_t seq = 1; seq <= h.size() && !Stop(); ++seq) {
    auto got = h.auditor->Impact(seq);
    ASSERT_TRUE(got.ok()) << got.status().ToString() << h.Context(seq);
    const State& before = h.at[seq - 1];
    const State& after = h.at[seq];
    const CheckContext ctx{h.time_of[seq], ""};
    std::set<std::string> want, have;
    for (const auto& e : *got) have.insert(Key(e));
    ++totals.impacts;
    totals.flips += static_cast<long>(got->size());
    for (const auto& o : after.orgs) {
      for (const auto& t : after.tokens.records()) {
        const std::string prefix = t.prefix.str();
        Decision b = internal::CheckTokenAgainst(before, before.FindToken(prefix), o.id, ctx,
                                                 nullptr, no_ip);
        Decision a = internal::CheckTokenAgainst(after, &t, o.id, ctx, nullptr, no_ip);
        if (b.allowed == a.allowed) continue;
        want.insert(
            Key({prefix, after.OwnerOf(t).id, o.id, b.allowed, b.reason, a.allowed, a.reason}));
      }
    }
    if (want == have) continue;
    std::string missing, extra;
    for (const auto& k : want) {
      if (!have.count(k)) missing += "\n      " + k;
    }
    for (const auto& k : have) {
      if (!want.count(k)) extra += "\n      " + k;
    }
    Fail("Impact(" + std::to_string(seq) +
             ") differs from the brute-force flips; missing:" + missing + "\n    extra:" + extra,
         seq);
  }
}

// ---- 4. Access intervals of each token ----

TEST_P(AuditorProperty, TokenIntervalsAgreeWithPointChecksAtRandomTimes) {
  const History& h = *h_;
  const State& last = h.at.back();
  for (const auto& t : last.tokens.records()) {
    const std::string prefix = t.prefix.str();
    for (const std::string& ip : {std::string(), Pick(kAddresses)}) {
      if (Stop()) return;
      auto report = h.auditor->Token(prefix, ip);
      ASSERT_TRUE(report.ok()) << report.status().ToString() << h.Context(t.created_seq);
      const std::string what = "Token(" + prefix + ", ip '" + ip + "')";
      if (report->created_seq != t.created_seq || report->created_us != t.created_us ||
          report->owner_user_id != last.OwnerOf(t).id || report->method != last.Method(t) ||
          report->kind != replay::TokenKindName(t.kind) || report->revoked != t.revoked) {
        Fail(what + " misreports the token's creation, owner, method, kind or revocation",
             t.created_seq);
      }
      std::map<std::string, std::vector<AccessInterval>> by_org;
      for (const auto& i : report->intervals) {
        by_org[i.org_id].push_back(i);
        ++totals.intervals;
        totals.time_intervals += i.opened_by == "time";
      }
      for (const auto& [org, list] : by_org) {
        for (std::size_t i = 0; i < list.size(); ++i) {
          const auto& cur = list[i];
          std::string where = what + " interval " + std::to_string(i) + " at " + org + " [" +
                              h.Offset(cur.from_us) + " seq " + std::to_string(cur.from_seq) + " " +
                              cur.opened_by + ", " + h.Offset(cur.to_us) + " seq " +
                              std::to_string(cur.to_seq) + " " + cur.closed_by + ") " + cur.reason;
          if (cur.from_us < t.created_us || (cur.allowed != (cur.reason == "ok"))) {
            Fail(where + ": begins before the token or has an inconsistent verdict", cur.from_seq);
          }
          if (i + 1 == list.size()) {
            if (cur.to_seq != 0 || cur.to_us != 0 || !cur.closed_by.empty()) {
              Fail(where + ": the last interval is closed", cur.from_seq);
            }
            continue;
          }
          const auto& next = list[i + 1];
          if (cur.to_seq != next.from_seq || cur.to_us != next.from_us ||
              cur.closed_by != next.opened_by || next.from_us < cur.from_us ||
              (next.from_seq != 0 && cur.from_seq > next.from_seq)) {
            Fail(where + ": not contiguous with the next one", cur.from_seq);
          }
          if (cur.allowed == next.allowed && cur.reason == next.reason) {
            Fail(where + ": the next interval has the same verdict", cur.from_seq);
          }
        }
      }
      // Point checks: random moments plus each boundary and the µs before it.
      std::vector<std::int64_t> times = {t.created_us, h.last_time()};
      for (int i = 0; i < 8; ++i) times.push_back(AnyTime(t.created_us, h.last_time()));
      for (const auto& i : report->intervals) {
        for (auto b : {i.from_us - 1, i.from_us, i.to_us - 1}) {
          if (b >= t.created_us && b <= h.last_time()) times.push_back(b);
        }
      }
      for (std::int64_t at : times) {
        const std::uint64_t seq = h.SeqAtTime(at);
        auto got_seq = h.auditor->SeqOf(Moment::AtTime(at));
        if (!got_seq.ok() || *got_seq != seq) {
          Fail("SeqOf(time " + h.Offset(at) + ") = " + got_seq.status().ToString(), seq);
        }
        const State& s = h.at[seq];
        for (const auto& org : kCheckOrgs) {
          if (Stop()) return;
          Decision want = internal::CheckTokenAgainst(s, s.FindToken(prefix), org, {at, ip},
                                                      nullptr, IpCheck(ip));
          const auto& list = by_org[org];
          ++totals.point_checks;
          totals.point_allowed += want.allowed;
          const AccessInterval* in = nullptr;
          for (const auto& i : list) {
            if (i.from_us <= at) in = &i;
          }
          if (in == nullptr ? want.allowed
                            : in->allowed != want.allowed || in->reason != want.reason) {
            Fail(what + " at " + org + ", time " + h.Offset(at) + " (seq " + std::to_string(seq) +
                     "): interval says " +
                     (in ? in->reason + " (from " + h.Offset(in->from_us) + " seq " +
                               std::to_string(in->from_seq) + " " + in->opened_by + ")"
                         : std::string("nothing (" + std::to_string(list.size()) +
                                       " intervals at this org)")) +
                     ", the point check on the live state says " + want.reason,
                 seq);
          }
        }
      }
    }
  }
}

// ---- 5. Step and Diff ----

TEST_P(AuditorProperty, StepListsWhatDiffReportsForEveryEvent) {
  const History& h = *h_;
  std::vector<StepEntry> steps;
  Status s = h.auditor->Step(1, h.size(), [&](const StepEntry& e) {
    steps.push_back(e);
    return true;
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(steps.size(), h.size()) << h.Context(h.size());
  auto all = h.auditor->Events(EventFilter{}, h.size() + 1);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->events.size(), h.size());
  for (std::uint64_t seq = 1; seq <= h.size() && !Stop(); ++seq) {
    const StepEntry& entry = steps[seq - 1];
    totals.step_changes += static_cast<long>(entry.changes.size());
    const AuditEvent& e = entry.event;
    const AuditEvent& listed = all->events[seq - 1];
    if (e.seq != seq || e.time_us != h.time_of[seq] || e.type != listed.type ||
        e.json != listed.json || e.actor_id != listed.actor_id || e.cause != listed.cause) {
      Fail("Step entry " + std::to_string(seq - 1) + " is event " + std::to_string(e.seq) + " " +
               e.type + ", not the log's event " + std::to_string(seq) + " " + listed.type,
           seq);
      continue;
    }
    auto diff = h.auditor->Diff(Moment::AtSeq(seq - 1), Moment::AtSeq(seq));
    ASSERT_TRUE(diff.ok()) << diff.status().ToString();
    const auto fields = CheckDiff(*diff, seq - 1, seq);
    auto listed_in = [](const std::vector<FieldChange>& v, const FieldChange& c) {
      return std::find(v.begin(), v.end(), c) != v.end();
    };
    // Every entity field the event changed (decisions aside: Diff evaluates them at each
    // moment's own time, so they also move with the clock between two events).
    std::string missing, extra;
    for (const auto& c : fields) {
      if (!listed_in(entry.changes, c)) missing += "\n      " + Show(c);
    }
    for (const auto& c : entry.changes) {
      if (c.entity.rfind("domain ", 0) == 0) {
        // Diff has no domains; check the step's claim against the live states.
        auto owner = [&](const State& st) {
          auto it = st.domain_owner.find(c.entity.substr(7));
          return it == st.domain_owner.end() ? std::string() : st.orgs[it->second].id;
        };
        if (c.field != "verified_by" || c.before != owner(h.at[seq - 1]) ||
            c.after != owner(h.at[seq])) {
          extra += "\n      " + Show(c);
        }
      } else if (!listed_in(fields, c)) {
        extra += "\n      " + Show(c);
      }
    }
    if (!missing.empty() || !extra.empty()) {
      Fail("Step(" + std::to_string(seq) + ") " + e.type +
               " does not list what Diff(seq-1, seq) reports; missing:" + missing +
               "\n    not in Diff:" + extra,
           seq);
    }
  }
  // Diff between random moments, too.
  for (int i = 0; i < 12 && !Stop(); ++i) {
    const std::uint64_t a = AnySeq(0), b = AnySeq(0);
    auto diff = h.auditor->Diff(Moment::AtSeq(a), Moment::AtSeq(b));
    ASSERT_TRUE(diff.ok()) << diff.status().ToString();
    CheckDiff(*diff, a, b);
  }
  // A sub-range walks the same entries.
  const std::uint64_t from = AnySeq(), to = AnySeq(from);
  std::vector<std::uint64_t> walked;
  s = h.auditor->Step(from, to, [&](const StepEntry& e) {
    walked.push_back(e.event.seq);
    EXPECT_EQ(e.changes, steps[e.event.seq - 1].changes) << "Step(" << from << ", " << to << ")";
    return true;
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(walked.size(), to - from + 1);
  for (std::size_t i = 0; i < walked.size(); ++i) EXPECT_EQ(walked[i], from + i);
}

// ---- 6. Event search, paged ----

TEST_P(AuditorProperty, EventPagesConcatenateToTheFilteredLog) {
  const History& h = *h_;
  auto all = h.auditor->Events(EventFilter{}, h.size() + 1);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->events.size(), h.size());
  EXPECT_EQ(all->next_seq, 0u);
  for (std::uint64_t seq = 1; seq <= h.size(); ++seq) {
    ASSERT_EQ(all->events[seq - 1].seq, seq);
    ASSERT_EQ(all->events[seq - 1].time_us, h.time_of[seq]);
  }
  auto subject_of = [&](std::uint64_t seq, K kind) {
    std::vector<std::string> ids;
    for (const auto& s : h.subjects_of[seq]) {
      if (s.kind == kind) ids.push_back(s.id);
    }
    return ids;
  };
  for (int round = 0; round < 60 && !Stop(); ++round) {
    // Criteria drawn from a random event, so that most filters match something.
    const std::uint64_t anchor = AnySeq();
    const AuditEvent& a = all->events[anchor - 1];
    EventFilter f;
    std::ostringstream what;
    auto one_of = [&](K kind, std::string& field, const char* name) {
      if (!Chance(0.35)) return;
      auto ids = subject_of(anchor, kind);
      field = !ids.empty() && Chance(0.85) ? Pick(ids) : (kind == K::kOrganization ? "org2" : "u3");
      what << " " << name << "=" << field;
    };
    one_of(K::kOrganization, f.org_id, "org");
    one_of(K::kUser, f.user_id, "user");
    one_of(K::kToken, f.token_prefix, "token");
    if (Chance(0.35)) {
      f.types = {a.type};
      if (Chance(0.5)) f.types.push_back(Pick(all->events).type);
      what << " types=" << replay::JoinList(f.types);
    }
    if (Chance(0.2)) {
      f.actor_id = a.actor_id;
      what << " actor=" << f.actor_id;
    }
    if (Chance(0.3)) f.from_seq = AnySeq(0);
    if (Chance(0.3)) f.to_seq = AnySeq();
    if (Chance(0.25)) f.from_us = h.time_of[AnySeq()] + Pick(std::vector<std::int64_t>{-1, 0, 1});
    if (Chance(0.25)) f.to_us = h.time_of[AnySeq()] + Pick(std::vector<std::int64_t>{-1, 0, 1});
    const std::size_t limit = Pick(std::vector<std::size_t>{1, 2, 3, 5, 8, 1000});
    what << " seqs [" << f.from_seq << ", " << f.to_seq << "] times [" << f.from_us << ", "
         << f.to_us << "] limit " << limit;

    std::vector<std::uint64_t> want;
    auto has = [](const std::vector<std::string>& v, const std::string& x) {
      return x.empty() || std::find(v.begin(), v.end(), x) != v.end();
    };
    for (std::uint64_t seq = std::max<std::uint64_t>(f.from_seq, 1); seq <= h.size(); ++seq) {
      const AuditEvent& e = all->events[seq - 1];
      if ((f.to_seq != 0 && seq > f.to_seq) || (f.from_us != 0 && e.time_us < f.from_us) ||
          (f.to_us != 0 && e.time_us > f.to_us) ||
          !has(subject_of(seq, K::kOrganization), f.org_id) ||
          !has(subject_of(seq, K::kUser), f.user_id) ||
          !has(subject_of(seq, K::kToken), f.token_prefix) ||
          (!f.types.empty() && !has(f.types, e.type)) ||
          (!f.actor_id.empty() && e.actor_id != f.actor_id)) {
        continue;
      }
      want.push_back(seq);
    }
    std::vector<std::uint64_t> got;
    EventFilter page_filter = f;
    for (std::uint64_t pages = 0;; ++pages) {
      auto page = h.auditor->Events(page_filter, limit);
      ASSERT_TRUE(page.ok()) << page.status().ToString() << what.str();
      ASSERT_LE(page->events.size(), limit) << what.str();
      for (const auto& e : page->events) {
        got.push_back(e.seq);
        if (e.seq >= 1 && e.seq <= h.size() && !(e.json == all->events[e.seq - 1].json)) {
          Fail("Events(" + what.str() + ") returns a different event " + std::to_string(e.seq),
               e.seq);
        }
      }
      if (page->next_seq == 0) break;
      ASSERT_GT(page->next_seq, page_filter.from_seq) << what.str();
      ASSERT_TRUE(page->events.empty() || page->next_seq > page->events.back().seq) << what.str();
      ASSERT_LE(pages, h.size() + 1) << "paging does not end:" << what.str();
      page_filter.from_seq = page->next_seq;
    }
    ++totals.filters;
    totals.filtered_events += static_cast<long>(want.size());
    if (got != want) {
      std::ostringstream detail;
      detail << "Events(" << what.str() << ") paged = [";
      for (auto s : got) detail << s << " ";
      detail << "], brute force = [";
      for (auto s : want) detail << s << " ";
      detail << "]";
      std::uint64_t at = anchor;
      for (std::size_t i = 0; i < std::max(got.size(), want.size()); ++i) {
        if (i >= got.size() || i >= want.size() || got[i] != want[i]) {
          at = i < want.size() ? want[i] : got[i];
          break;
        }
      }
      Fail(detail.str(), at);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, AuditorProperty, ::testing::Range(0, kSequences));

// The CLI and auditors open the log read-only beside a running engine (issue 4: "opens
// the log read-only, so it can run beside a live engine"), which writes snapshots in the
// background: each one is flushed by RocksDB, and every few flushes start a compaction.
TEST(AuditorBesideLiveEngine, OpensReadOnlyWhileTheEngineWritesSnapshots) {
  TempDir dir;
  auto clock = std::make_shared<std::atomic<std::int64_t>>(kStartUs);
  EngineOptions options;
  options.clock = [clock] { return clock->load(); };
  options.snapshot_interval = 3;
  auto opened = Engine::Open(dir.path(), options);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<Engine> engine = std::move(opened).value();
  const Actor admin = Actor::Admin("admin1", "198.51.100.1");
  ASSERT_TRUE(engine->CreateOrganization(admin, "org1", "Org").ok());
  int opens = 0, failed = 0;
  std::string first;
  for (int i = 0; i < 120; ++i) {
    clock->fetch_add(kSecondUs);
    std::string user = "user" + std::to_string(i);
    ASSERT_TRUE(engine->RegisterUser(admin, user, user + "@x.io").ok());
    ASSERT_TRUE(engine->AddMember(admin, "org1", user).ok());
    auto session = engine->RecordLogin(Actor::User(user), {user, "password", false});
    ASSERT_TRUE(session.ok()) << session.status().ToString();
    if (i % 4 != 0) continue;
    ++opens;
    auto auditor = Auditor::Open(dir.path());
    if (auditor.ok()) {
      EXPECT_EQ((*auditor)->size(), engine->revision()) << "it sees the log as of its open";
    } else if (++failed == 1) {
      first =
          "at revision " + std::to_string(engine->revision()) + ": " + auditor.status().ToString();
    }
  }
  EXPECT_EQ(failed, 0) << "of " << opens << " read-only opens; the first " << first;
}

}  // namespace
}  // namespace authledger::testing
