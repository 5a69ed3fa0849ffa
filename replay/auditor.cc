// The Auditor: replay and audit queries over a log opened read-only.
#include <authledger/audit.h>

#include <algorithm>
#include <limits>
#include <map>
#include <set>

#include "engine/decide.h"
#include "engine/rules.h"
#include "engine/state_store.h"
#include "replay/describe.h"
#include "replay/event_json.h"
#include "replay/scope.h"
#include "storage/event_log.h"
#include "storage/subjects.h"

namespace authledger {
namespace replay {
namespace {

using internal::Idx;
using internal::kNoIdx;
using internal::State;
using internal::TokenRecord;
using storage::Subject;
using K = storage::SubjectKind;

std::string Str(capnp::Text::Reader t) { return {t.begin(), t.size()}; }

std::string RevocationReasonName(schema::RevocationReason r) {
  switch (r) {
    case schema::RevocationReason::REVOKED_BY_OWNER:
      return "revoked_by_owner";
    case schema::RevocationReason::REVOKED_BY_ADMIN:
      return "revoked_by_admin";
    case schema::RevocationReason::LOGOUT:
      return "logout";
    case schema::RevocationReason::TWO_FACTOR_CHANGED:
      return "two_factor_changed";
    case schema::RevocationReason::APPLICATION_USER_DELETED:
      return "application_user_deleted";
  }
  return "unknown";
}

internal::CheckOptions IpOptions(const std::string& ip) {
  internal::CheckOptions o;
  o.check_ip = !ip.empty();
  return o;
}

// A decision reduced to what an access interval distinguishes.
struct Verdict {
  bool allowed = false;
  std::string reason;
  friend bool operator==(const Verdict&, const Verdict&) = default;
};

class AuditorImpl final : public Auditor {
 public:
  AuditorImpl(std::unique_ptr<storage::EventLog> log, AuditOptions options)
      : log_(std::move(log)), options_(std::move(options)) {}

  std::uint64_t size() const override { return log_->size(); }

  Result<std::uint64_t> SeqOf(const Moment& at) const override {
    if (at.seq) {
      if (*at.seq > size()) {
        return Status::InvalidArgument("seq_out_of_range", "seq " + std::to_string(*at.seq) +
                                                               " is past the end of the log (" +
                                                               std::to_string(size()) + ")");
      }
      return *at.seq;
    }
    if (at.time_us) {
      if (*at.time_us == std::numeric_limits<std::int64_t>::max()) return size();
      auto first_after = log_->FirstSeqAtOrAfter(*at.time_us + 1);
      if (!first_after.ok()) return first_after.status();
      return *first_after - 1;
    }
    return size();
  }

  // The time checks at `at` are evaluated at: the moment's own time, else its event's.
  Result<std::int64_t> TimeOf(const Moment& at, std::uint64_t seq) const {
    if (at.time_us) return *at.time_us;
    if (seq == 0) return std::int64_t{0};
    auto e = log_->Read(seq);
    if (!e.ok()) return e.status();
    return e->time_us();
  }

  Result<StateSummary> StateAt(const Moment& at) const override {
    auto seq = SeqOf(at);
    if (!seq.ok()) return seq.status();
    auto time = TimeOf(at, *seq);
    if (!time.ok()) return time.status();
    auto loaded = internal::LoadState(*log_, *seq);
    if (!loaded.ok()) return loaded.status();
    const State& s = loaded->state;
    StateSummary out;
    out.seq = *seq;
    out.time_us = *time;
    std::map<Idx, std::vector<std::string>> managed;
    for (const auto& u : s.users) {
      ++out.users;
      if (u.active) ++out.active_users;
      if (const auto* m = s.ManagingOrg(u)) {
        managed[static_cast<Idx>(m - s.orgs.data())].push_back(u.id);
      }
    }
    for (std::size_t i = 0; i < s.orgs.size(); ++i) {
      const auto& o = s.orgs[i];
      StateSummary::Org org;
      org.id = o.id;
      org.name = o.name;
      org.policy = o.policy;
      org.allowlist = o.allowlist;
      org.domains.assign(o.domains.begin(), o.domains.end());
      org.idps.assign(o.idps.begin(), o.idps.end());
      for (Idx m : o.members) org.members.push_back(s.users[m].id);
      for (Idx m : o.application_users) org.application_users.push_back(s.users[m].id);
      org.managed_users = managed[static_cast<Idx>(i)];
      out.orgs.push_back(std::move(org));
    }
    std::sort(out.orgs.begin(), out.orgs.end(),
              [](const auto& a, const auto& b) { return a.id < b.id; });
    for (const auto& t : s.tokens.records()) {
      ++out.tokens;
      if (t.revoked) ++out.revoked_tokens;
      if (internal::TokenLive(s, t, *time) == internal::kOk) ++out.live_tokens;
    }
    return out;
  }

