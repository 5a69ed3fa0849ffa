// Scoped answers through the narrow index (organization configuration, IdP lifecycle,
// user account) against the same answers through the broad one and against full folds.
//
// Each log is made of random events appended straight to the log, not decided by the
// engine, so that it holds what the engine never writes but Evolve accepts: organizations
// named before they are created, tokens whose history starts with a personal token made
// from them, IdPs removed and added again, uses of revoked tokens, expiries falling on the
// very microsecond of later events. One thing the engine guarantees is kept: a token's
// recorded uses strictly increase (Decide drops the others), which scoped replay relies on. A copy
// of each log without the narrow index (as a build without it left it, opened read-only) is
// answered from the broad histories. Then:
//
//   Explain…   through either index == CheckTokenAgainst on the full fold, trace included,
//              for every token and organization at random moments;
//   Token…     the timelines through either index are identical, and each interval agrees
//              with the full fold at random times;
//   Policy…    PolicyAt and PolicyHistory through either index are identical and equal to
//              the policy events folded;
//   Scopes…    the narrow scope reads the broad history of an organization exactly when
//              it was named before its first configuration event, and folds fewer events;
//              the seqs a scope finds on the way are exactly those of its subjects (and
//              the token's last use, for a token extended on use); a scope without the
//              owner's organizations reads none.
#include <authledger/audit.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "engine/rules.h"
#include "engine/state.h"
#include "replay/scope.h"
#include "storage/event_log.h"
#include "storage/tamper.h"
#include "tests/support/temp_dir.h"

