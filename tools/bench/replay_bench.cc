// replay_bench: the replay and audit library's figures (issue 4, item 5) on a generated
// log, each beside its comparison from the same run.
//
//   replay_bench --dir D [--rows R,R,...] [--samples S] [--seconds T] [--passes P]
//                [--state-samples N] [--check-seqs N] [--seed X]
//                [--events N --tokens N --orgs N --users N --snapshot-every K]
//
// The log is generated once into D (events written through storage::EventLog appends
// of 10,000 events, then one fold of the whole log storing a snapshot every K events
// with internal::StoreSnapshot) and reused by later runs with the same shape; a marker
// file in D records the shape. A reused log without the narrow subject index (written by
// a build without it) is opened for writing once first, which indexes it ("RESULT
// narrow_index": the one-time cost). Rows (all by default):
//   census   not a timing: the log's events by type
//   replay   events/s of the full fold from empty (internal::FoldLog), beside Scan + decode
//            alone
//   read     one random EventLog::Read (the unit a scoped query is made of)
//   explain  Auditor::Explain of a random token at a random org of its owner, random seq
//   token    Auditor::Token (the timeline with access intervals) of a random token
//   policy   Auditor::PolicyAt of a random org at a random time, and of the largest org
//   state    internal::LoadState and Auditor::StateAt at a random seq
//   impact   Auditor::Impact of each policy change of the largest org, and
//            Auditor::DryRunPolicy of an SSO-only change of it
//   verify   VerifyLog: integrity (every leaf and the root) and replay with snapshot checks
//   check    not a timing: Explain, Token intervals and PolicyAt against the full state
// The explain, token and policy rows also give percentiles of each question's thread CPU
// time (cpu_p50_us, cpu_p99_us): on a shared machine, what the question costs apart from
// waiting for a core.
// Latency rows take `--samples` random samples, or fewer if `--seconds` runs out first;
// `--seed` seeds the samples (the log's own seed is fixed). `--rows none` only generates.
// Every row ends with a machine-readable line "RESULT <row> key=value ...".
#include <authledger/audit.h>
#include <authledger/log_tools.h>
#include <kj/exception.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "engine/fold.h"
#include "engine/rules.h"
#include "engine/state.h"
#include "engine/state_store.h"
#include "replay/event_json.h"
#include "replay/scope.h"
#include "storage/event_log.h"
#include "tools/bench/bench_support.h"

namespace authledger::bench {
namespace {

using internal::State;
using Kind = schema::Actor::Kind;

constexpr std::int64_t kT0 = 1767225600LL * 1'000'000;  // 2026-01-01T00:00:00Z
constexpr std::int64_t kYearUs = 365LL * 86400 * 1'000'000;
constexpr char kMarker[] = "replay_bench.shape";
constexpr std::size_t kBatch = 10000;

struct Shape {
  std::uint64_t events = 10'000'000;
  std::uint64_t tokens = 1'000'000;
  std::uint64_t orgs = 10'000;
  std::uint64_t users = 100'000;
  std::uint64_t snapshot_every = 1'000'000;
  std::uint64_t seed = 42;

  std::string Text() const {
    std::ostringstream out;
    out << "events=" << events << " tokens=" << tokens << " orgs=" << orgs << " users=" << users
        << " snapshot_every=" << snapshot_every << " seed=" << seed << "\n";
    return out.str();
  }
};

std::string OrgId(std::uint64_t i) { return "org" + std::to_string(i); }
std::string Prefix(std::uint64_t i) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "alp_%011llu", static_cast<unsigned long long>(i));
  return buf;
}

// ---- Generation ----

// Writes a year of an authentication service's history: organizations (sizes
// Zipf-distributed, org0 the largest), verified domains, IdPs, users (most managed by the
// organization whose domain their email has) and memberships first, then a mix, spread
// evenly over the rest of the log, of logins (sessions: password, oauth:google,
// oauth:github, saml:<idp>; refused logins are LoginRejected), personal tokens made in
// live sessions, application users and tokens, policy changes (SSO-only, 2FA required,
// no personal tokens, Google only, back to the defaults), allowlist changes, 2FA enables
// and disables with the revocations the engine writes for them, revocations, member
// removals, deactivations, late registrations, and token uses of live tokens (at most
// one per token per minute, as the engine records them) for the rest. The largest
// organization goes SSO-only at 30% and 80% of the log and back to the defaults at 55%
// and 97%.
class Generator {
 public:
  Generator(storage::EventLog& log, const Shape& shape)
      : log_(log), shape_(shape), random_(shape.seed) {}

  Status Run();

 private:
  struct Org {
    std::string domain;  // verified, or empty
    std::string idp;     // its IdP, or empty
    std::uint16_t saml_method = 0;
    AuthenticationPolicy policy;
    std::uint64_t allowlist_version = 0;
  };
  struct User {
    std::int32_t managing = -1;  // org whose domain the email has (verified)
    std::int32_t app_org = -1;   // application users
    bool two_factor = false;
    bool active = true;
    bool deleted = false;
    std::vector<std::uint32_t> orgs;
    std::vector<std::uint32_t> tokens;  // in creation order
  };
  struct Tok {
    std::uint32_t owner = 0;
    std::uint16_t method = 0;
    internal::TokenKind kind = internal::TokenKind::kSession;
    bool extend = false;
    bool revoked = false;
    bool two_factor = false;
    std::uint32_t max_age_s = 0;
    std::int64_t created_us = 0;
    std::int64_t last_used_us = 0;
    std::int64_t expiry_us = 0;
  };
  enum Step {
    kSession,
    kPersonal,
    kAppToken,
    kNewUser,
    kAppUser,
    kPolicy,
    kAllowlist,
    kTwoFactorOn,
    kTwoFactorOff,
    kRevoke,
    kMemberRemoved,
    kDeactivate,
    kReactivate,
    kUse,
    kSteps
  };

  std::uint64_t R() { return random_.Next(); }
  double U() { return static_cast<double>(R() >> 11) * 0x1.0p-53; }
  std::uint64_t Below(std::uint64_t n) { return n == 0 ? 0 : R() % n; }
  std::uint64_t emitted() const { return next_seq_ - 1; }
  std::string UserId(std::uint32_t u) const {
    return u < shape_.users ? "user" + std::to_string(u) : "app" + std::to_string(u - shape_.users);
  }
  std::uint32_t ZipfOrg() {
    return static_cast<std::uint32_t>(std::lower_bound(zipf_.begin(), zipf_.end(), U()) -
                                      zipf_.begin());
  }
  std::uint16_t Method(const std::string& m) {
    auto [it, added] = method_index_.try_emplace(m, static_cast<std::uint16_t>(methods_.size()));
    if (added) methods_.push_back(m);
    return it->second;
  }
  bool Live(const Tok& t) const {
    if (t.revoked || (t.expiry_us != 0 && now_ >= t.expiry_us)) return false;
    if (t.max_age_s == 0) return true;
    std::int64_t base = t.extend ? std::max(t.created_us, t.last_used_us) : t.created_us;
    return now_ < base + std::int64_t{t.max_age_s} * 1'000'000;
  }

  // A new command: time moves on, and a full batch goes to the log first.
  Status Tick();
  schema::Envelope::Event::Builder Add(Kind kind, const std::string& actor,
                                       std::uint64_t cause = 0);
  Status Flush();

  void CreateOrg(std::uint32_t o);
  void Register(std::uint32_t u);
  void Join(std::uint32_t u, std::uint32_t o);
  void ChangePolicy(std::uint32_t o, int change);
  std::string_view LoginRefusal(const User& u, const std::string& method) const;
  void NewToken(std::uint32_t owner, internal::TokenKind kind, std::uint16_t method,
                const std::string& session, bool two_factor, std::uint32_t max_age, bool extend,
                std::int64_t expiry, const std::string& org);
  bool Do(Step step);
  bool Login();
  bool PersonalToken();
  bool Use();
  bool SetTwoFactor(bool on);
  bool Revoke();