  Status Step(std::uint64_t from, std::uint64_t to,
              const std::function<bool(const StepEntry&)>& fn) const override {
    if (from == 0) from = 1;
    if (to == 0 || to > size()) to = size();
    if (from > to) return Status::Ok();
    auto loaded = internal::LoadState(*log_, from - 1);
    if (!loaded.ok()) return loaded.status();
    State& s = loaded->state;
    return log_->Scan(from, to, [&](const storage::DecodedEvent& e) {
      const auto subjects = storage::SubjectsOf(e.envelope());
      const auto before = DescribeSubjects(s, subjects);
      internal::Evolve(s, e.envelope());
      const auto after = DescribeSubjects(s, subjects);
      StepEntry entry;
      entry.event = ToAuditEvent(e.envelope());
      std::set<std::string> names;
      for (const auto& [k, v] : before) names.insert(k);
      for (const auto& [k, v] : after) names.insert(k);
      for (const auto& name : names) {
        auto b = before.find(name);
        auto a = after.find(name);
        DiffFields(name, b == before.end() ? nullptr : &b->second,
                   a == after.end() ? nullptr : &a->second, entry.changes);
      }
      if (options_.progress) options_.progress(e.seq() - from + 1, to - from + 1);
      return fn(entry);
    });
  }

  Result<std::vector<FieldChange>> Diff(const Moment& a, const Moment& b) const override {
    auto sa = SeqOf(a);
    if (!sa.ok()) return sa.status();
    auto sb = SeqOf(b);
    if (!sb.ok()) return sb.status();
    auto la = internal::LoadState(*log_, *sa);
    if (!la.ok()) return la.status();
    auto lb = internal::LoadState(*log_, *sb);
    if (!lb.ok()) return lb.status();
    auto ta = TimeOf(a, *sa);
    if (!ta.ok()) return ta.status();
    auto tb = TimeOf(b, *sb);
    if (!tb.ok()) return tb.status();
    std::vector<FieldChange> changes = DiffStates(la->state, lb->state);
    // And every decision that differs: each token at each organization it faces in
    // either state, evaluated at each moment's time (IP allowlists aside).
    std::set<std::pair<std::string, std::string>> pairs;  // (org, prefix)
    for (const State* s : {&la->state, &lb->state}) {
      for (const auto& org : s->orgs) {
        for (const TokenRecord* t : internal::TokensFacing(*s, org.id)) {
          pairs.insert({org.id, t->prefix.str()});
        }
      }
    }
    internal::CheckOptions no_ip;
    no_ip.check_ip = false;
    auto text = [](const Decision& d) {
      return d.allowed ? std::string("allowed") : "denied (" + d.reason + ")";
    };
    for (const auto& [org, prefix] : pairs) {
      Decision da = internal::CheckTokenAgainst(la->state, la->state.FindToken(prefix), org,
                                                {*ta, {}}, nullptr, no_ip);
      Decision db = internal::CheckTokenAgainst(lb->state, lb->state.FindToken(prefix), org,
                                                {*tb, {}}, nullptr, no_ip);
      if (da.allowed == db.allowed && da.reason == db.reason) continue;
      changes.push_back({"token " + prefix, "decision@" + org, text(da), text(db)});
    }
    return changes;
  }