namespace authledger::testing {
namespace {

using internal::State;
using K = storage::SubjectKind;

constexpr std::int64_t kStartUs = 1767225600LL * 1'000'000;
constexpr std::int64_t kSecondUs = 1'000'000;
constexpr int kEvents = 360;

const std::vector<std::string> kOrgs = {"o1", "o2", "o3", "o4"};
const std::vector<std::string> kQuestionOrgs = {"o1", "o2", "o3", "o4", "o9"};
const std::vector<std::string> kUsers = {"u1", "u2", "u3", "u4", "u5"};
const std::vector<std::string> kApps = {"app1", "app2"};
const std::vector<std::string> kDomains = {"a.com", "b.com", "c.com"};
const std::vector<std::string> kIdps = {"i1", "i2", "i3"};
const std::vector<std::string> kMethods = {"password", "password", "oauth:google", "oauth:github",
                                           "saml:i1",  "saml:i2",  "saml:i3"};
// The seqs ≤ last of any of `subjects`, ascending, once each: read straight from the
// index, apart from how ScopeOfToken finds them.
std::vector<std::uint64_t> SeqsOfSubjects(const storage::EventLog& log,
                                          const std::vector<storage::Subject>& subjects,
                                          std::uint64_t last) {
  std::vector<std::uint64_t> seqs;
  for (const auto& subject : subjects) {
    Status s = log.ScanSubject(subject, 1, last, [&](std::uint64_t seq) {
      seqs.push_back(seq);
      return true;
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  std::sort(seqs.begin(), seqs.end());
  seqs.erase(std::unique(seqs.begin(), seqs.end()), seqs.end());
  return seqs;
}

const std::vector<std::string> kRanges = {"198.51.100.0/24", "10.0.0.0/8", "2001:db8::/32"};
const std::vector<std::string> kAddresses = {"198.51.100.7", "10.1.2.3", "2001:db8::1",
                                             "203.0.113.9"};
// Time steps between events, and token lifetimes: from the same values, so that expiries
// often fall exactly on a later event.
const std::vector<std::int64_t> kSteps = {0, 0, 1, 60, 600, 3600, 86400};

// Appends `kEvents` random events to a new log at `dir`.
class RandomEvents {
 public:
  RandomEvents(storage::EventLog& log, int seed) : log_(log), rng_(0x9a77000ULL + seed) {}

  void Run() {
    // An organization named (by a membership) before it is created: its narrow history
    // misses that it exists, and the scope must read its broad one.
    Emit([&](auto e) {
      auto m = e.initMemberAdded();
      m.setOrgId("o1");
      m.setUserId("u1");
    });
    // Two organizations created before anything names them: read narrowly throughout.
    for (const char* org : {"o2", "o3"}) {
      Emit([&](auto e) {
        auto c = e.initOrganizationCreated();
        c.setOrgId(org);
        RandomPolicy(c.initPolicy());
      });
    }
    while (log_.size() + pending_.size() < kEvents) {
      now_ += Pick(kSteps) * kSecondUs;
      RandomEvent();
      if (pending_.size() >= 1 + rng_() % 3) Flush();
    }
    Flush();
  }

 private:
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[std::uniform_int_distribution<std::size_t>(0, v.size() - 1)(rng_)];
  }
  std::string AnyToken() { return prefixes_.empty() || Chance(0.05) ? "t0" : Pick(prefixes_); }
  std::string AnyUser() { return Chance(0.85) ? Pick(kUsers) : Pick(kApps); }

  template <typename Fill>
  void Emit(Fill fill) {
    storage::EventDraft draft;
    auto envelope = draft.envelope();
    envelope.setTimeUs(now_);
    envelope.initActor().setKind(schema::Actor::Kind::SYSTEM);
    fill(envelope.getEvent());
    pending_.push_back(std::move(draft));
  }
  void Flush() {
    if (pending_.empty()) return;
    auto r = log_.Append(std::move(pending_));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    pending_.clear();
  }
  void RandomPolicy(schema::AuthenticationPolicy::Builder p) {
    p.setVersion(++policy_version_);
    p.setPasswordAuthEnabled(Chance(0.8));
    p.setTwoFactorRequired(Chance(0.3));
    p.setOauthEnabled(Chance(0.8));
    std::vector<std::string> providers;
    for (const char* provider : {"github", "google", "microsoft"}) {
      if (Chance(0.7)) providers.emplace_back(provider);
    }
    auto list = p.initOauthProviders(static_cast<unsigned>(providers.size()));
    for (unsigned i = 0; i < list.size(); ++i) list.set(i, providers[i]);
    p.setSamlEnabled(Chance(0.8));
    p.setSamlAllowExternal(Chance(0.5));
    p.setPersonalTokensEnabled(Chance(0.8));
    p.setPersonalTokensRequireAllowedAuthMethod(Chance(0.4));
  }
  void TokenCreated() {
    const auto kind = Pick(std::vector<schema::TokenKind>{
        schema::TokenKind::SESSION, schema::TokenKind::SESSION, schema::TokenKind::PERSONAL,
        schema::TokenKind::APPLICATION});
    std::string prefix = "t" + std::to_string(prefixes_.size() + 1);
    if (Chance(0.04) && !prefixes_.empty()) prefix = Pick(prefixes_);  // a duplicate
    std::string session;
    if (kind == schema::TokenKind::PERSONAL) {
      // Mostly a session that exists; sometimes the next token to come, so that the
      // next token's history starts with this one.
      session = Chance(0.2) || prefixes_.empty() ? "t" + std::to_string(prefixes_.size() + 2)
                                                 : Pick(prefixes_);
    }
    const std::string owner = kind == schema::TokenKind::APPLICATION ? Pick(kApps) : AnyUser();
    const std::string org = kind == schema::TokenKind::APPLICATION ? Pick(kOrgs) : "";
    const std::int64_t lifetime = std::max<std::int64_t>(1, Pick(kSteps)) * (1 + rng_() % 3);
    const int limit = static_cast<int>(rng_() % 3);
    const bool extend = Chance(0.5);
    const bool two_factor = Chance(0.5);
    std::vector<std::string> ranges;
    for (const auto& r : kRanges) {
      if (Chance(0.1)) ranges.push_back(r);
    }
    Emit([&](auto e) {
      auto t = e.initTokenCreated();
      t.setTokenPrefix(prefix);
      t.setKind(kind);
      t.setOwnerUserId(owner);
      t.setOrgId(org);
      t.setMethod(kind == schema::TokenKind::APPLICATION ? "application" : Pick(kMethods));
      t.setSessionPrefix(session);
      t.setTwoFactorUsed(two_factor);
      if (limit == 1) t.setExpiryTimeUs(now_ + lifetime * kSecondUs);
      if (limit == 2) {
        t.setMaxAgeSeconds(static_cast<std::uint32_t>(lifetime));
        t.setExtendWhenUsed(extend);
      }
      auto list = t.initIpAllowlist(static_cast<unsigned>(ranges.size()));
      for (unsigned i = 0; i < list.size(); ++i) list.set(i, ranges[i]);
    });
    if (std::find(prefixes_.begin(), prefixes_.end(), prefix) == prefixes_.end()) {
      prefixes_.push_back(prefix);
    }
  }

  void RandomEvent() {
    const std::string org = Pick(kOrgs), user = AnyUser(), idp = Pick(kIdps);
    // Weights of the cases below (the last one, token creation, is the default).
    static const std::vector<int> kWeights = {1, 1, 2, 0, 1, 1, 1, 2, 1, 2, 1, 2,
                                              3, 3, 1, 2, 1, 1, 1, 1, 1, 3, 3, 8};
    int pick = std::uniform_int_distribution<int>(0, 42)(rng_);
    std::size_t which = 0;
    while (which + 1 < kWeights.size() && pick >= kWeights[which]) pick -= kWeights[which++];
    switch (which) {
      case 0:
      case 1:
        Emit([&](auto e) {
          auto c = e.initOrganizationCreated();
          c.setOrgId(org);
          c.setName(org + " Inc");
          RandomPolicy(c.initPolicy());
        });
        break;
      case 2:
      case 3:
        Emit([&](auto e) {
          auto c = e.initPolicyChanged();
          c.setOrgId(org);
          RandomPolicy(c.initPolicy());
          c.setForced(Chance(0.3));
        });
        break;
      case 4: {
        std::vector<std::string> ranges;
        for (const auto& r : kRanges) {
          if (Chance(0.5)) ranges.push_back(r);
        }
        Emit([&](auto e) {
          auto c = e.initIpAllowlistChanged();
          c.setOrgId(org);
          c.setEnabled(Chance(0.3));
          c.setVersion(++allowlist_version_);
          auto list = c.initCidrs(static_cast<unsigned>(ranges.size()));
          for (unsigned i = 0; i < list.size(); ++i) list.set(i, ranges[i]);
        });
        break;
      }
      case 5:
        Emit([&](auto e) {
          auto d = e.initDomainVerified();
          d.setOrgId(org);
          d.setDomain(Pick(kDomains));
        });
        break;
      case 6:
        Emit([&](auto e) {
          auto d = e.initDomainUnverified();
          d.setOrgId(org);
          d.setDomain(Pick(kDomains));
        });
        break;
      case 7:
        Emit([&](auto e) {
          auto i = e.initIdpAdded();
          i.setOrgId(org);
          i.setIdpId(idp);
          i.initDomains(1).set(0, Pick(kDomains));
          i.setMaxAgeSeconds(3600);
        });
        break;
      case 8:
        Emit([&](auto e) {
          auto i = e.initIdpRemoved();
          i.setOrgId(org);
          i.setIdpId(idp);
        });
        break;
      case 9:
        Emit([&](auto e) {
          auto r = e.initUserRegistered();
          r.setUserId(user);
          r.setEmail(user + "@" + Pick(kDomains));
        });
        break;
      case 10:
        Emit([&](auto e) {
          auto d = e.initUserDeactivated();
          d.setUserId(user);
          d.setOrgId(org);
        });
        break;
      case 11:
        Emit([&](auto e) {
          auto d = e.initUserReactivated();
          d.setUserId(user);
          d.setOrgId(org);
        });
        break;
      case 12:
      case 13:
        Emit([&](auto e) {
          auto m = e.initMemberAdded();
          m.setOrgId(org);
          m.setUserId(user);
        });
        break;
      case 14:
        Emit([&](auto e) {
          auto m = e.initMemberRemoved();
          m.setOrgId(org);
          m.setUserId(user);
        });
        break;
      case 15:
        Emit([&](auto e) {
          auto a = e.initApplicationUserCreated();
          a.setOrgId(org);
          a.setUserId(Pick(kApps));
        });
        break;
      case 16:
        Emit([&](auto e) {
          auto a = e.initApplicationUserDeleted();
          a.setOrgId(org);
          a.setUserId(Pick(kApps));
        });
        break;
      case 17:
        if (Chance(0.5)) {
          Emit([&](auto e) { e.initTwoFactorEnabled().setUserId(user); });
        } else {
          Emit([&](auto e) { e.initTwoFactorDisabled().setUserId(user); });
        }
        break;
      case 18:
        Emit([&](auto e) {
          auto l = e.initLoginRejected();
          l.setUserId(user);
          l.setOrgId(org);
          l.setMethod(Pick(kMethods));
        });
        break;
      case 19:
        Emit([&](auto e) {
          auto r = e.initTokenRevoked();
          r.setTokenPrefix(AnyToken());
          r.setOwnerUserId(user);
          r.setOrgId(Chance(0.5) ? org : "");
        });
        break;
      case 20:
        Emit([&](auto e) {
          auto x = e.initUserTokensExpired();
          x.setUserId(user);
          x.setValidityBeginUs(now_);
        });
        break;
      case 21:
      case 22: {
        // Often earlier than the event's own time, but later than the token's last
        // recorded use: the engine records no other (scoped replay folds only the last).
        const std::string token = AnyToken();
        std::int64_t& last_use = last_use_[token];
        last_use = std::max(last_use + 1, now_ - Pick(kSteps) * kSecondUs);
        Emit([&](auto e) {
          auto u = e.initTokenUsed();
          u.setTokenPrefix(token);
          u.setOwnerUserId(user);
          u.setLastUsedUs(last_use);
          u.setLastIp(Pick(kAddresses));
        });
        break;
      }
      default:
        TokenCreated();
        break;
    }
  }

  storage::EventLog& log_;
  std::mt19937_64 rng_;
  std::int64_t now_ = kStartUs;
  std::uint64_t policy_version_ = 1;
  std::uint64_t allowlist_version_ = 0;
  std::vector<std::string> prefixes_;
  std::map<std::string, std::int64_t> last_use_;  // per token
  std::vector<storage::EventDraft> pending_;
};

// A random log, a copy without the narrow index, an Auditor on each, and the full fold
// at every seq.
struct Logs {
  TempDir dir;
  std::unique_ptr<storage::EventLog> log;  // the narrow one, read-only
  std::unique_ptr<storage::EventLog> broad_log;
  std::unique_ptr<Auditor> narrow;
  std::unique_ptr<Auditor> broad;
  std::vector<State> at;  // at[seq]
  std::vector<std::int64_t> time_of;
  std::set<std::string> prefixes;
  // Read from every event, apart from the index: per token, the seqs of its uses, and
  // the seq of its first creation if that makes it extended on use.
  std::map<std::string, std::vector<std::uint64_t>> uses;
  std::map<std::string, std::uint64_t> extended_from;
  std::set<std::string> created;

  // The seq of the last use ≤ last of token `prefix` if it is extended on use at `last`,
  // else 0; `extended` says whether it is.
  std::uint64_t LastUse(const std::string& prefix, std::uint64_t last, bool& extended) const {
    auto from = extended_from.find(prefix);
    extended = from != extended_from.end() && from->second <= last;
    auto u = uses.find(prefix);
    if (!extended || u == uses.end()) return 0;
    auto after = std::upper_bound(u->second.begin(), u->second.end(), last);
    return after == u->second.begin() ? 0 : *std::prev(after);
  }

  std::uint64_t size() const { return at.size() - 1; }
  std::uint64_t SeqAtTime(std::int64_t t) const {
    return static_cast<std::uint64_t>(std::upper_bound(time_of.begin() + 1, time_of.end(), t) -
                                      time_of.begin() - 1);
  }
};

std::unique_ptr<Logs> MakeLogs(int seed) {
  auto logs = std::make_unique<Logs>();
  const std::string narrow_dir = logs->dir.Sub("narrow"), broad_dir = logs->dir.Sub("broad");
  {
    auto log = storage::EventLog::Open(narrow_dir, {});
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    if (!log.ok()) return nullptr;
    RandomEvents(**log, seed).Run();
    if (::testing::Test::HasFatalFailure()) return nullptr;
  }
  std::error_code ec;
  std::filesystem::copy(narrow_dir, broad_dir, std::filesystem::copy_options::recursive, ec);
  EXPECT_FALSE(ec) << ec.message();
  Status removed = storage::tamper::RemoveNarrowIndex(broad_dir, 0);
  EXPECT_TRUE(removed.ok()) << removed.ToString();
  storage::EventLogOptions read_only;
  read_only.read_only = true;
  read_only.create_if_missing = false;
  auto log = storage::EventLog::Open(narrow_dir, read_only);
  auto broad_log = storage::EventLog::Open(broad_dir, read_only);
  auto narrow = Auditor::Open(narrow_dir);
  auto broad = Auditor::Open(broad_dir);
  EXPECT_TRUE(log.ok() && broad_log.ok() && narrow.ok() && broad.ok());
  if (!log.ok() || !broad_log.ok() || !narrow.ok() || !broad.ok()) return nullptr;
  logs->log = std::move(log).value();
  logs->broad_log = std::move(broad_log).value();
  logs->narrow = std::move(narrow).value();
  logs->broad = std::move(broad).value();
  logs->at.emplace_back();
  logs->time_of.push_back(0);
  Status scanned = logs->log->Scan(1, logs->log->size(), [&](const storage::DecodedEvent& e) {
    State next = logs->at.back();
    internal::Evolve(next, e.envelope());
    auto event = e.envelope().getEvent();
    if (event.isTokenUsed()) {
      logs->uses[event.getTokenUsed().getTokenPrefix().cStr()].push_back(e.seq());
    }
    if (event.isTokenCreated()) {
      auto c = event.getTokenCreated();
      const std::string prefix = c.getTokenPrefix().cStr();
      const bool first = logs->created.insert(prefix).second;
      if (first && c.getExtendWhenUsed() && c.getMaxAgeSeconds() != 0) {
        logs->extended_from[prefix] = e.seq();
      }
    }
    logs->at.push_back(std::move(next));
    logs->time_of.push_back(e.time_us());
    return true;
  });
  EXPECT_TRUE(scanned.ok()) << scanned.ToString();
  for (const auto& t : logs->at.back().tokens.records()) logs->prefixes.insert(t.prefix.str());
  return logs;
}

std::string Show(const Explanation& e) {
  std::ostringstream out;
  const Decision& d = e.decision;
  out << (d.allowed ? "allowed " : "denied ") << d.rule << " " << d.reason << " token "
      << d.token_prefix << " user " << d.user_id << " org " << d.org_id << " rev " << d.revision
      << " [";
  for (const auto& step : e.trace) {
    out << step.condition << (step.passed ? " ok" : " FAILED") << " (" << step.detail << "); ";
  }
  return out.str() + "]";
}

std::string Show(const TokenReport& r) {
  std::ostringstream out;
  out << r.token_prefix << " " << r.kind << " owner " << r.owner_user_id << " org " << r.org_id
      << " method " << r.method << " session " << r.session_prefix << " created " << r.created_seq
      << "/" << r.created_us << " by " << r.created_by_kind << ":" << r.created_by_id << " expiry "
      << r.expiry_time_us << " max_age " << r.max_age_seconds
      << (r.extend_when_used ? " extend" : "") << " ips";
  for (const auto& ip : r.ip_allowlist) out << " " << ip;
  out << " uses " << r.uses << " last " << r.last_used_us << " " << r.last_ip << " revoked "
      << r.revoked << " " << r.revoked_seq << "/" << r.revoked_us << " " << r.revocation_reason
      << " cause " << r.revocation_cause << " " << r.revocation_cause_type << "\n";
  for (const auto& i : r.intervals) {
    out << "  " << i.org_id << " " << (i.allowed ? "allowed " : "denied ") << i.reason << " ["
        << i.from_seq << "/" << i.from_us << " " << i.opened_by << ", " << i.to_seq << "/"
        << i.to_us << " " << i.closed_by << ")\n";
  }
  return out.str();
}

std::string Show(const Result<AuthenticationPolicy>& p) {
  if (!p.ok()) return p.status().ToString();
  std::ostringstream out;
  out << "v" << p->version << " pw " << p->password_auth_enabled << " 2fa "
      << p->two_factor_required << " oauth " << p->oauth_enabled << " saml " << p->saml_enabled
      << " ext " << p->saml_allow_external << " personal " << p->personal_tokens_enabled
      << " require " << p->personal_tokens_require_allowed_auth_method << " providers";
  for (const auto& provider : p->oauth_providers) out << " " << provider;
  return out.str();
}

// How much the properties exercised (printed at the end, so that a weak generator shows).
struct Totals {
  long explains = 0, explains_allowed = 0, timelines = 0, point_checks = 0, point_allowed = 0,
       policies = 0, broad_org_histories = 0, narrow_org_histories = 0, last_uses = 0,
       unused_extended = 0;
  std::uint64_t narrow_events = 0, broad_events = 0;
};
Totals totals;

class NarrowIndex : public ::testing::TestWithParam<int> {
 public:
  static void TearDownTestSuite() {
    std::printf(
        "[narrow index] %ld explains (%ld allowed), %ld timelines, %ld point checks (%ld "
        "allowed), %ld policies; organizations read broadly %ld times, narrowly %ld; token "
        "scopes fold %llu events narrowly, %llu broadly; tokens extended on use scoped with "
        "their last use %ld times, unused %ld\n",
        totals.explains, totals.explains_allowed, totals.timelines, totals.point_checks,
        totals.point_allowed, totals.policies, totals.broad_org_histories,
        totals.narrow_org_histories, static_cast<unsigned long long>(totals.narrow_events),
        static_cast<unsigned long long>(totals.broad_events), totals.last_uses,
        totals.unused_extended);
    Cache().clear();
  }

 protected:
  // The logs of each seed, made once for the suite's tests.
  static std::map<int, std::unique_ptr<Logs>>& Cache() {
    static std::map<int, std::unique_ptr<Logs>> cache;
    return cache;
  }

  void SetUp() override {
    auto& cached = Cache()[GetParam()];
    if (!cached) cached = MakeLogs(GetParam());
    logs_ = cached.get();
    ASSERT_NE(logs_, nullptr);
    ASSERT_FALSE(HasFailure());
    ASSERT_EQ(logs_->size(), static_cast<std::uint64_t>(kEvents));
    ASSERT_EQ(logs_->log->NarrowIndexThrough(), logs_->size());
    ASSERT_EQ(logs_->broad_log->NarrowIndexThrough(), 0u);
    rng_.seed(0x5eed00ULL + static_cast<std::uint64_t>(GetParam()));
  }
  std::uint64_t AnySeq() {
    return std::uniform_int_distribution<std::uint64_t>(1, logs_->size())(rng_);
  }
  std::int64_t AnyTime(std::int64_t from, std::int64_t to) {
    return std::uniform_int_distribution<std::int64_t>(from, to)(rng_);
  }
  // Stops a test after a handful of failures, each with the seed.
  bool Failed(const std::string& what) {
    if (++failures_ <= 8) ADD_FAILURE() << what << "\n  seed " << GetParam();
    return failures_ >= 8;
  }

  const Logs* logs_ = nullptr;
  std::mt19937_64 rng_;
  int failures_ = 0;
};

TEST_P(NarrowIndex, ExplainThroughEitherIndexEqualsTheFullFoldAtRandomMoments) {
  const Logs& l = *logs_;
  std::vector<std::uint64_t> seqs = {l.size()};
  for (int i = 0; i < 6; ++i) seqs.push_back(AnySeq());
  int allowed = 0, compared = 0;
  for (std::uint64_t seq : seqs) {
    const State& full = l.at[seq];
    const std::int64_t time =
        l.time_of[seq] +
        (std::bernoulli_distribution(0.5)(rng_) ? kSteps[rng_() % kSteps.size()] * kSecondUs : 0);
    // Every token of the moment, one created later (if any) and one never created.
    std::vector<std::string> prefixes = {"t0"};
    for (const auto& t : full.tokens.records()) prefixes.push_back(t.prefix.str());
    for (const auto& p : l.prefixes) {
      if (full.FindToken(p) == nullptr) {
        prefixes.push_back(p);
        break;
      }
    }
    for (const auto& prefix : prefixes) {
      for (const auto& org : kQuestionOrgs) {
        {
          const std::string ip = rng_() % 2 ? "" : kAddresses[rng_() % kAddresses.size()];
          internal::CheckOptions options;
          options.check_ip = !ip.empty();
          Explanation want;
          want.decision = internal::CheckTokenAgainst(full, full.FindToken(prefix), org, {time, ip},
                                                      &want.trace, options);
          if (want.decision.token_prefix.empty()) want.decision.token_prefix = prefix;
          auto narrow = l.narrow->Explain(prefix, org, Moment::AtSeq(seq), time, ip);
          auto broad = l.broad->Explain(prefix, org, Moment::AtSeq(seq), time, ip);
          ASSERT_TRUE(narrow.ok()) << narrow.status().ToString();
          ASSERT_TRUE(broad.ok()) << broad.status().ToString();
          ++compared;
          allowed += want.decision.allowed;
          if (Show(*narrow) != Show(want) || Show(*broad) != Show(want)) {
            if (Failed("Explain(" + prefix + ", " + org + ", seq " + std::to_string(seq) +
                       ", ip '" + ip + "'):\n  full fold " + Show(want) + "\n  narrow    " +
                       Show(*narrow) + "\n  broad     " + Show(*broad))) {
              return;
            }
          }
        }
      }
    }
  }
  totals.explains += compared;
  totals.explains_allowed += allowed;
  EXPECT_GT(compared, 1000);
  EXPECT_GT(allowed, 0) << "no decision was allowed: the generator tests too little";
}

TEST_P(NarrowIndex, TokenTimelinesThroughEitherIndexAreIdenticalAndAgreeWithTheFullFold) {
  const Logs& l = *logs_;
  int point_checks = 0, allowed = 0;
  for (const auto& prefix : l.prefixes) {
    const std::string ip = rng_() % 2 ? "" : kAddresses[rng_() % kAddresses.size()];
    auto narrow = l.narrow->Token(prefix, ip);
    auto broad = l.broad->Token(prefix, ip);
    ASSERT_TRUE(narrow.ok()) << narrow.status().ToString();
    ASSERT_TRUE(broad.ok()) << broad.status().ToString();
    if (Show(*narrow) != Show(*broad)) {
      if (Failed("Token(" + prefix + ", '" + ip + "'):\n narrow " + Show(*narrow) + " broad  " +
                 Show(*broad))) {
        return;
      }
    }
    // The interval holding each random time (the last one begun by then) has the full
    // fold's decision at that time.
    internal::CheckOptions options;
    options.check_ip = !ip.empty();
    for (int i = 0; i < 12; ++i) {
      // Up to the end of the log, which is as far as a timeline goes.
      const std::int64_t t = AnyTime(narrow->created_us, l.time_of.back());
      const State& full = l.at[l.SeqAtTime(t)];
      const std::set<std::string> orgs = [&] {
        std::set<std::string> out;
        for (const auto& interval : narrow->intervals) out.insert(interval.org_id);
        return out;
      }();
      for (const auto& org : orgs) {
        const Decision want = internal::CheckTokenAgainst(full, full.FindToken(prefix), org,
                                                          {t, ip}, nullptr, options);
        const AccessInterval* in = nullptr;
        for (const auto& interval : narrow->intervals) {
          if (interval.org_id == org && interval.from_us <= t) in = &interval;
        }
        ++point_checks;
        allowed += want.allowed;
        const bool same = in == nullptr ? !want.allowed : in->reason == want.reason;
        if (!same &&
            Failed("Token(" + prefix + ", '" + ip + "') at " + org + ", time " + std::to_string(t) +
                   ": the full fold says " + want.reason + ", the timeline " +
                   (in ? in->reason : "nothing") + "\n" + Show(*narrow))) {
          return;
        }
      }
    }
  }
  totals.timelines += static_cast<long>(l.prefixes.size());
  totals.point_checks += point_checks;
  totals.point_allowed += allowed;
  EXPECT_GT(point_checks, 200);
  EXPECT_GT(allowed, 0);
}

TEST_P(NarrowIndex, PolicyThroughEitherIndexIsThePolicyEventsFolded) {
  const Logs& l = *logs_;
  // The policy events folded, by organization, at each seq.
  std::map<std::string, std::optional<AuthenticationPolicy>> folded;
  std::vector<std::map<std::string, std::optional<AuthenticationPolicy>>> policy_at = {folded};
  Status s = l.log->Scan(1, l.size(), [&](const storage::DecodedEvent& e) {
    auto event = e.envelope().getEvent();
    if (event.isOrganizationCreated()) {
      auto c = event.getOrganizationCreated();
      folded[c.getOrgId().cStr()] = internal::PolicyFromSchema(c.getPolicy());
    } else if (event.isPolicyChanged()) {
      auto c = event.getPolicyChanged();
      folded[c.getOrgId().cStr()] = internal::PolicyFromSchema(c.getPolicy());
    }
    policy_at.push_back(folded);
    return true;
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::vector<std::uint64_t> seqs = {0, l.size()};
  for (int i = 0; i < 30; ++i) seqs.push_back(AnySeq());
  for (std::uint64_t seq : seqs) {
    for (const auto& org : kQuestionOrgs) {
      auto narrow = l.narrow->PolicyAt(org, Moment::AtSeq(seq));
      auto broad = l.broad->PolicyAt(org, Moment::AtSeq(seq));
      ++totals.policies;
      const auto& want = policy_at[seq][org];
      const bool same = want ? narrow.ok() && *narrow == *want : !narrow.ok();
      if ((!same || Show(narrow) != Show(broad)) &&
          Failed("PolicyAt(" + org + ", seq " + std::to_string(seq) + "): folded " +
                 (want ? Show(*want) : "none") + ", narrow " + Show(narrow) + ", broad " +
                 Show(broad))) {
        return;
      }
    }
  }
  for (const auto& org : kQuestionOrgs) {
    auto narrow = l.narrow->PolicyHistory(org);
    auto broad = l.broad->PolicyHistory(org);
    ASSERT_EQ(narrow.ok(), broad.ok()) << org;
    if (!narrow.ok()) continue;
    ASSERT_EQ(narrow->size(), broad->size()) << org;
    for (std::size_t i = 0; i < narrow->size(); ++i) {
      const auto& a = (*narrow)[i];
      const auto& b = (*broad)[i];
      EXPECT_TRUE(a.seq == b.seq && a.time_us == b.time_us && a.policy == b.policy &&
                  a.forced == b.forced && a.changes == b.changes)
          << "PolicyHistory(" << org << ") version " << i << ", seed " << GetParam();
    }
  }
}

TEST_P(NarrowIndex,
       ScopesReadBroadOrganizationHistoriesOnlyForOrganizationsNamedBeforeTheirConfiguration) {
  const Logs& l = *logs_;
  int broad_orgs = 0, narrow_orgs = 0;
  long last_uses = 0, unused_extended = 0;
  std::uint64_t narrow_events = 0, broad_events = 0;
  for (std::uint64_t seq = 1; seq <= l.size(); seq += 7) {
    for (const auto& org : kOrgs) {
      auto history = replay::OrgHistory(*l.log, org, seq, replay::Histories::kNarrow);
      ASSERT_TRUE(history.ok()) << history.status().ToString();
      // Named before its first configuration event (or before any): the first event of
      // its broad history is not one of its configuration.
      std::uint64_t first_named = 0, first_config = 0;
      ASSERT_TRUE(l.log
                      ->ScanSubject({K::kOrganization, org}, 1, seq,
                                    [&](std::uint64_t s) {
                                      first_named = s;
                                      return false;
                                    })
                      .ok());
      ASSERT_TRUE(l.log
                      ->ScanSubject({K::kOrganizationConfig, org}, 1, seq,
                                    [&](std::uint64_t s) {
                                      first_config = s;
                                      return false;
                                    })
                      .ok());
      const bool named_first = first_named != 0 && first_named != first_config;
      EXPECT_EQ(history->kind, named_first ? K::kOrganization : K::kOrganizationConfig)
          << org << " at seq " << seq << ", seed " << GetParam();
      ++(named_first ? broad_orgs : narrow_orgs);
    }
    for (const auto& prefix : l.prefixes) {
      for (auto histories : {replay::Histories::kNarrow, replay::Histories::kBroad}) {
        replay::EventCache events(*l.log);
        auto scope = replay::ScopeOfToken(events, *l.log, prefix, {}, seq, histories,
                                          replay::TokenEvents::kDecisive, replay::OwnerOrgs::kAll);
        ASSERT_TRUE(scope.ok()) << scope.status().ToString();
        // The seqs found on the way are those of the subjects found, and the token's
        // last use if it is extended on use and read narrowly.
        auto seqs = SeqsOfSubjects(*l.log, scope->subjects, seq);
        bool extended = false;
        const std::uint64_t last_use = l.LastUse(prefix, seq, extended);
        if (histories == replay::Histories::kNarrow && extended) {
          EXPECT_EQ(scope->last_use, last_use) << prefix << " at seq " << seq;
          if (last_use != 0)
            seqs.insert(std::lower_bound(seqs.begin(), seqs.end(), last_use), last_use);
          seqs.erase(std::unique(seqs.begin(), seqs.end()), seqs.end());
          ++(last_use != 0 ? last_uses : unused_extended);
          // Its expiry moves with its greatest use: the scope's fold has the full one's.
          auto folded = replay::FoldSeqs(events, scope->seqs, seq);
          ASSERT_TRUE(folded.ok()) << folded.status().ToString();
          const auto* want = l.at[seq].FindToken(prefix);
          const auto* got = folded->FindToken(prefix);
          ASSERT_EQ(got == nullptr, want == nullptr) << prefix << " at seq " << seq;
          if (want != nullptr) {
            EXPECT_EQ(got->last_used_us, want->last_used_us) << prefix << " at seq " << seq;
          }
        } else {
          EXPECT_EQ(scope->last_use, 0u) << prefix << " at seq " << seq;
        }
        EXPECT_EQ(scope->seqs, seqs) << prefix << " at seq " << seq;
        (histories == replay::Histories::kNarrow ? narrow_events : broad_events) += seqs.size();
        // Without the owner's organizations, a question about none reads no organization.
        auto bare = replay::ScopeOfToken(events, *l.log, prefix, {}, seq, histories,
                                         replay::TokenEvents::kDecisive, replay::OwnerOrgs::kNone);
        ASSERT_TRUE(bare.ok()) << bare.status().ToString();
        EXPECT_EQ(bare->orgs_ever, scope->orgs_ever) << prefix << " at seq " << seq;
        for (const auto& subject : bare->subjects) {
          EXPECT_TRUE(subject.kind != K::kOrganization && subject.kind != K::kOrganizationConfig)
              << prefix << " at seq " << seq << " reads organization " << subject.id;
        }
      }
    }
  }
  // "o1" is named by the log's first event, a membership: it is read broadly until it
  // is created, and at least one organization is read narrowly.
  EXPECT_GT(broad_orgs, 0);
  EXPECT_GT(narrow_orgs, 0);
  // Tokens extended on use were scoped with a last use.
  EXPECT_GT(last_uses, 0);
  totals.last_uses += last_uses;
  totals.unused_extended += unused_extended;
  totals.broad_org_histories += broad_orgs;
  totals.narrow_org_histories += narrow_orgs;
  totals.narrow_events += narrow_events;
  totals.broad_events += broad_events;
  EXPECT_LT(narrow_events, broad_events);
}

INSTANTIATE_TEST_SUITE_P(Seeds, NarrowIndex, ::testing::Values(1, 2, 3, 4, 5));

}  // namespace
}  // namespace authledger::testing