  storage::EventLog& log_;
  Shape shape_;
  SplitMix random_;
  std::vector<double> zipf_;  // CDF of an organization's share of users
  std::vector<Org> orgs_;
  std::vector<User> users_;
  std::vector<Tok> tokens_;
  std::vector<std::string> methods_;
  std::map<std::string, std::uint16_t> method_index_;
  std::uint32_t registered_ = 0;  // users 0..registered_-1 exist
  std::vector<std::uint32_t> app_users_;
  std::vector<std::uint32_t> deactivated_;
  std::vector<storage::EventDraft> batch_;
  std::uint64_t next_seq_ = 1;
  std::int64_t now_ = kT0;
  std::int64_t mean_gap_us_ = 1;
  Status failed_;
};

Status Generator::Tick() {
  now_ += 1 + static_cast<std::int64_t>(Below(static_cast<std::uint64_t>(2 * mean_gap_us_)));
  if (batch_.size() >= kBatch) return Flush();
  return Status::Ok();
}

schema::Envelope::Event::Builder Generator::Add(Kind kind, const std::string& actor,
                                                std::uint64_t cause) {
  batch_.emplace_back();
  auto envelope = batch_.back().envelope();
  envelope.setTimeUs(now_);
  envelope.setCause(cause);
  auto a = envelope.initActor();
  a.setKind(kind);
  a.setId(actor);
  if (kind != Kind::SYSTEM) a.setIp("10.20." + std::to_string(R() % 256) + ".7");
  ++next_seq_;
  return envelope.getEvent();
}

Status Generator::Flush() {
  if (batch_.empty()) return Status::Ok();
  auto appended = log_.Append(std::move(batch_));
  batch_.clear();
  if (!appended.ok()) return appended.status();
  if (appended->last != emitted()) {
    return Status::Corruption("generate_seq_mismatch", "the log assigned other seqs than expected");
  }
  return Status::Ok();
}

void Generator::CreateOrg(std::uint32_t o) {
  auto e = Add(Kind::ADMIN, "root").initOrganizationCreated();
  e.setOrgId(OrgId(o));
  e.setName("Organization " + std::to_string(o));
  internal::PolicyToSchema(orgs_[o].policy, e.initPolicy());
}

void Generator::Register(std::uint32_t u) {
  User& user = users_[u];
  const std::uint32_t primary = ZipfOrg();
  const Org& p = orgs_[primary];
  std::string email = UserId(u) + "@mail" + std::to_string(u % 50) + ".example";
  if (!p.domain.empty() && U() < 0.85) {
    email = UserId(u) + "@" + p.domain;
    user.managing = static_cast<std::int32_t>(primary);
  }
  auto e = Add(Kind::ADMIN, "root").initUserRegistered();
  e.setUserId(UserId(u));
  e.setEmail(email);
  registered_ = std::max(registered_, u + 1);
  Join(u, primary);
  if (U() < 0.4) Join(u, static_cast<std::uint32_t>(Below(shape_.orgs)));
  if (U() < 0.1) Join(u, static_cast<std::uint32_t>(Below(shape_.orgs)));
}

void Generator::Join(std::uint32_t u, std::uint32_t o) {
  auto& orgs = users_[u].orgs;
  if (std::find(orgs.begin(), orgs.end(), o) != orgs.end()) return;
  orgs.push_back(o);
  auto e = Add(Kind::ADMIN, "root").initMemberAdded();
  e.setOrgId(OrgId(o));
  e.setUserId(UserId(u));
}

// change: 0 SSO-only, 1 2FA required, 2 no personal tokens, 3 Google only, 4 defaults.
void Generator::ChangePolicy(std::uint32_t o, int change) {
  Org& org = orgs_[o];
  AuthenticationPolicy next = org.policy;
  if (change == 0 && org.idp.empty()) change = 1;  // SSO-only needs an IdP (else forced)
  switch (change) {
    case 0:
      next.password_auth_enabled = false;
      next.oauth_enabled = false;
      next.saml_enabled = true;
      next.personal_tokens_require_allowed_auth_method = true;
      break;
    case 1:
      next.two_factor_required = true;
      break;
    case 2:
      next.personal_tokens_enabled = false;
      break;
    case 3:
      next.oauth_providers = {"google"};
      break;
    default:
      next = AuthenticationPolicy{};
      break;
  }
  next.version = org.policy.version + 1;
  org.policy = next;
  auto e = Add(Kind::ADMIN, "admin-" + OrgId(o)).initPolicyChanged();
  e.setOrgId(OrgId(o));
  internal::PolicyToSchema(next, e.initPolicy());
}

// R1 as the engine decides it, for the methods the generator uses.
std::string_view Generator::LoginRefusal(const User& u, const std::string& method) const {
  if (!u.active) return "user_deactivated";
  if (u.managing < 0) return {};
  const Org& m = orgs_[static_cast<std::size_t>(u.managing)];
  const AuthenticationPolicy& p = m.policy;
  if (method == "password") {
    return p.password_auth_enabled ? "" : "user_password_authentication_method_not_allowed";
  }
  if (method.rfind("oauth:", 0) == 0) {
    bool listed = std::find(p.oauth_providers.begin(), p.oauth_providers.end(), method.substr(6)) !=
                  p.oauth_providers.end();
    return p.oauth_enabled && listed ? "" : "user_oauth_authentication_method_not_allowed";
  }
  return p.saml_enabled ? "" : "user_saml_authentication_method_not_allowed";
}

void Generator::NewToken(std::uint32_t owner, internal::TokenKind kind, std::uint16_t method,
                         const std::string& session, bool two_factor, std::uint32_t max_age,
                         bool extend, std::int64_t expiry, const std::string& org) {
  const auto index = static_cast<std::uint32_t>(tokens_.size());
  Tok t;
  t.owner = owner;
  t.method = method;
  t.kind = kind;
  t.extend = extend;
  t.two_factor = two_factor;
  t.max_age_s = max_age;
  t.created_us = now_;
  t.expiry_us = expiry;
  tokens_.push_back(t);
  users_[owner].tokens.push_back(index);
  const bool app = kind == internal::TokenKind::kApplication;
  auto e =
      Add(app ? Kind::ADMIN : Kind::USER, app ? "admin-" + org : UserId(owner)).initTokenCreated();
  e.setTokenPrefix(Prefix(index));
  std::array<std::uint64_t, 4> hash = {R(), R(), R(), R()};
  e.setSecretHash(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(hash.data()), 32));
  e.setKind(kind == internal::TokenKind::kSession    ? schema::TokenKind::SESSION
            : kind == internal::TokenKind::kPersonal ? schema::TokenKind::PERSONAL
                                                     : schema::TokenKind::APPLICATION);
  e.setOwnerUserId(UserId(owner));
  e.setOrgId(org);
  e.setMethod(methods_[method]);
  e.setSessionPrefix(session);
  e.setTwoFactorUsed(two_factor);
  if (kind != internal::TokenKind::kSession) e.setDescription("deploy key for the ci pipeline");
  e.setExpiryTimeUs(expiry);
  e.setMaxAgeSeconds(max_age);
  e.setExtendWhenUsed(extend);
}

bool Generator::Login() {
  const auto u = static_cast<std::uint32_t>(Below(registered_));
  User& user = users_[u];
  const Org* managing =
      user.managing >= 0 ? &orgs_[static_cast<std::size_t>(user.managing)] : nullptr;
  const double r = U();
  std::vector<std::string> tries;
  if (managing != nullptr && !managing->idp.empty()) {
    tries = r < 0.6   ? std::vector<std::string>{methods_[managing->saml_method]}
            : r < 0.8 ? std::vector<std::string>{"password"}
                      : std::vector<std::string>{"oauth:google"};
    tries.push_back(methods_[managing->saml_method]);  // what a refused user does next
  } else {
    tries = {r < 0.6 ? "password" : r < 0.9 ? "oauth:google" : "oauth:github", "oauth:google"};
  }
  for (const auto& method : tries) {
    std::string_view refusal = LoginRefusal(user, method);
    if (refusal.empty()) {
      const bool saml = method.rfind("saml:", 0) == 0;
      const std::uint32_t max_age = saml ? 28800 * (1 + user.managing % 3) : 86400;
      const bool extend = !saml || user.managing % 2 == 0;
      NewToken(u, internal::TokenKind::kSession, Method(method), {},
               user.two_factor && method == "password", max_age, extend, 0, {});
      return true;
    }
    auto e = Add(Kind::USER, UserId(u)).initLoginRejected();
    e.setUserId(UserId(u));
    e.setMethod(method);
    e.setReason(std::string(refusal));
    if (managing != nullptr) e.setOrgId(OrgId(static_cast<std::uint64_t>(user.managing)));
    if (refusal == "user_deactivated") return false;
  }
  return false;
}