  // Calls `fn(seq, envelope, policy, forced)` for each event ≤ last that sets the policy
  // of `org_id` (its creation, then each change), in order.
  template <typename Fn>
  Status ForEachPolicy(const std::string& org_id, std::uint64_t last, Fn fn) const {
    Status failed;
    Status s = log_->ScanSubject(PolicyEventsOf(org_id, last), 1, last, [&](std::uint64_t seq) {
      auto e = log_->Read(seq);
      if (!e.ok()) {
        failed = e.status();
        return false;
      }
      auto env = e->envelope();
      auto event = env.getEvent();
      if (event.isOrganizationCreated()) {
        fn(seq, env, internal::PolicyFromSchema(event.getOrganizationCreated().getPolicy()), false);
      } else if (event.isPolicyChanged()) {
        auto changed = event.getPolicyChanged();
        fn(seq, env, internal::PolicyFromSchema(changed.getPolicy()), changed.getForced());
      }
      return true;
    });
    if (!s.ok()) return s;
    return failed;
  }

  Result<std::vector<PolicyVersion>> PolicyHistory(const std::string& org_id, std::int64_t from_us,
                                                   std::int64_t to_us) const override {
    std::vector<PolicyVersion> versions;
    AuthenticationPolicy previous;
    bool exists = false;
    Status s = ForEachPolicy(
        org_id, size(),
        [&](std::uint64_t seq, schema::Envelope::Reader env, AuthenticationPolicy policy,
            bool forced) {
          exists = true;
          PolicyVersion v;
          v.policy = std::move(policy);
          v.forced = forced;
          v.seq = seq;
          v.time_us = env.getTimeUs();
          v.actor_kind = ActorKindName(env.getActor().getKind());
          v.actor_id = Str(env.getActor().getId());
          v.changes = PolicyChanges("organization " + org_id, previous, v.policy);
          previous = v.policy;
          if ((from_us == 0 || v.time_us >= from_us) && (to_us == 0 || v.time_us <= to_us)) {
            versions.push_back(std::move(v));
          }
        });
    if (!s.ok()) return s;
    if (!exists) return UnknownOrg(org_id);
    return versions;
  }

  Result<AuthenticationPolicy> PolicyAt(const std::string& org_id,
                                        const Moment& at) const override {
    auto seq = SeqOf(at);
    if (!seq.ok()) return seq.status();
    std::optional<AuthenticationPolicy> last;
    Status s = ForEachPolicy(org_id, *seq,
                             [&](std::uint64_t, schema::Envelope::Reader,
                                 AuthenticationPolicy policy, bool) { last = std::move(policy); });
    if (!s.ok()) return s;
    if (!last) return UnknownOrg(org_id, *seq);
    return *last;
  }

  Result<Explanation> Explain(const std::string& token_prefix, const std::string& org_id,
                              const Moment& at, std::optional<std::int64_t> time_us,
                              const std::string& ip) const override {
    auto seq = SeqOf(at);
    if (!seq.ok()) return seq.status();
    auto time = time_us ? Result<std::int64_t>(*time_us) : TimeOf(at, *seq);
    if (!time.ok()) return time.status();
    EventCache events(*log_);
    auto scope = ScopeOfToken(events, *log_, token_prefix, {org_id}, *seq,
                              HistoriesFor(*log_, *seq), TokenEvents::kDecisive, OwnerOrgs::kNone);
    if (!scope.ok()) return scope.status();
    auto state = FoldSeqs(events, scope->seqs, *seq);
    if (!state.ok()) return state.status();
    Explanation e;
    e.decision = internal::CheckTokenAgainst(*state, state->FindToken(token_prefix), org_id,
                                             {*time, ip}, &e.trace, IpOptions(ip));
    if (e.decision.token_prefix.empty()) e.decision.token_prefix = token_prefix;
    return e;
  }

