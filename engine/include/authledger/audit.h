// Auditor: replay and audit queries over an event log opened read-only — the state at
// any past moment, the incident-review walk, the history of a policy, what a token
// could reach and when, the impact of each change.
//
// Everything is answered from the log alone. Questions about one token, user or
// organization fold only the events of the subjects involved (found through the log's
// subject index), so they cost milliseconds at any log size; whole-state questions start
// from the nearest snapshot and fold the events after it.
//
// Moments: a seq names the state after that event; a time names the state after the
// last event at or before it (seq 0 = the empty state before the first event). Checks
// at a moment are evaluated at its time unless a time is given.
//
// Thread-safety: an Auditor may be used from any number of threads at once.
#pragma once

#include <authledger/decision.h>
#include <authledger/engine.h>
#include <authledger/policy.h>
#include <authledger/status.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace authledger {

// A point in the log's history: by seq, or by time (the last event at or before it).
struct Moment {
  std::optional<std::uint64_t> seq;
  std::optional<std::int64_t> time_us;

  static Moment AtSeq(std::uint64_t seq) { return {seq, std::nullopt}; }
  static Moment AtTime(std::int64_t time_us) { return {std::nullopt, time_us}; }
  static Moment Now() { return {}; }
};

// An event as the log holds it.
struct AuditEvent {
  std::uint64_t seq = 0;
  std::int64_t time_us = 0;
  std::string type;  // JSON name: "token_created", …
  std::string actor_kind;
  std::string actor_id;
  std::string actor_ip;
  std::uint64_t cause = 0;  // seq of the event this one is a consequence of, or 0
  std::string json;         // the whole event (Cap'n Proto's JSON codec)
};

// One field of one entity that differs between two states (or across one event).
struct FieldChange {
  std::string entity;  // "organization org1", "user u1", "token abc…", "idp okta", "domain x.io"
  std::string field;   // "policy.password_auth_enabled", "members", "revoked", … ("" = the
                       // entity appeared or disappeared)
  std::string before;  // "" when absent
  std::string after;
  friend bool operator==(const FieldChange&, const FieldChange&) = default;
};

struct StepEntry {
  AuditEvent event;
  std::vector<FieldChange> changes;
};

// The state at a moment, summarised for people (the full state can be millions of tokens).
struct StateSummary {
  std::uint64_t seq = 0;
  std::int64_t time_us = 0;
  struct Org {
    std::string id;
    std::string name;
    AuthenticationPolicy policy;
    IpAllowlist allowlist;
    std::vector<std::string> domains;
    std::vector<std::string> idps;
    std::vector<std::string> members;
    std::vector<std::string> application_users;
    std::vector<std::string> managed_users;  // users whose email domain it verified
  };
  std::vector<Org> orgs;
  std::uint64_t users = 0;
  std::uint64_t active_users = 0;
  std::uint64_t tokens = 0;
  std::uint64_t live_tokens = 0;  // not revoked, not expired at `time_us`
  std::uint64_t revoked_tokens = 0;
};

struct PolicyVersion {
  std::uint64_t seq = 0;
  std::int64_t time_us = 0;
  std::string actor_kind;
  std::string actor_id;
  bool forced = false;
  AuthenticationPolicy policy;
  std::vector<FieldChange> changes;  // against the previous version (the defaults for the first)
};

// A span of the log's history during which a token's decision for one organization
// stayed the same. Each boundary is an event (seq > 0) or, for expiry, a moment of
// time with no event (seq 0).
struct AccessInterval {
  std::string org_id;
  bool allowed = false;
  std::string reason;  // "ok" when allowed
  std::uint64_t from_seq = 0;
  std::int64_t from_us = 0;
  std::string opened_by;  // what began it: an event type, or "time" (e.g. expiry)
  std::uint64_t to_seq = 0;
  std::int64_t to_us = 0;  // 0 with to_seq 0: still so at the end of the log
  std::string closed_by;
};

struct TokenReport {
  std::string token_prefix;
  std::string kind;  // "session", "personal", "application"
  std::string owner_user_id;
  std::string org_id;  // application tokens
  std::string method;
  std::string session_prefix;  // personal tokens: the session it was created from
  std::uint64_t created_seq = 0;
  std::int64_t created_us = 0;
  std::string created_by_kind;
  std::string created_by_id;
  std::int64_t expiry_time_us = 0;
  std::uint32_t max_age_seconds = 0;
  bool extend_when_used = false;
  std::vector<std::string> ip_allowlist;
  std::uint64_t uses = 0;  // recorded uses (TokenUsed events)
  std::int64_t last_used_us = 0;
  std::string last_ip;
  bool revoked = false;
  std::uint64_t revoked_seq = 0;
  std::int64_t revoked_us = 0;
  std::string revocation_reason;
  std::uint64_t revocation_cause = 0;  // seq of the event that caused it, or 0
  std::string revocation_cause_type;
  std::vector<AccessInterval> intervals;  // per organization, in time order
};