bool Generator::PersonalToken() {
  for (int attempt = 0; attempt < 8 && !tokens_.empty(); ++attempt) {
    const auto i = tokens_.size() - 1 - Below(std::min<std::size_t>(tokens_.size(), 20000));
    const Tok& s = tokens_[i];
    const User& owner = users_[s.owner];
    if (s.kind != internal::TokenKind::kSession || !Live(s) || !owner.active) continue;
    if (owner.managing >= 0 &&
        !orgs_[static_cast<std::size_t>(owner.managing)].policy.personal_tokens_enabled) {
      continue;
    }
    const double r = U();
    const std::uint32_t max_age = r < 0.5 ? 90 * 86400 : 0;
    const std::int64_t expiry = r >= 0.8 ? now_ + 30LL * 86400 * 1'000'000 : 0;
    NewToken(s.owner, internal::TokenKind::kPersonal, s.method, Prefix(i), s.two_factor, max_age,
             false, expiry, {});
    return true;
  }
  return false;
}

bool Generator::Use() {
  for (int attempt = 0; attempt < 8 && !tokens_.empty(); ++attempt) {
    const std::size_t i =
        U() < 0.7 ? tokens_.size() - 1 - Below(std::min<std::size_t>(tokens_.size(), 30000))
                  : Below(tokens_.size());
    Tok& t = tokens_[i];
    if (!Live(t) || now_ - std::max(t.last_used_us, t.created_us) < 60'000'000) continue;
    t.last_used_us = now_;
    auto e = Add(Kind::SYSTEM, "token-use-recorder").initTokenUsed();
    e.setTokenPrefix(Prefix(i));
    e.setOwnerUserId(UserId(t.owner));
    e.setLastUsedUs(now_);
    e.setLastIp("198.51.100." + std::to_string(i % 250));
    return true;
  }
  return false;
}

// The event and, in the same batch, the revocations the engine decides for it.
bool Generator::SetTwoFactor(bool on) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    const auto u = static_cast<std::uint32_t>(Below(registered_));
    User& user = users_[u];
    if (user.two_factor == on) continue;
    user.two_factor = on;
    const std::uint64_t cause = next_seq_;
    auto e = Add(Kind::USER, UserId(u));
    if (on) {
      e.initTwoFactorEnabled().setUserId(UserId(u));
    } else {
      e.initTwoFactorDisabled().setUserId(UserId(u));
    }
    for (std::uint32_t i : user.tokens) {
      Tok& t = tokens_[i];
      if (t.revoked || methods_[t.method] != "password" ||
          t.kind == internal::TokenKind::kApplication) {
        continue;
      }
      t.revoked = true;
      auto r = Add(Kind::USER, UserId(u), cause).initTokenRevoked();
      r.setTokenPrefix(Prefix(i));
      r.setOwnerUserId(UserId(u));
      r.setReason(schema::RevocationReason::TWO_FACTOR_CHANGED);
    }
    return true;
  }
  return false;
}

bool Generator::Revoke() {
  for (int attempt = 0; attempt < 8 && !tokens_.empty(); ++attempt) {
    const auto i = tokens_.size() - 1 - Below(std::min<std::size_t>(tokens_.size(), 50000));
    Tok& t = tokens_[i];
    if (t.revoked || t.kind == internal::TokenKind::kApplication) continue;
    t.revoked = true;
    const User& owner = users_[t.owner];
    const bool by_admin =
        t.kind == internal::TokenKind::kPersonal && U() < 0.2 && !owner.orgs.empty();
    const std::string org = by_admin ? OrgId(owner.orgs[Below(owner.orgs.size())]) : "";
    auto e = Add(by_admin ? Kind::ADMIN : Kind::USER, by_admin ? "admin-" + org : UserId(t.owner))
                 .initTokenRevoked();
    e.setTokenPrefix(Prefix(i));
    e.setOwnerUserId(UserId(t.owner));
    e.setReason(by_admin ? schema::RevocationReason::REVOKED_BY_ADMIN
                : t.kind == internal::TokenKind::kSession
                    ? schema::RevocationReason::LOGOUT
                    : schema::RevocationReason::REVOKED_BY_OWNER);
    e.setOrgId(org);
    return true;
  }
  return false;
}

bool Generator::Do(Step step) {
  switch (step) {
    case kSession:
      return Login();
    case kPersonal:
      return PersonalToken();
    case kAppToken: {
      if (app_users_.empty()) return false;
      const std::uint32_t a = app_users_[Below(app_users_.size())];
      if (users_[a].deleted) return false;
      const std::string org = OrgId(static_cast<std::uint64_t>(users_[a].app_org));
      NewToken(a, internal::TokenKind::kApplication, Method("application"), {}, false, 0, false, 0,
               org);
      return true;
    }
    case kNewUser:
      if (registered_ >= shape_.users) return false;
      Register(registered_);
      return true;
    case kAppUser: {
      const auto a = static_cast<std::uint32_t>(users_.size());
      users_.emplace_back();
      users_[a].app_org = static_cast<std::int32_t>(ZipfOrg());
      app_users_.push_back(a);
      auto e = Add(Kind::ADMIN, "root").initApplicationUserCreated();
      e.setOrgId(OrgId(static_cast<std::uint64_t>(users_[a].app_org)));
      e.setUserId(UserId(a));
      e.setName("deploy bot");
      return true;
    }
    case kPolicy: {
      const auto o = static_cast<std::uint32_t>(Below(shape_.orgs));
      AuthenticationPolicy defaults;
      defaults.version = orgs_[o].policy.version;
      const bool is_default = orgs_[o].policy == defaults;
      const double r = U();
      ChangePolicy(o, !is_default && r < 0.6 ? 4 : r < 0.4 ? 0 : r < 0.65 ? 1 : r < 0.8 ? 2 : 3);
      return true;
    }
    case kAllowlist: {
      const auto o = static_cast<std::uint32_t>(Below(shape_.orgs));
      const bool enabled = U() < 0.7;
      auto e = Add(Kind::ADMIN, "admin-" + OrgId(o)).initIpAllowlistChanged();
      e.setOrgId(OrgId(o));
      e.setEnabled(enabled);
      auto cidrs = e.initCidrs(2);
      cidrs.set(0, "10.0.0.0/8");
      cidrs.set(1, "203.0.113.0/24");
      e.setVersion(++orgs_[o].allowlist_version);
      return true;
    }
    case kTwoFactorOn:
      return SetTwoFactor(true);
    case kTwoFactorOff:
      return SetTwoFactor(false);
    case kRevoke:
      return Revoke();
    case kMemberRemoved: {
      User& user = users_[Below(registered_)];
      if (user.orgs.size() < 2) return false;  // keep everyone a member somewhere
      const std::size_t k = Below(user.orgs.size());
      auto e = Add(Kind::ADMIN, "admin-" + OrgId(user.orgs[k])).initMemberRemoved();
      e.setOrgId(OrgId(user.orgs[k]));
      e.setUserId(UserId(static_cast<std::uint32_t>(&user - users_.data())));
      user.orgs.erase(user.orgs.begin() + static_cast<std::ptrdiff_t>(k));
      return true;
    }
    case kDeactivate: {
      const auto u = static_cast<std::uint32_t>(Below(registered_));
      if (users_[u].managing < 0 || !users_[u].active) return false;
      users_[u].active = false;
      deactivated_.push_back(u);
      auto e = Add(Kind::ADMIN, "admin").initUserDeactivated();
      e.setUserId(UserId(u));
      e.setOrgId(OrgId(static_cast<std::uint64_t>(users_[u].managing)));
      return true;
    }
    case kReactivate: {
      if (deactivated_.empty()) return false;
      const std::size_t k = Below(deactivated_.size());
      const std::uint32_t u = deactivated_[k];
      deactivated_.erase(deactivated_.begin() + static_cast<std::ptrdiff_t>(k));
      users_[u].active = true;
      auto e = Add(Kind::ADMIN, "admin").initUserReactivated();
      e.setUserId(UserId(u));
      e.setOrgId(OrgId(static_cast<std::uint64_t>(users_[u].managing)));
      return true;
    }
    case kUse:
      return Use();
    case kSteps:
      break;
  }
  return false;
}