  Result<TokenReport> Token(const std::string& token_prefix, const std::string& ip) const override {
    const std::uint64_t last = size();
    EventCache events(*log_);
    auto scope = ScopeOfToken(events, *log_, token_prefix, {}, last, HistoriesFor(*log_, last),
                              TokenEvents::kAll, OwnerOrgs::kAll);
    if (!scope.ok()) return scope.status();
    if (!scope->found) {
      return Status::NotFound("unknown_token", "no token " + token_prefix + " in the log");
    }
    std::vector<std::string> orgs(scope->orgs_ever.begin(), scope->orgs_ever.end());
    if (!scope->application_org.empty() &&
        std::find(orgs.begin(), orgs.end(), scope->application_org) == orgs.end()) {
      orgs.push_back(scope->application_org);
    }

    TokenReport report;
    report.token_prefix = token_prefix;
    const auto options = IpOptions(ip);
    State s;
    std::map<std::string, std::vector<AccessInterval>> intervals;  // by org
    std::map<std::string, Verdict> current;
    std::int64_t state_time = 0;

    auto verdict = [&](const std::string& org, std::int64_t at) {
      Decision d = internal::CheckTokenAgainst(s, s.FindToken(token_prefix), org, {at, ip}, nullptr,
                                               options);
      return Verdict{d.allowed, d.reason};
    };
    auto open = [&](const std::string& org, const Verdict& v, std::uint64_t seq, std::int64_t at,
                    const std::string& why) {
      auto& list = intervals[org];
      if (!list.empty()) {
        list.back().to_seq = seq;
        list.back().to_us = at;
        list.back().closed_by = why;
      }
      AccessInterval interval;
      interval.org_id = org;
      interval.allowed = v.allowed;
      interval.reason = v.reason;
      interval.from_seq = seq;
      interval.from_us = at;
      interval.opened_by = why;
      list.push_back(std::move(interval));
      current[org] = v;
    };
    // Decisions change between events only through time (expiry, maximum age), which
    // moves each condition one way; find each such moment in (state_time, until] by
    // bisection, on the state before the event at `until`. A change at the very time of
    // the next event is thus the time's unless that event makes one itself, whichever
    // events the fold holds besides those that change the decision.
    auto advance_time = [&](std::int64_t until) {
      if (!s.FindToken(token_prefix)) return;
      for (const auto& org : orgs) {
        if (!current.count(org)) continue;
        std::int64_t from = state_time;
        while (from < until && !(verdict(org, until) == current[org])) {
          std::int64_t lo = from, hi = until;  // verdict(lo) == current, verdict(hi) != current
          while (hi - lo > 1) {
            std::int64_t mid = lo + (hi - lo) / 2;
            if (verdict(org, mid) == current[org]) {
              lo = mid;
            } else {
              hi = mid;
            }
          }
          open(org, verdict(org, hi), 0, hi, "time");
          from = hi;
        }
      }
    };

    for (std::uint64_t seq : scope->seqs) {
      auto e = events.Read(seq);
      if (!e.ok()) return e.status();
      auto env = (*e)->envelope();
      advance_time(env.getTimeUs());
      internal::Evolve(s, env);
      s.revision = seq;
      state_time = env.getTimeUs();
      NoteTokenEvent(env, token_prefix, report);
      const TokenRecord* t = s.FindToken(token_prefix);
      if (t == nullptr) continue;
      for (const auto& org : orgs) {
        if (s.OrgIdx(org) == kNoIdx) continue;
        Verdict v = verdict(org, state_time);
        auto it = current.find(org);
        if (it == current.end() || !(it->second == v))
          open(org, v, seq, state_time, EventTypeName(env));
      }
    }
    // Up to the end of the log.
    if (last > 0) {
      auto end = log_->Read(last);
      if (!end.ok()) return end.status();
      if (end->time_us() > state_time) advance_time(end->time_us());
    }

    const TokenRecord* t = s.FindToken(token_prefix);
    if (t != nullptr) {
      report.kind = TokenKindName(t->kind);
      report.owner_user_id = s.OwnerOf(*t).id;
      if (t->org != kNoIdx) report.org_id = s.orgs[t->org].id;
      report.method = std::string(s.Method(*t));
      report.expiry_time_us = t->expiry_time_us;
      report.max_age_seconds = t->max_age_seconds;
      report.extend_when_used = t->extend_when_used;
      for (const auto& c : s.IpList(*t)) report.ip_allowlist.push_back(c.ToString());
    }
    for (auto& [org, list] : intervals) {
      for (auto& interval : list) report.intervals.push_back(std::move(interval));
    }
    return report;
  }