struct WhoReport {
  std::uint64_t seq = 0;
  std::int64_t time_us = 0;
  std::string org_id;
  struct UserAccess {
    std::string user_id;
    std::string email;
    bool active = false;
    bool managed = false;
    std::vector<std::string> login_methods;  // methods R1 accepts
  };
  struct TokenAccess {
    std::string token_prefix;
    std::string kind;
    std::string user_id;
    std::string method;
  };
  std::vector<UserAccess> users;
  std::vector<TokenAccess> tokens;  // tokens allowed at the moment (IP allowlists aside)
};

struct EventFilter {
  std::string org_id;
  std::string user_id;
  std::string token_prefix;
  std::vector<std::string> types;  // JSON names
  std::string actor_id;
  std::uint64_t from_seq = 1;
  std::uint64_t to_seq = 0;  // 0 = end of the log
  std::int64_t from_us = 0;
  std::int64_t to_us = 0;  // 0 = no limit
};

struct EventPage {
  std::vector<AuditEvent> events;
  std::uint64_t next_seq = 0;  // where the next page starts; 0 = no more
};

struct AuditOptions {
  // Called with (done, total) during long operations.
  std::function<void(std::uint64_t, std::uint64_t)> progress;
};

// The fields that differ between two policies (Aiven's names, "version" included), as
// changes of `entity`.
std::vector<FieldChange> PolicyChanges(const std::string& entity,
                                       const AuthenticationPolicy& before,
                                       const AuthenticationPolicy& after);

class Auditor {
 public:
  // Opens the log in `dir` read-only (beside a live engine, if one runs).
  static Result<std::unique_ptr<Auditor>> Open(const std::string& dir, AuditOptions options = {});
  virtual ~Auditor() = default;
  Auditor(const Auditor&) = delete;
  Auditor& operator=(const Auditor&) = delete;

  virtual std::uint64_t size() const = 0;
  // The seq a moment names; InvalidArgument("seq_out_of_range") past the end.
  virtual Result<std::uint64_t> SeqOf(const Moment& at) const = 0;

  // ---- Replay ----
  virtual Result<StateSummary> StateAt(const Moment& at) const = 0;
  // Events from..to (inclusive), each with what it changed.
  virtual Status Step(std::uint64_t from, std::uint64_t to,
                      const std::function<bool(const StepEntry&)>& fn) const = 0;
  // Every field that differs between the states at two moments, and every (token,
  // organization) decision that differs (field "decision@<org>"), each evaluated at its
  // moment's time with IP allowlists aside.
  virtual Result<std::vector<FieldChange>> Diff(const Moment& a, const Moment& b) const = 0;

  // ---- Audit queries ----
  // Every version of the policy of `org_id` with time in [from_us, to_us] (0 = open).
  virtual Result<std::vector<PolicyVersion>> PolicyHistory(const std::string& org_id,
                                                           std::int64_t from_us = 0,
                                                           std::int64_t to_us = 0) const = 0;
  virtual Result<AuthenticationPolicy> PolicyAt(const std::string& org_id,
                                                const Moment& at) const = 0;
  // Creation, uses, revocation and, per organization of the owner, access intervals
  // (with `ip` if given; IP allowlists ignored otherwise).
  virtual Result<TokenReport> Token(const std::string& token_prefix,
                                    const std::string& ip = {}) const = 0;
  // The decision as it was at the moment, with its trace. `time_us` (if set) is the
  // time of the request; else the moment's time. Empty `ip` ignores IP allowlists.
  virtual Result<Explanation> Explain(const std::string& token_prefix, const std::string& org_id,
                                      const Moment& at, std::optional<std::int64_t> time_us,
                                      const std::string& ip = {}) const = 0;
  // Every (token, organization) pair whose decision flipped because of event `seq`.
  virtual Result<std::vector<ImpactEntry>> Impact(std::uint64_t seq) const = 0;
  // The flips a proposed policy update would cause against the latest state.
  virtual Result<PolicyChange> DryRunPolicy(const std::string& org_id,
                                            const PolicyUpdate& update) const = 0;
  virtual Result<WhoReport> Who(const std::string& org_id, const Moment& at) const = 0;
  // At most `limit` events matching `filter`, from filter.from_seq on.
  virtual Result<EventPage> Events(const EventFilter& filter, std::size_t limit) const = 0;

 protected:
  Auditor() = default;
};

}  // namespace authledger