Status Generator::Run() {
  mean_gap_us_ = std::max<std::int64_t>(1, kYearUs / static_cast<std::int64_t>(shape_.events));
  double total = 0;
  for (std::uint64_t o = 0; o < shape_.orgs; ++o) {
    total += 1.0 / std::pow(static_cast<double>(o + 1), 0.8);
    zipf_.push_back(total);
  }
  for (auto& z : zipf_) z /= total;
  zipf_.back() = 1.0;
  orgs_.resize(shape_.orgs);
  users_.resize(shape_.users);
  Method("password");
  Method("oauth:google");
  Method("oauth:github");

  // Setup: organizations, domains, IdPs, 90% of the users and their memberships.
  for (std::uint32_t o = 0; o < shape_.orgs; ++o) {
    if (Status s = Tick(); !s.ok()) return s;
    CreateOrg(o);
  }
  for (std::uint32_t o = 0; o < shape_.orgs; ++o) {
    if (o >= 200 && R() % 4 != 0) continue;
    if (Status s = Tick(); !s.ok()) return s;
    Org& org = orgs_[o];
    org.domain = OrgId(o) + ".example";
    auto d = Add(Kind::ADMIN, "admin-" + OrgId(o)).initDomainVerified();
    d.setOrgId(OrgId(o));
    d.setDomain(org.domain);
    if (o >= 100 && R() % 2 != 0) continue;
    org.idp = "idp-" + OrgId(o);
    org.saml_method = Method("saml:" + org.idp);
    auto i = Add(Kind::ADMIN, "admin-" + OrgId(o)).initIdpAdded();
    i.setOrgId(OrgId(o));
    i.setIdpId(org.idp);
    i.initDomains(1).set(0, org.domain);
    i.setMaxAgeSeconds(28800 * (1 + o % 3));
    i.setExtendWhenUsed(o % 2 == 0);
    i.setName("Okta");
  }
  while (registered_ < shape_.users * 9 / 10) {
    if (Status s = Tick(); !s.ok()) return s;
    Register(registered_);
  }

  // The mix. Each kind's remaining budget is its weight, so each spreads evenly; token
  // uses fill what the others leave.
  const double scale = static_cast<double>(shape_.events) / 1e7;
  auto scaled = [&](double n) { return static_cast<std::uint64_t>(n * scale); };
  const std::uint64_t tokens = shape_.tokens;
  std::array<std::uint64_t, kSteps> left{};
  left[kSession] = tokens * 59 / 100;
  left[kPersonal] = tokens * 40 / 100;
  left[kAppToken] = tokens - left[kSession] - left[kPersonal];
  left[kNewUser] = shape_.users - registered_;
  left[kAppUser] = std::max<std::uint64_t>(1, tokens / 500);
  left[kPolicy] = scaled(20000);
  left[kAllowlist] = scaled(3000);
  left[kTwoFactorOn] = scaled(20000);
  left[kTwoFactorOff] = scaled(4000);
  left[kRevoke] = scaled(60000);
  left[kMemberRemoved] = scaled(5000);
  left[kDeactivate] = scaled(1000);
  left[kReactivate] = scaled(500);
  const std::array<std::pair<double, int>, 4> org0_changes = {
      {{0.30, 0}, {0.55, 4}, {0.80, 0}, {0.97, 4}}};
  std::size_t next_org0 = 0;
  int failures = 0;
  while (emitted() < shape_.events) {
    if (Status s = Tick(); !s.ok()) return s;
    if (next_org0 < org0_changes.size() &&
        emitted() >= static_cast<std::uint64_t>(org0_changes[next_org0].first *
                                                static_cast<double>(shape_.events))) {
      ChangePolicy(0, org0_changes[next_org0++].second);
      continue;
    }
    std::uint64_t others = 0;
    for (int k = 0; k < kUse; ++k) others += left[static_cast<std::size_t>(k)];
    const std::uint64_t room = shape_.events - emitted();
    left[kUse] = room > others ? room - others : 0;
    std::uint64_t pick = Below(others + left[kUse]);
    std::size_t step = 0;
    while (step + 1 < kSteps && pick >= left[step]) pick -= left[step++];
    if (others + left[kUse] == 0) step = kUse;
    if (failures > 1000) step = kSession;  // nothing live to use: someone logs in
    if (Do(static_cast<Step>(step))) {
      failures = 0;
      if (left[step] > 0) --left[step];
    } else {
      ++failures;
    }
  }
  return Flush();
}

// A log generated by a build without the narrow subject index gets it now, as any log
// does at its first writable open (timed: a one-time cost of upgrading).
Status IndexNarrowly(const std::string& dir) {
  storage::EventLogOptions read_only;
  read_only.read_only = true;
  read_only.create_if_missing = false;
  std::uint64_t size = 0, through = 0;
  {
    auto log = storage::EventLog::Open(dir, read_only);
    if (!log.ok()) return log.status();
    size = (*log)->size();
    through = (*log)->NarrowIndexThrough();
  }
  if (through == size) return Status::Ok();
  std::printf("the narrow index of %s goes to seq %llu of %llu: opening it to write\n", dir.c_str(),
              static_cast<unsigned long long>(through), static_cast<unsigned long long>(size));
  std::fflush(stdout);
  const auto start = Clock::now();
  auto log = storage::EventLog::Open(dir, {});
  if (!log.ok()) return log.status();
  const double seconds = SecondsSince(start);
  std::printf("RESULT narrow_index events=%llu seconds=%.1f events_per_s=%.0f\n",
              static_cast<unsigned long long>(size - through), seconds,
              static_cast<double>(size - through) / seconds);
  return Status::Ok();
}

// Generates the log into `dir` (refusing a non-empty directory that is not ours) unless
// it already holds one of `shape`; then the snapshots.
Status EnsureLog(const std::string& dir, const Shape& shape) {
  const auto marker = std::filesystem::path(dir) / kMarker;
  std::error_code ec;
  if (std::filesystem::exists(marker, ec)) {
    std::ifstream in(marker);
    std::stringstream text;
    text << in.rdbuf();
    if (text.str() == shape.Text()) return IndexNarrowly(dir);
    std::printf("the log in %s has another shape (%s); generating anew\n", dir.c_str(),
                text.str().c_str());
    std::filesystem::remove_all(dir, ec);
  } else if (std::filesystem::exists(dir, ec) && !std::filesystem::is_empty(dir, ec)) {
    return Status::InvalidArgument("dir_not_ours",
                                   dir + " is not empty and was not generated by replay_bench");
  }
  auto log = storage::EventLog::Open(dir, {});
  if (!log.ok()) return log.status();
  std::printf("generating %s", shape.Text().c_str());
  std::fflush(stdout);
  auto start = Clock::now();
  Generator generator(**log, shape);
  if (Status s = generator.Run(); !s.ok()) return s;
  const std::uint64_t size = (*log)->size();
  std::printf("generated %llu events in %.1f s (%.0f events/s)\n",
              static_cast<unsigned long long>(size), SecondsSince(start),
              static_cast<double>(size) / SecondsSince(start));

  // Snapshots: one fold of the whole log, storing the state every `snapshot_every` events
  // and at the end, as an engine with that snapshot interval would have.
  start = Clock::now();
  State state;
  Status stored;
  std::uint64_t snapshots = 0;
  Status s = (*log)->Scan(1, size, [&](const storage::DecodedEvent& e) {
    internal::Evolve(state, e.envelope());
    if (e.seq() % shape.snapshot_every == 0 || e.seq() == size) {
      stored = internal::StoreSnapshot(**log, internal::PrepareSnapshot(state));
      ++snapshots;
    }
    return stored.ok();
  });
  if (!s.ok()) return s;
  if (!stored.ok()) return stored;
  std::printf("stored %llu snapshots in %.1f s (%zu tokens, %zu users, %zu orgs at the end)\n",
              static_cast<unsigned long long>(snapshots), SecondsSince(start),
              state.tokens.records().size(), state.users.size(), state.orgs.size());
  log->reset();
  std::ofstream(marker) << shape.Text();
  return Status::Ok();
}