  Result<std::vector<ImpactEntry>> Impact(std::uint64_t seq) const override {
    if (seq == 0 || seq > size()) {
      return Status::InvalidArgument(
          "seq_out_of_range",
          "no event " + std::to_string(seq) + " in a log of " + std::to_string(size()) + " events");
    }
    auto loaded = internal::LoadState(*log_, seq - 1);
    if (!loaded.ok()) return loaded.status();
    auto event = log_->Read(seq);
    if (!event.ok()) return event.status();
    const State& before = loaded->state;
    State after = before;
    internal::Evolve(after, event->envelope());
    return ImpactBetween(before, after, event->envelope());
  }

  Result<PolicyChange> DryRunPolicy(const std::string& org_id,
                                    const PolicyUpdate& update) const override {
    auto loaded = internal::LoadState(*log_, size());
    if (!loaded.ok()) return loaded.status();
    const State& s = loaded->state;
    internal::DecideContext ctx;
    ctx.now_us = log_->last_time_us();
    ctx.next_seq = size() + 1;
    ctx.actor = Actor::System();
    auto decided = internal::Decide(s, internal::UpdatePolicyCmd{org_id, update}, ctx);
    if (!decided.ok()) return decided.status();
    PolicyChange change;
    change.before = decided->policy_before;
    change.after = decided->policy_after;
    change.impact = internal::PolicyImpact(s, org_id, change.before, change.after, ctx.now_us);
    return change;
  }

  Result<WhoReport> Who(const std::string& org_id, const Moment& at) const override {
    auto seq = SeqOf(at);
    if (!seq.ok()) return seq.status();
    auto time = TimeOf(at, *seq);
    if (!time.ok()) return time.status();
    auto loaded = internal::LoadState(*log_, *seq);
    if (!loaded.ok()) return loaded.status();
    const State& s = loaded->state;
    const auto* org = s.FindOrg(org_id);
    if (org == nullptr) return UnknownOrg(org_id, *seq);
    WhoReport report;
    report.seq = *seq;
    report.time_us = *time;
    report.org_id = org_id;
    // The methods a user could log in with: password, the OAuth providers, and SAML
    // through the IdPs of this organization and of the user's own organizations (an IdP
    // of another organization serves only its members).
    auto methods_of = [&](const internal::User& u) {
      std::vector<std::string> methods = {"password", "oauth:github", "oauth:google",
                                          "oauth:microsoft"};
      std::set<std::string> idps(org->idps.begin(), org->idps.end());
      for (Idx o : u.orgs) idps.insert(s.orgs[o].idps.begin(), s.orgs[o].idps.end());
      for (const auto& idp : idps) methods.push_back("saml:" + idp);
      return methods;
    };
    auto add_user = [&](Idx i) {
      const auto& u = s.users[i];
      WhoReport::UserAccess access;
      access.user_id = u.id;
      access.email = u.email;
      access.active = u.active && !u.deleted;
      access.managed = s.ManagingOrg(u) != nullptr;
      if (!u.application) {
        for (const auto& m : methods_of(u)) {
          if (internal::AllowedMethod(s, *org, org->policy, u, m) == internal::kOk &&
              internal::LoginRule(s, u, m) == internal::kOk) {
            access.login_methods.push_back(m);
          }
        }
      }
      report.users.push_back(std::move(access));
    };
    for (Idx i : org->members) add_user(i);
    for (Idx i : org->application_users) add_user(i);
    std::sort(report.users.begin(), report.users.end(),
              [](const auto& a, const auto& b) { return a.user_id < b.user_id; });
    internal::CheckOptions no_ip;
    no_ip.check_ip = false;
    for (const TokenRecord* t : internal::TokensFacing(s, org_id)) {
      Decision d = internal::CheckTokenAgainst(s, t, org_id, {*time, {}}, nullptr, no_ip);
      if (!d.allowed) continue;
      report.tokens.push_back(
          {t->prefix.str(), TokenKindName(t->kind), s.OwnerOf(*t).id, std::string(s.Method(*t))});
    }
    std::sort(report.tokens.begin(), report.tokens.end(),
              [](const auto& a, const auto& b) { return a.token_prefix < b.token_prefix; });
    return report;
  }