// ---- Measurement ----

struct Bench {
  std::string dir;
  std::uint64_t samples = 200;
  std::uint64_t state_samples = 200;
  double seconds = 0;  // 0 = no limit per row
  std::uint64_t passes = 3;
  std::uint64_t check_seqs = 10;
  SplitMix random{7};
  std::unique_ptr<storage::EventLog> log;
  std::unique_ptr<Auditor> auditor;
  State last;  // the state at the end of the log: tokens, owners, memberships
  std::uint32_t largest_org = 0;
  std::int64_t first_us = 0, last_us = 0;

  std::uint64_t Below(std::uint64_t n) { return random.Next() % n; }
  std::uint64_t size() const { return log->size(); }
  bool Continue(std::uint64_t done, Clock::time_point start) const {
    return done < samples && (seconds <= 0 || SecondsSince(start) < seconds);
  }
};

void Report(const char* row, const LatencySample& latency, const std::string& extra = {}) {
  std::printf("RESULT %s n=%zu p50_us=%.0f p99_us=%.0f max_us=%.0f%s%s\n", row, latency.size(),
              latency.PercentileUs(50), latency.PercentileUs(99), latency.MaxUs(),
              extra.empty() ? "" : " ", extra.c_str());
  std::fflush(stdout);
}

// The CPU time of the calling thread. On this shared machine, a question's wall time
// includes waiting for a core; its thread's CPU time (page-cache reads included) is
// what the question costs.
Clock::duration ThreadCpu() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

// Percentiles of the questions' thread CPU times, as "cpu_p50_us=.. cpu_p99_us=..".
std::string CpuStats(LatencySample cpu) {
  cpu.Finish();
  char buf[96];
  std::snprintf(buf, sizeof(buf), "cpu_p50_us=%.0f cpu_p99_us=%.0f", cpu.PercentileUs(50),
                cpu.PercentileUs(99));
  return buf;
}

// Mean and 99th percentile of counts, as "name_mean=.. name_p99=..".
std::string CountStats(const char* name, std::vector<std::uint64_t> counts) {
  if (counts.empty()) return {};
  std::sort(counts.begin(), counts.end());
  double sum = 0;
  for (auto c : counts) sum += static_cast<double>(c);
  char buf[160];
  std::snprintf(buf, sizeof(buf), "%s_mean=%.0f %s_p99=%llu %s_max=%llu", name,
                sum / static_cast<double>(counts.size()), name,
                static_cast<unsigned long long>(counts[(counts.size() * 99 + 99) / 100 - 1]), name,
                static_cast<unsigned long long>(counts.back()));
  return buf;
}

// Not a timing: how many events of each type the log holds.
Status RowCensus(Bench& b) {
  std::map<std::string, std::uint64_t> types;
  Status s = b.log->Scan(1, b.size(), [&](const storage::DecodedEvent& e) {
    ++types[replay::EventTypeName(e.envelope())];
    return true;
  });
  if (!s.ok()) return s;
  std::printf("RESULT census");
  for (const auto& [type, n] : types) {
    std::printf(" %s=%llu", type.c_str(), static_cast<unsigned long long>(n));
  }
  std::printf("\n");
  return Status::Ok();
}

// Rates per wall second and per CPU second of the process (the machine is shared: the
// CPU rate is what the code costs, the wall rate what this run got). Each pass times the
// scan alone, FoldLog as it runs by default (reading ahead on a second thread where
// there is more than one core), and FoldLog on one thread; each fold's state is compared
// with the state at the end of the log. Then the floor of the fold's most frequent step:
// a random successful TokenTable::Find among the tokens at the end of the log.
Status RowReplay(Bench& b) {
  std::vector<double> scan_rates, fold_rates, scan_cpu_rates, fold_cpu_rates;
  std::vector<double> one_rates, one_cpu_rates;
  bool same_state = true;
  auto timed_fold = [&](const internal::FoldOptions& options, std::vector<double>& rates,
                        std::vector<double>& cpu_rates) {
    const auto start = Clock::now();
    const double cpu = CpuSeconds();
    State state;
    Status s = internal::FoldLog(*b.log, b.size(), state, options);
    if (!s.ok()) return s;
    rates.push_back(static_cast<double>(b.size()) / SecondsSince(start));
    cpu_rates.push_back(static_cast<double>(b.size()) / (CpuSeconds() - cpu));
    same_state = same_state && state == b.last;
    return Status::Ok();
  };
  internal::FoldOptions one_thread;
  one_thread.read_ahead_min_events = std::numeric_limits<std::uint64_t>::max();
  const double n = static_cast<double>(b.size());
  for (std::uint64_t pass = 0; pass < b.passes; ++pass) {
    auto start = Clock::now();
    double cpu = CpuSeconds();
    Status s = b.log->Scan(1, b.size(), [&](const storage::DecodedEvent& e) {
      volatile std::int64_t touched = e.time_us();  // read the decoded event
      static_cast<void>(touched);
      return true;
    });
    if (!s.ok()) return s;
    scan_rates.push_back(n / SecondsSince(start));
    scan_cpu_rates.push_back(n / (CpuSeconds() - cpu));
    if (s = timed_fold({}, fold_rates, fold_cpu_rates); !s.ok()) return s;
    if (s = timed_fold(one_thread, one_rates, one_cpu_rates); !s.ok()) return s;
    std::printf(
        "pass %llu: scan + decode %.0f events/s (%.0f per CPU s), fold %.0f events/s "
        "(%.0f per CPU s), fold on one thread %.0f events/s (%.0f per CPU s)\n",
        static_cast<unsigned long long>(pass + 1), scan_rates.back(), scan_cpu_rates.back(),
        fold_rates.back(), fold_cpu_rates.back(), one_rates.back(), one_cpu_rates.back());
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const auto& records = b.last.tokens.records();
  std::vector<std::string> prefixes;
  for (int i = 0; i < 1'000'000; ++i)
    prefixes.push_back(records[b.Below(records.size())].prefix.str());
  auto start = Clock::now();
  std::uint64_t found = 0;
  for (const auto& p : prefixes) found += b.last.tokens.Find(p) != internal::kNoIdx;
  const double find_ns = SecondsSince(start) * 1e9 / static_cast<double>(prefixes.size());
  std::printf(
      "RESULT replay events=%llu passes=%zu fold_events_per_s=%.0f "
      "scan_events_per_s=%.0f fold_events_per_cpu_s=%.0f "
      "scan_events_per_cpu_s=%.0f one_thread_fold_events_per_s=%.0f "
      "one_thread_fold_events_per_cpu_s=%.0f same_state=%d find_ns=%.0f found=%llu\n",
      static_cast<unsigned long long>(b.size()), fold_rates.size(), median(fold_rates),
      median(scan_rates), median(fold_cpu_rates), median(scan_cpu_rates), median(one_rates),
      median(one_cpu_rates), same_state ? 1 : 0, find_ns, static_cast<unsigned long long>(found));
  return Status::Ok();
}

Status RowRead(Bench& b) {
  LatencySample latency;
  for (int i = 0; i < 10000; ++i) {
    const std::uint64_t seq = 1 + b.Below(b.size());
    auto start = Clock::now();
    auto e = b.log->Read(seq);
    latency.Add(Clock::now() - start);
    if (!e.ok()) return e.status();
  }
  latency.Finish();
  Report("read", latency);
  return Status::Ok();
}

// A token that exists at `seq` (records are in creation order), with a random org of its
// owner (from the end of the log) or of its application user.
bool PickToken(Bench& b, std::uint64_t seq, std::string* prefix, std::string* org) {
  const auto& records = b.last.tokens.records();
  auto end = std::upper_bound(records.begin(), records.end(), seq,
                              [](std::uint64_t s, const auto& t) { return s < t.created_seq; });
  const auto created = static_cast<std::uint64_t>(end - records.begin());
  if (created == 0) return false;
  const auto& t = records[b.Below(created)];
  const auto& owner = b.last.OwnerOf(t);
  *prefix = t.prefix.str();
  if (t.org != internal::kNoIdx) {
    *org = b.last.orgs[t.org].id;
  } else if (!owner.orgs.empty()) {
    *org = b.last.orgs[owner.orgs[b.Below(owner.orgs.size())]].id;
  } else {
    return false;
  }
  return true;
}

// Which of a token's events, and which of its owner's organizations, each scoped row's
// question folds (as the Auditor asks).
replay::TokenEvents TokenEventsOf(const char* row) {
  return std::string_view(row) == "token" ? replay::TokenEvents::kAll
                                          : replay::TokenEvents::kDecisive;
}
replay::OwnerOrgs OwnerOrgsOf(const char* row) {
  return std::string_view(row) == "token" ? replay::OwnerOrgs::kAll : replay::OwnerOrgs::kNone;
}

// Events a scoped question folds: those of the token's scope up to `seq`.
std::uint64_t ScopeEvents(const Bench& b, const char* row, const std::string& prefix,
                          const std::vector<std::string>& orgs, std::uint64_t seq) {
  replay::EventCache events(*b.log);
  auto scope =
      replay::ScopeOfToken(events, *b.log, prefix, orgs, seq, replay::HistoriesFor(*b.log, seq),
                           TokenEventsOf(row), OwnerOrgsOf(row));
  return scope.ok() ? scope->seqs.size() : 0;
}

// A timed scoped question, kept to explain the slow ones.
struct ScopedSample {
  std::int64_t ns = 0;
  std::uint64_t events = 0;  // events folded
  std::string prefix;
  std::vector<std::string> orgs;
  std::uint64_t seq = 0;
};

// The five slowest samples, and how the events of the slowest split over its subjects.
void PrintSlowest(const Bench& b, const char* row, std::vector<ScopedSample> samples) {
  std::sort(samples.begin(), samples.end(),
            [](const auto& x, const auto& y) { return x.ns > y.ns; });
  std::printf("%s: slowest samples (ms/events folded):", row);
  for (std::size_t i = 0; i < std::min<std::size_t>(5, samples.size()); ++i) {
    std::printf(" %.1f/%llu", static_cast<double>(samples[i].ns) / 1e6,
                static_cast<unsigned long long>(samples[i].events));
  }
  std::printf("\n");
  if (samples.empty()) return;
  const auto& slowest = samples.front();
  replay::EventCache events(*b.log);
  auto scope = replay::ScopeOfToken(events, *b.log, slowest.prefix, slowest.orgs, slowest.seq,
                                    replay::HistoriesFor(*b.log, slowest.seq), TokenEventsOf(row),
                                    OwnerOrgsOf(row));
  if (!scope.ok()) return;
  std::printf("%s: the slowest one's subjects (events):", row);
  for (const auto& subject : scope->subjects) {
    std::uint64_t n = 0;
    Status s = b.log->ScanSubject(subject, 1, slowest.seq, [&](std::uint64_t) {
      ++n;
      return true;
    });
    if (s.ok()) {
      std::printf(" %c:%s=%llu", static_cast<char>(subject.kind), subject.id.c_str(),
                  static_cast<unsigned long long>(n));
    }
  }
  if (scope->last_use != 0) {
    std::printf(" and its last use (seq %llu)", static_cast<unsigned long long>(scope->last_use));
  }
  std::printf("\n");
}

Status RowExplain(Bench& b) {
  LatencySample latency, cpu;
  std::vector<std::uint64_t> scope_events;
  std::map<std::string, int> reasons;
  std::vector<ScopedSample> samples;
  auto start = Clock::now();
  while (b.Continue(latency.size(), start)) {
    const std::uint64_t seq = 1 + b.Below(b.size());
    std::string prefix, org;
    if (!PickToken(b, seq, &prefix, &org)) continue;
    auto t0 = Clock::now();
    auto cpu0 = ThreadCpu();
    auto e = b.auditor->Explain(prefix, org, Moment::AtSeq(seq), std::nullopt);
    auto elapsed = Clock::now() - t0;
    cpu.Add(ThreadCpu() - cpu0);
    if (!e.ok()) return e.status();
    latency.Add(elapsed);
    ++reasons[e->decision.reason];
    scope_events.push_back(ScopeEvents(b, "explain", prefix, {org}, seq));
    samples.push_back(
        {std::chrono::nanoseconds(elapsed).count(), scope_events.back(), prefix, {org}, seq});
  }
  latency.Finish();
  PrintSlowest(b, "explain", std::move(samples));
  std::printf("explain: decisions:");
  for (const auto& [reason, n] : reasons) std::printf(" %s=%d", reason.c_str(), n);
  std::printf("\n");
  Report("explain", latency, CountStats("scope_events", scope_events) + " " + CpuStats(cpu));
  return Status::Ok();
}

Status RowToken(Bench& b) {
  LatencySample latency, cpu;
  std::vector<std::uint64_t> scope_events, intervals;
  std::vector<ScopedSample> samples;
  auto start = Clock::now();
  while (b.Continue(latency.size(), start)) {
    const auto& records = b.last.tokens.records();
    const std::string prefix = records[b.Below(records.size())].prefix.str();
    auto t0 = Clock::now();
    auto cpu0 = ThreadCpu();
    auto report = b.auditor->Token(prefix);
    auto elapsed = Clock::now() - t0;
    cpu.Add(ThreadCpu() - cpu0);
    if (!report.ok()) return report.status();
    latency.Add(elapsed);
    intervals.push_back(report->intervals.size());
    scope_events.push_back(ScopeEvents(b, "token", prefix, {}, b.size()));
    samples.push_back(
        {std::chrono::nanoseconds(elapsed).count(), scope_events.back(), prefix, {}, b.size()});
  }
  latency.Finish();
  PrintSlowest(b, "token", std::move(samples));
  Report("token", latency,
         CountStats("scope_events", scope_events) + " " + CountStats("intervals", intervals) + " " +
             CpuStats(cpu));
  return Status::Ok();
}

Status RowPolicy(Bench& b) {
  for (bool largest : {false, true}) {
    LatencySample latency, cpu;
    std::vector<std::uint64_t> history_events;
    auto start = Clock::now();
    while (b.Continue(latency.size(), start)) {
      const std::string org = b.last.orgs[largest ? b.largest_org : b.Below(b.last.orgs.size())].id;
      const std::int64_t at =
          b.first_us + static_cast<std::int64_t>(
                           b.Below(static_cast<std::uint64_t>(b.last_us - b.first_us + 1)));
      auto t0 = Clock::now();
      auto cpu0 = ThreadCpu();
      auto policy = b.auditor->PolicyAt(org, Moment::AtTime(at));
      latency.Add(Clock::now() - t0);
      cpu.Add(ThreadCpu() - cpu0);
      if (!policy.ok() && policy.status().reason() != "unknown_organization") {
        return policy.status();
      }
      // The events of the history PolicyAt reads: the organization's configuration, or
      // all its events in a log without the narrow index.
      std::uint64_t n = 0;
      auto seq = b.auditor->SeqOf(Moment::AtTime(at));
      if (!seq.ok()) return seq.status();
      const auto kind = replay::HistoriesFor(*b.log, *seq) == replay::Histories::kNarrow
                            ? storage::SubjectKind::kOrganizationConfig
                            : storage::SubjectKind::kOrganization;
      Status s = b.log->ScanSubject({kind, org}, 1, *seq, [&](std::uint64_t) {
        ++n;
        return true;
      });
      if (!s.ok()) return s;
      history_events.push_back(n);
    }
    latency.Finish();
    Report(largest ? "policy_at_largest_org" : "policy_at", latency,
           CountStats("history_events", history_events) + " " + CpuStats(cpu));
  }
  // What a scoped question about the largest organization reads: all its events, or only
  // its configuration.
  const std::string& largest = b.last.orgs[b.largest_org].id;
  for (auto kind :
       {storage::SubjectKind::kOrganization, storage::SubjectKind::kOrganizationConfig}) {
    std::map<std::string, int> types;
    Status failed;
    Status s = b.log->ScanSubject({kind, largest}, 1, b.size(), [&](std::uint64_t seq) {
      auto e = b.log->Read(seq);
      if (!e.ok()) failed = e.status();
      if (e.ok()) ++types[replay::EventTypeName(e->envelope())];
      return e.ok();
    });
    if (!s.ok()) return s;
    if (!failed.ok()) return failed;
    std::printf("%s of %s by type:",
                kind == storage::SubjectKind::kOrganization ? "events" : "configuration events",
                largest.c_str());
    for (const auto& [type, n] : types) std::printf(" %s=%d", type.c_str(), n);
    std::printf("\n");
  }
  return Status::Ok();
}

// First each stored snapshot alone (LoadState at its own seq: nothing to fold), twice, then
// LoadState at random seqs, whose fold part is the total less its snapshot's load.
Status RowState(Bench& b) {
  auto seqs = b.log->SnapshotSeqs();
  if (!seqs.ok()) return seqs.status();
  std::map<std::uint64_t, double> snapshot_s;  // the faster of two loads
  for (int pass = 0; pass < 2; ++pass) {
    for (std::uint64_t seq : *seqs) {
      auto t0 = Clock::now();
      auto loaded = internal::LoadState(*b.log, seq);
      const double s = SecondsSince(t0);
      if (!loaded.ok()) return loaded.status();
      snapshot_s[seq] = pass == 0 ? s : std::min(s, snapshot_s[seq]);
    }
  }
  std::printf("snapshot loads (seq: s, faster of two):");
  for (const auto& [seq, s] : snapshot_s) {
    std::printf(" %llu: %.2f", static_cast<unsigned long long>(seq), s);
  }
  std::printf("\n");
  LatencySample load, summary;
  std::vector<std::uint64_t> folded;
  std::vector<double> fold_rates;
  auto start = Clock::now();
  while (load.size() < b.state_samples && (b.seconds <= 0 || SecondsSince(start) < b.seconds)) {
    const std::uint64_t seq = 1 + b.Below(b.size());
    auto t0 = Clock::now();
    auto loaded = internal::LoadState(*b.log, seq);
    load.Add(Clock::now() - t0);
    if (!loaded.ok()) return loaded.status();
    folded.push_back(seq - loaded->snapshot_seq);
    const double fold_s = SecondsSince(t0) - snapshot_s[loaded->snapshot_seq];
    if (folded.back() > 100000 && fold_s > 0) {
      fold_rates.push_back(static_cast<double>(folded.back()) / fold_s);
    }
  }
  load.Finish();
  std::sort(fold_rates.begin(), fold_rates.end());
  char extra[64] = "";
  if (!fold_rates.empty()) {
    std::snprintf(extra, sizeof(extra), " fold_events_per_s_p50=%.0f",
                  fold_rates[fold_rates.size() / 2]);
  }
  Report("load_state", load, CountStats("folded", folded) + extra);
  start = Clock::now();
  while (summary.size() < std::max<std::uint64_t>(1, b.state_samples / 4) &&
         (b.seconds <= 0 || SecondsSince(start) < b.seconds)) {
    const std::uint64_t seq = 1 + b.Below(b.size());
    auto t0 = Clock::now();
    auto state = b.auditor->StateAt(Moment::AtSeq(seq));
    summary.Add(Clock::now() - t0);
    if (!state.ok()) return state.status();
  }
  summary.Finish();
  Report("state_at", summary);
  return Status::Ok();
}

Status RowImpact(Bench& b) {
  const std::string org = b.last.orgs[b.largest_org].id;
  auto history = b.auditor->PolicyHistory(org);
  if (!history.ok()) return history.status();
  LatencySample latency;
  std::string flips;
  for (const auto& version : *history) {
    if (version.seq == 0 || version.policy.version == 1) continue;  // creation
    auto t0 = Clock::now();
    auto impact = b.auditor->Impact(version.seq);
    const double ms = SecondsSince(t0) * 1e3;
    latency.Add(Clock::now() - t0);
    if (!impact.ok()) return impact.status();
    std::size_t denied = 0;
    for (const auto& entry : *impact) denied += entry.allowed_before && !entry.allowed_after;
    std::string fields;
    for (const auto& c : version.changes) {
      fields += (fields.empty() ? "" : ",") + c.field.substr(c.field.rfind('.') + 1);
    }
    std::printf("impact of seq %llu (v%llu: %s): %.0f ms, %zu flips (%zu now denied)\n",
                static_cast<unsigned long long>(version.seq),
                static_cast<unsigned long long>(version.policy.version), fields.c_str(), ms,
                impact->size(), denied);
    flips += (flips.empty() ? "" : ",") + std::to_string(impact->size());
  }
  latency.Finish();
  Report("impact", latency, "org=" + org + " flips=" + flips);

  PolicyUpdate sso_only;
  sso_only.password_auth_enabled = false;
  sso_only.oauth_enabled = false;
  sso_only.saml_enabled = true;
  sso_only.personal_tokens_require_allowed_auth_method = true;
  LatencySample dry;
  std::size_t dry_flips = 0;
  for (int i = 0; i < 5; ++i) {
    auto t0 = Clock::now();
    auto change = b.auditor->DryRunPolicy(org, sso_only);
    dry.Add(Clock::now() - t0);
    if (!change.ok()) return change.status();
    dry_flips = change->impact.size();
  }
  dry.Finish();
  Report("dry_run_policy", dry, "org=" + org + " flips=" + std::to_string(dry_flips));
  return Status::Ok();
}

// Not a timing: the scoped answers against the full state at the same seq (LoadState),
// for 20 random tokens at each of `check_seqs` random seqs — Explain's decision, the
// access interval Token reports for that moment, and PolicyAt.
Status RowCheck(Bench& b) {
  int compared = 0, explain_bad = 0, interval_bad = 0, policy_bad = 0;
  internal::CheckOptions no_ip;
  no_ip.check_ip = false;
  for (std::uint64_t k = 0; k < b.check_seqs; ++k) {
    const std::uint64_t seq = 1 + b.Below(b.size());
    auto loaded = internal::LoadState(*b.log, seq);
    if (!loaded.ok()) return loaded.status();
    const State& full = loaded->state;
    const std::int64_t time = b.log->Read(seq)->time_us();
    for (int j = 0; j < 20; ++j) {
      std::string prefix, org;
      if (!PickToken(b, seq, &prefix, &org)) continue;
      ++compared;
      const Decision want = internal::CheckTokenAgainst(full, full.FindToken(prefix), org,
                                                        {time, {}}, nullptr, no_ip);
      auto explained = b.auditor->Explain(prefix, org, Moment::AtSeq(seq), std::nullopt);
      if (!explained.ok()) return explained.status();
      auto say = [&](const char* what, const std::string& got) {
        std::printf("MISMATCH %s: token %s at %s, seq %llu: full state says %s, got %s\n", what,
                    prefix.c_str(), org.c_str(), static_cast<unsigned long long>(seq),
                    want.reason.c_str(), got.c_str());
      };
      if (explained->decision.reason != want.reason) {
        ++explain_bad;
        say("explain", explained->decision.reason);
      }
      auto report = b.auditor->Token(prefix);
      if (!report.ok()) return report.status();
      const AccessInterval* at = nullptr;  // the interval holding (seq, time)
      for (const auto& interval : report->intervals) {
        if (interval.org_id != org) continue;
        bool begun = interval.from_seq != 0 ? interval.from_seq <= seq : interval.from_us <= time;
        if (begun) at = &interval;
      }
      const std::string got = at == nullptr ? "no interval" : at->reason;
      if (got != want.reason && !(at == nullptr && !want.allowed)) {
        ++interval_bad;
        say("interval", got);
      }
      auto policy = b.auditor->PolicyAt(org, Moment::AtSeq(seq));
      const auto* o = full.FindOrg(org);
      if (policy.ok() != (o != nullptr) || (o != nullptr && !(*policy == o->policy))) {
        ++policy_bad;
        say("policy", policy.ok() ? "a policy" : policy.status().ToString());
      }
    }
  }
  std::printf(
      "RESULT check compared=%d explain_mismatches=%d interval_mismatches=%d "
      "policy_mismatches=%d\n",
      compared, explain_bad, interval_bad, policy_bad);
  return Status::Ok();
}

// The integrity stage runs from the start to its last progress call; the replay stage
// (a fold of the whole log, comparing the state with every snapshot) from there to its
// last progress call.
Status RowVerify(Bench& b) {
  std::map<std::string, Clock::time_point> last_call;
  VerifyOptions options;
  options.progress = [&](std::string_view stage, std::uint64_t, std::uint64_t) {
    last_call[std::string(stage)] = Clock::now();
  };
  auto start = Clock::now();
  auto report = VerifyLog(b.dir, options);
  const double total = SecondsSince(start);
  if (!report.ok()) return report.status();
  auto seconds = [](Clock::time_point from, Clock::time_point to) {
    return std::chrono::duration<double>(to - from).count();
  };
  if (!report->ok()) {
    std::printf("verify: %s at seq %llu: %s\n", report->problem.c_str(),
                static_cast<unsigned long long>(report->bad_seq), report->message.c_str());
  }
  const double integrity = seconds(start, last_call["integrity"]);
  const double replay =
      last_call.count("replay") == 0 ? 0.0 : seconds(last_call["integrity"], last_call["replay"]);
  const double n = static_cast<double>(report->size);
  std::printf(
      "RESULT verify ok=%d problem=%s events=%llu snapshots=%zu seconds=%.1f events_per_s=%.0f "
      "integrity_s=%.1f integrity_events_per_s=%.0f replay_s=%.1f replay_events_per_s=%.0f\n",
      report->ok() ? 1 : 0, report->problem.empty() ? "-" : report->problem.c_str(),
      static_cast<unsigned long long>(report->size), report->snapshot_seqs.size(), total, n / total,
      integrity, n / integrity, replay, replay > 0 ? n / replay : 0.0);
  return Status::Ok();
}

constexpr char kUsage[] =
    R"(usage: replay_bench --dir DIR [--rows census,replay,read,explain,token,policy,state,impact,
                                     verify,check]
         [--samples S] [--state-samples N] [--seconds T] [--passes P] [--seed X]
         [--check-seqs N] [--events N] [--tokens N] [--orgs N] [--users N] [--snapshot-every K]
)";