  Result<EventPage> Events(const EventFilter& f, std::size_t limit) const override {
    std::uint64_t first = std::max<std::uint64_t>(f.from_seq, 1);
    std::uint64_t last = f.to_seq == 0 ? size() : std::min(f.to_seq, size());
    if (f.from_us != 0) {
      auto s = log_->FirstSeqAtOrAfter(f.from_us);
      if (!s.ok()) return s.status();
      first = std::max(first, *s);
    }
    if (f.to_us != 0) {
      auto s = log_->FirstSeqAtOrAfter(f.to_us + 1);
      if (!s.ok()) return s.status();
      last = std::min(last, *s - 1);
    }
    std::vector<Subject> wanted;
    if (!f.org_id.empty()) wanted.push_back({K::kOrganization, f.org_id});
    if (!f.user_id.empty()) wanted.push_back({K::kUser, f.user_id});
    if (!f.token_prefix.empty()) wanted.push_back({K::kToken, f.token_prefix});
    const std::set<std::string> types(f.types.begin(), f.types.end());

    EventPage page;
    Status failed;
    auto consider = [&](const storage::DecodedEvent& e) {
      auto env = e.envelope();
      if (page.events.size() == limit) {
        page.next_seq = e.seq();
        return false;
      }
      if (!types.empty() && !types.count(EventTypeName(env))) return true;
      if (!f.actor_id.empty() && Str(env.getActor().getId()) != f.actor_id) return true;
      if (wanted.size() > 1) {
        auto subjects = storage::SubjectsOf(env);
        for (const auto& w : wanted) {
          if (std::find(subjects.begin(), subjects.end(), w) == subjects.end()) return true;
        }
      }
      page.events.push_back(ToAuditEvent(env));
      return true;
    };
    if (first > last) return page;
    if (wanted.empty()) {
      Status s = log_->Scan(first, last, consider);
      if (!s.ok()) return s;
      return page;
    }
    Status s = log_->ScanSubject(wanted.front(), first, last, [&](std::uint64_t seq) {
      auto e = log_->Read(seq);
      if (!e.ok()) {
        failed = e.status();
        return false;
      }
      return consider(*e);
    });
    if (!s.ok()) return s;
    if (!failed.ok()) return failed;
    return page;
  }

 private:
  // The history of `org_id` holding its policy events up to `last`: its configuration
  // when the narrow index reaches that far, else all its events.
  Subject PolicyEventsOf(const std::string& org_id, std::uint64_t last) const {
    const bool narrow = HistoriesFor(*log_, last) == Histories::kNarrow;
    return {narrow ? K::kOrganizationConfig : K::kOrganization, org_id};
  }

  static Status UnknownOrg(const std::string& org_id, std::uint64_t seq = 0) {
    return Status::NotFound(
        "unknown_organization",
        "no organization " + org_id + (seq ? " at seq " + std::to_string(seq) : " in the log"));
  }

  // Records what the token's own events say: creation, uses, revocation.
  void NoteTokenEvent(schema::Envelope::Reader env, const std::string& prefix,
                      TokenReport& report) const {
    auto event = env.getEvent();
    if (event.isTokenCreated() && Str(event.getTokenCreated().getTokenPrefix()) == prefix) {
      auto c = event.getTokenCreated();
      report.created_seq = env.getSeq();
      report.created_us = env.getTimeUs();
      report.created_by_kind = ActorKindName(env.getActor().getKind());
      report.created_by_id = Str(env.getActor().getId());
      report.session_prefix = Str(c.getSessionPrefix());
    } else if (event.isTokenUsed() && Str(event.getTokenUsed().getTokenPrefix()) == prefix) {
      ++report.uses;
      report.last_used_us = event.getTokenUsed().getLastUsedUs();
      report.last_ip = Str(event.getTokenUsed().getLastIp());
    } else if (event.isTokenRevoked() && Str(event.getTokenRevoked().getTokenPrefix()) == prefix &&
               !report.revoked) {
      report.revoked = true;
      report.revoked_seq = env.getSeq();
      report.revoked_us = env.getTimeUs();
      report.revocation_reason = RevocationReasonName(event.getTokenRevoked().getReason());
      report.revocation_cause = env.getCause();
      if (env.getCause() != 0) {
        auto cause = log_->Read(env.getCause());
        if (cause.ok()) report.revocation_cause_type = EventTypeName(cause->envelope());
      }
    }
  }