int Main(int argc, char** argv) {
  auto flags = Flags::Parse(argc, argv, {"help"});
  if (!flags.ok() || flags->Has("help") || !flags->Has("dir")) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  Shape shape;
  Bench b;
  b.dir = flags->Get("dir", "");
  for (auto [name, field] : std::initializer_list<std::pair<const char*, std::uint64_t*>>{
           {"events", &shape.events},
           {"tokens", &shape.tokens},
           {"orgs", &shape.orgs},
           {"users", &shape.users},
           {"snapshot-every", &shape.snapshot_every},
           {"samples", &b.samples},
           {"state-samples", &b.state_samples},
           {"passes", &b.passes},
           {"check-seqs", &b.check_seqs}}) {
    auto v = flags->GetU64(name, *field);
    if (!v.ok()) {
      std::fprintf(stderr, "replay_bench: %s\n", v.status().ToString().c_str());
      return 2;
    }
    *field = *v;
  }
  auto seconds = flags->GetDouble("seconds", 0);
  auto seed = flags->GetU64("seed", 7);
  const std::string rows = "," +
                           flags->Get("rows",
                                      "census,replay,read,explain,token,policy,state,"
                                      "impact,verify,check") +
                           ",";
  if (!seconds.ok() || !seed.ok() || !RequireAllRead(*flags).ok()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  b.seconds = *seconds;
  b.random = SplitMix(*seed);
  auto fail = [](const char* what, const Status& s) {
    std::fprintf(stderr, "replay_bench %s: %s\n", what, s.ToString().c_str());
    return 1;
  };
  const std::vector<std::pair<const char*, Status (*)(Bench&)>> all = {
      {"census", RowCensus}, {"replay", RowReplay}, {"read", RowRead},   {"explain", RowExplain},
      {"token", RowToken},   {"policy", RowPolicy}, {"state", RowState}, {"impact", RowImpact},
      {"verify", RowVerify}, {"check", RowCheck}};
  std::set<std::string> known = {"none"};
  for (const auto& [name, run] : all) known.insert(name);
  for (std::size_t at = 1; at < rows.size();) {
    const std::size_t end = rows.find(',', at);
    if (!known.count(rows.substr(at, end - at))) {
      std::fprintf(stderr, "replay_bench: unknown row '%s'\n%s", rows.substr(at, end - at).c_str(),
                   kUsage);
      return 2;
    }
    at = end + 1;
  }
  if (Status s = EnsureLog(b.dir, shape); !s.ok()) return fail("generate", s);

  storage::EventLogOptions read_only;
  read_only.read_only = true;
  read_only.create_if_missing = false;
  auto start = Clock::now();
  auto log = storage::EventLog::Open(b.dir, read_only);
  if (!log.ok()) return fail("open", log.status());
  b.log = std::move(log).value();
  auto auditor = Auditor::Open(b.dir);
  if (!auditor.ok()) return fail("open", auditor.status());
  b.auditor = std::move(auditor).value();
  std::printf("opened the log (%llu events, narrow index to %llu) and the auditor in %.2f s\n",
              static_cast<unsigned long long>(b.size()),
              static_cast<unsigned long long>(b.log->NarrowIndexThrough()), SecondsSince(start));
  start = Clock::now();
  auto last = internal::LoadState(*b.log, b.size());
  if (last.ok()) {
    b.last = std::move(last->state);
    std::printf("loaded the state at the end (snapshot at %llu) in %.2f s\n",
                static_cast<unsigned long long>(last->snapshot_seq), SecondsSince(start));
  } else {
    // A snapshot this build cannot read (its layout changed since the log was made): the
    // scoped rows need no snapshot, so fold the state from the events instead.
    std::printf("cannot load the snapshot at the end (%s); folding the log instead\n",
                last.status().ToString().c_str());
    Status folded = internal::FoldLog(*b.log, b.size(), b.last);
    if (!folded.ok()) return fail("load", folded);
  }
  for (std::size_t o = 0; o < b.last.orgs.size(); ++o) {
    if (b.last.orgs[o].members.size() > b.last.orgs[b.largest_org].members.size()) {
      b.largest_org = static_cast<std::uint32_t>(o);
    }
  }
  b.first_us = b.log->Read(1)->time_us();
  b.last_us = b.log->Read(b.size())->time_us();
  std::printf("%zu tokens, %zu users, %zu orgs; largest org %s with %zu members\n",
              b.last.tokens.records().size(), b.last.users.size(), b.last.orgs.size(),
              b.last.orgs[b.largest_org].id.c_str(), b.last.orgs[b.largest_org].members.size());

  for (const auto& [name, run] : all) {
    if (rows.find("," + std::string(name) + ",") == std::string::npos) continue;
    std::ifstream loadavg("/proc/loadavg");
    std::string one, five;
    loadavg >> one >> five;
    std::printf("== %s (load average %s %s)\n", name, one.c_str(), five.c_str());
    std::fflush(stdout);
    if (Status s = run(b); !s.ok()) return fail(name, s);
  }
  return 0;
}

}  // namespace
}  // namespace authledger::bench

int main(int argc, char** argv) {
  return authledger::bench::GuardedMain("replay_bench", authledger::bench::Main, argc, argv);
}