  // The (token, org) pairs whose decision differs between `before` and `after` (one event
  // apart), evaluated at the event's time. Only pairs the event can touch are evaluated:
  // tokens facing the organizations it names, tokens of the users it names (at their
  // organizations), the tokens it names, and tokens created through an IdP it names.
  std::vector<ImpactEntry> ImpactBetween(const State& before, const State& after,
                                         schema::Envelope::Reader event) const {
    std::set<std::string> orgs;
    std::set<std::pair<std::string, std::string>> pairs;  // (prefix, org)
    std::vector<std::string> token_prefixes;
    std::vector<std::string> users;
    for (const auto& subject : storage::SubjectsOf(event)) {
      switch (subject.kind) {
        case K::kOrganization:
        case K::kOrganizationConfig:
          orgs.insert(subject.id);
          break;
        case K::kUser:
        case K::kUserAccount:
          users.push_back(subject.id);
          break;
        case K::kToken:
        case K::kTokenLifecycle:
          token_prefixes.push_back(subject.id);
          break;
        case K::kIdp:
        case K::kIdpConfig:
          for (const auto& t : after.tokens.records()) {
            if (storage::IdpOfMethod(after.Method(t)) == subject.id) {
              token_prefixes.push_back(t.prefix.str());
            }
          }
          break;
        case K::kDomain:
          break;  // managed-ness does not enter token checks (R2/R4/R5)
      }
    }
    for (const State* s : {&before, &after}) {
      auto orgs_of = [&](const internal::User& u, std::vector<std::string>& out) {
        for (Idx o : u.orgs) out.push_back(s->orgs[o].id);
        if (u.application_org != kNoIdx) out.push_back(s->orgs[u.application_org].id);
      };
      for (const auto& org : orgs) {
        for (const TokenRecord* t : internal::TokensFacing(*s, org)) {
          pairs.insert({t->prefix.str(), org});
        }
      }
      for (const auto& user_id : users) {
        const auto* u = s->FindUser(user_id);
        if (u == nullptr) continue;
        std::vector<std::string> user_orgs(orgs.begin(), orgs.end());
        orgs_of(*u, user_orgs);
        s->ForEachTokenOf(*u, [&](Idx, const TokenRecord& t) {
          for (const auto& o : user_orgs) pairs.insert({t.prefix.str(), o});
        });
      }
      for (const auto& prefix : token_prefixes) {
        const auto* t = s->FindToken(prefix);
        if (t == nullptr) continue;
        std::vector<std::string> token_orgs(orgs.begin(), orgs.end());
        orgs_of(s->OwnerOf(*t), token_orgs);
        if (t->org != kNoIdx) token_orgs.push_back(s->orgs[t->org].id);
        for (const auto& o : token_orgs) pairs.insert({prefix, o});
      }
    }
    internal::CheckOptions no_ip;
    no_ip.check_ip = false;
    const CheckContext ctx{event.getTimeUs(), {}};
    std::vector<ImpactEntry> impact;
    for (const auto& [prefix, org] : pairs) {
      Decision b =
          internal::CheckTokenAgainst(before, before.FindToken(prefix), org, ctx, nullptr, no_ip);
      Decision a =
          internal::CheckTokenAgainst(after, after.FindToken(prefix), org, ctx, nullptr, no_ip);
      if (b.allowed == a.allowed) continue;
      const auto* t = after.FindToken(prefix);
      impact.push_back(
          {prefix, t ? after.OwnerOf(*t).id : "", org, b.allowed, b.reason, a.allowed, a.reason});
    }
    return impact;
  }

  std::unique_ptr<storage::EventLog> log_;
  AuditOptions options_;
};

}  // namespace
}  // namespace replay

Result<std::unique_ptr<Auditor>> Auditor::Open(const std::string& dir, AuditOptions options) {
  storage::EventLogOptions log_options;
  log_options.read_only = true;
  log_options.create_if_missing = false;
  auto log = storage::EventLog::Open(dir, log_options);
  if (!log.ok()) return log.status();
  return std::unique_ptr<Auditor>(
      std::make_unique<replay::AuditorImpl>(std::move(log).value(), std::move(options)));
}

}  // namespace authledger
