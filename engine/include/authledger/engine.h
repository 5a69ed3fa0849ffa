// Engine: decides whether a session or API token may reach an organization, and keeps
// every fact behind those decisions in the event log.
//
// Commands (create an organization, update a policy, create a token, …) run `decide`
// serially against the state as it will be once every command before them is durable,
// append the resulting events through the log's group commit, and return once they are
// durable, with the log revision (seq of the last event) they produced. A rejected
// command appends nothing and returns a stable reason code. Checks (CheckToken, Explain,
// CanCreatePersonalToken) read the state of durable events only, never wait for a
// command, and scale with cores.
//
// If the disk fails the engine turns read-only: the command whose write failed gets the
// log's reason ("log_disk_full", "log_write_failed", "log_directory_gone"), every later
// one "engine_read_only" naming it, and checks go on answering from what was durable
// before the failure (the failed command is never visible). Reopening once the fault is
// gone resumes from what is durable. A command refused by a failed fsync has an unknown
// outcome, as after a timeout: its events may or may not be found after reopening.
//
// Thread-safety: every method may be called from any number of threads at once.
#pragma once

#include <authledger/decision.h>
#include <authledger/policy.h>
#include <authledger/status.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace authledger {

// Who issues a command; recorded in every event it causes.
struct Actor {
  enum class Kind { kSystem, kUser, kAdmin, kApiKey, kApplication };
  Kind kind = Kind::kSystem;
  std::string id;          // user id, API key name, …
  std::string ip;          // the caller's address (used by the allowlist guard rail)
  std::string request_id;  // for correlation with the caller's logs

  static Actor User(std::string id, std::string ip = {}) {
    return {Kind::kUser, std::move(id), std::move(ip), {}};
  }
  static Actor Admin(std::string id, std::string ip = {}) {
    return {Kind::kAdmin, std::move(id), std::move(ip), {}};
  }
  static Actor System() { return {}; }
};

// Where the engine writes what it wants to tell an operator (never a secret).
class Logger {
 public:
  enum class Level { kDebug, kInfo, kWarning, kError };
  virtual ~Logger() = default;
  virtual void Log(Level level, std::string_view message) = 0;
};

// Which snapshots the engine keeps. Snapshots are caches of what the log says (about
// 112 bytes per token: 1.1 GiB at 10M tokens); Open needs only the latest, replay of an
// old seq starts from the nearest one at or before it. After each snapshot the engine
// writes (in the background, and on closing) is durable, it deletes those this keeps no
// longer, headers and chunks together: a crash leaves a snapshot whole or gone, and the
// latest is never deleted, so Open and replay always start. Deletions go to the logger
// (kInfo); Engine::Snapshots() counts them.
struct SnapshotRetention {
  // The latest this many are kept: Open uses the newest, and falls back to the others
  // if it cannot use it (see EngineOptions::fall_back_past_bad_snapshots). 0 keeps
  // every snapshot (no retention).
  std::uint32_t keep_latest = 3;
  // A sparser tier, for replay at old seqs: also keeps the first snapshot at or after
  // each multiple of this many events, so that replay anywhere past the first folds at
  // most about keep_every_events + snapshot_interval events. 0 = no tier.
  std::uint64_t keep_every_events = 0;
  // Of the tier, only the latest this many; 0 = all of them. Disk use is then bounded
  // by keep_latest + keep_every_max snapshots.
  std::uint32_t keep_every_max = 0;
};

struct EngineOptions {
  // µs since the Unix epoch. Defaults to the system clock.
  std::function<std::int64_t()> clock;
  // Defaults to discarding messages.
  std::shared_ptr<Logger> logger;
  // A snapshot is written in the background after this many events.
  std::uint64_t snapshot_interval = 100000;
  SnapshotRetention snapshot_retention;
  // What Open does when the latest snapshot cannot be used: damaged (it does not decode,
  // a chunk is missing or fails its checksum), stored under another seq than it
  // describes, or made from another history (its recorded Merkle root is not the log's
  // at its seq). true: Open passes over it to the next older usable snapshot, and
  // finally folds from the first event (every event folded is re-hashed against the
  // tree, as always), logs each one passed over (kError for another history, kWarning
  // otherwise), lists them in Snapshots().unusable_at_open, and writes a fresh snapshot
  // at once in the background. The log is the source of truth, and a snapshot only a
  // cache of it. false: Open refuses the log with the snapshot's reason
  // ("snapshot_undecodable", "snapshot_mismatch", …), as `verify` reports it.
  bool fall_back_past_bad_snapshots = true;
  // A token's use is recorded at most once per this interval.
  std::int64_t token_use_interval_us = 60'000'000;
  // Ed25519 private key (PEM) to sign checkpoints; empty = unsigned.
  std::string checkpoint_key_file;
  bool create_if_missing = true;
};

struct IdpSpec {
  std::string idp_id;
  std::string name;
  std::vector<std::string> domains;  // verified domains of the organization (≥ 1)
  std::uint32_t max_age_seconds = 86400;
  bool extend_when_used = false;
};

// Limits of a personal or application token.
struct TokenSpec {
  std::string description;            // ≤ 1000 characters
  std::int64_t expiry_time_us = 0;    // absolute; 0 = none
  std::uint32_t max_age_seconds = 0;  // 600…315360000; 0 = none; exclusive with expiry
  bool extend_when_used = false;
  std::vector<std::string> ip_allowlist;  // ≤ 100 CIDRs
  std::vector<std::string> scopes;        // ≤ 100
};

struct LoginRequest {
  std::string user_id;
  std::string method;  // "password", "oauth:google|microsoft|github", "saml:<idp_id>"
  bool two_factor_used = false;
};

// A new token: the secret is shown here once and never stored or logged.
struct CreatedToken {
  std::string token_prefix;
  std::string secret;
  std::uint64_t revision = 0;
};

// How a (token, organization) decision changes with a command.
struct ImpactEntry {
  std::string token_prefix;
  std::string user_id;
  std::string org_id;
  bool allowed_before = false;
  std::string reason_before;
  bool allowed_after = false;
  std::string reason_after;
};

struct PolicyChange {
  AuthenticationPolicy before;
  AuthenticationPolicy after;
  std::vector<ImpactEntry> impact;  // only the pairs whose decision flips
  std::uint64_t revision = 0;       // 0 for a dry run
};

// A snapshot Open could not use, and why.
struct UnusableSnapshot {
  std::uint64_t seq = 0;
  std::string reason;  // "snapshot_undecodable", "snapshot_mismatch", "table_file_damaged",
                       // "snapshot_format_unsupported" (an older or newer build's), …
  std::string message;
  // The search for a snapshot at or before `seq` failed: a damaged table block under the
  // snapshots' keys hides every one there (RocksDB's search reads the first table file
  // whose keys reach `seq`), so Open folded the log from its first event.
  bool search_failed = false;
};

// The engine's snapshots, for an operator's status page or metrics.
struct SnapshotStatus {
  std::vector<std::uint64_t> stored;  // seqs of the snapshots in the log now, ascending
  // Why `stored` could not be listed (a damaged table block under the snapshots' keys:
  // retention then cannot run either, until `authledger recover` drops the damaged
  // snapshot); empty if it was.
  std::string stored_problem;
  std::uint64_t opened_from = 0;  // the snapshot Open loaded; 0 = folded from empty
  // Those Open passed over, newest first. Retention neither counts nor deletes them
  // (`verify` names them, `recover` drops them); a snapshot the engine writes at the
  // same seq replaces one.
  std::vector<UnusableSnapshot> unusable_at_open;
  std::uint64_t deleted = 0;          // by retention since Open
  std::uint64_t orphans_deleted = 0;  // chunks a crash left without their header
  // Why the latest retention pass failed (it is retried after the next snapshot); empty
  // if it succeeded or none ran.
  std::string retention_problem;
};

// A checkpoint of the log: its size, Merkle root and the time of its last event,
// signed when the engine has a key.
struct LogCheckpoint {
  std::uint64_t size = 0;
  std::string root_hex;
  std::int64_t time_us = 0;
  std::string signature_hex;  // empty when unsigned
  std::string key_id;
};

class Engine {
 public:
  // Opens (or creates) the engine's log in `dir` and restores the state from the latest
  // usable snapshot plus the events after it. Refuses a damaged log with a stable reason
  // naming the seq or file (never starts on it; `authledger recover` rebuilds it). What
  // Open checks, at a cost independent of the log's length: the recorded size against
  // the last stored event; the stored Merkle frontier against the recorded root; the
  // snapshot's recorded root against the tree at its seq ("snapshot_mismatch"); every
  // event after the snapshot and the latest 64Ki events re-hashed against their leaves,
  // and the root recomputed over them ("event_tampered", "root_mismatch"); and RocksDB's
  // checksums of what it reads (write-ahead log, table footers and indexes, the blocks
  // of those events and of the snapshot: "wal_damaged", "table_file_damaged"). A
  // snapshot that fails these is passed over for an older one, loudly, unless
  // options.fall_back_past_bad_snapshots is false (then Open refuses). Older events and
  // snapshots are re-read only by `verify` (VerifyLog), which checks every leaf, the
  // root, and every snapshot against a replay.
  static Result<std::unique_ptr<Engine>> Open(const std::string& dir, EngineOptions options = {});
  // Finishes queued commands, writes a snapshot, and closes the log.
  virtual ~Engine() = default;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // ---- Organizations, domains, IdPs ----
  virtual Result<std::uint64_t> CreateOrganization(const Actor& actor, const std::string& org_id,
                                                   const std::string& name) = 0;
  virtual Result<std::uint64_t> VerifyDomain(const Actor& actor, const std::string& org_id,
                                             const std::string& domain) = 0;
  virtual Result<std::uint64_t> UnverifyDomain(const Actor& actor, const std::string& org_id,
                                               const std::string& domain) = 0;
  virtual Result<std::uint64_t> AddIdp(const Actor& actor, const std::string& org_id,
                                       const IdpSpec& idp) = 0;
  virtual Result<std::uint64_t> RemoveIdp(const Actor& actor, const std::string& org_id,
                                          const std::string& idp_id) = 0;

  // ---- Users and members ----
  virtual Result<std::uint64_t> RegisterUser(const Actor& actor, const std::string& user_id,
                                             const std::string& email) = 0;
  virtual Result<std::uint64_t> AddMember(const Actor& actor, const std::string& org_id,
                                          const std::string& user_id) = 0;
  virtual Result<std::uint64_t> RemoveMember(const Actor& actor, const std::string& org_id,
                                             const std::string& user_id) = 0;
  // Only the organization managing the user (through its verified email domain).
  virtual Result<std::uint64_t> DeactivateUser(const Actor& actor, const std::string& org_id,
                                               const std::string& user_id) = 0;
  virtual Result<std::uint64_t> ReactivateUser(const Actor& actor, const std::string& org_id,
                                               const std::string& user_id) = 0;
  virtual Result<std::uint64_t> CreateApplicationUser(const Actor& actor, const std::string& org_id,
                                                      const std::string& user_id,
                                                      const std::string& name) = 0;
  // Also revokes the application user's tokens, in the same batch.
  virtual Result<std::uint64_t> DeleteApplicationUser(const Actor& actor, const std::string& org_id,
                                                      const std::string& user_id) = 0;
  // Both revoke, in the same batch, the user's live password-created personal tokens and
  // password sessions (each revocation's cause = the 2FA event).
  virtual Result<std::uint64_t> EnableTwoFactor(const Actor& actor, const std::string& user_id) = 0;
  virtual Result<std::uint64_t> DisableTwoFactor(const Actor& actor,
                                                 const std::string& user_id) = 0;

  // ---- Policy and allowlist ----
  virtual Result<PolicyChange> UpdatePolicy(const Actor& actor, const std::string& org_id,
                                            const PolicyUpdate& update) = 0;
  // The same checks and impact as UpdatePolicy; appends nothing.
  virtual Result<PolicyChange> DryRunPolicy(const Actor& actor, const std::string& org_id,
                                            const PolicyUpdate& update) const = 0;
  // Refused (api_client_ip_allowlist_blocks_caller) if it would shut out actor.ip.
  virtual Result<std::uint64_t> UpdateIpAllowlist(const Actor& actor, const std::string& org_id,
                                                  bool enabled,
                                                  const std::vector<std::string>& cidrs) = 0;
  virtual Result<AuthenticationPolicy> GetPolicy(const std::string& org_id) const = 0;
  virtual Result<IpAllowlist> GetIpAllowlist(const std::string& org_id) const = 0;

  // ---- Sessions and tokens ----
  // R1. An accepted login returns the new session token; a rejected one is recorded
  // (LoginRejected) and returns the reason as a Denied status.
  virtual Result<CreatedToken> RecordLogin(const Actor& actor, const LoginRequest& login) = 0;
  virtual Result<std::uint64_t> EndSession(const Actor& actor,
                                           const std::string& session_prefix) = 0;
  // R3: the user owning `session_prefix` creates a personal token.
  virtual Result<CreatedToken> CreatePersonalToken(const Actor& actor,
                                                   const std::string& session_prefix,
                                                   const TokenSpec& spec) = 0;
  virtual Result<CreatedToken> CreateApplicationToken(const Actor& actor, const std::string& org_id,
                                                      const std::string& app_user_id,
                                                      const TokenSpec& spec) = 0;
  // `org_id` non-empty: an admin of that organization revokes a token of one of its
  // members or application users; empty: the owner revokes their own token.
  virtual Result<std::uint64_t> RevokeToken(const Actor& actor, const std::string& token_prefix,
                                            const std::string& org_id = {}) = 0;
  // Sets the user's token_validity_begin: every token created before now expires.
  virtual Result<std::uint64_t> ExpireUserTokens(const Actor& actor,
                                                 const std::string& user_id) = 0;

  // ---- Checks ----
  // R2/R4/R5 and "token live" for the token whose secret is `secret`.
  virtual Decision CheckToken(std::string_view secret, std::string_view org_id,
                              const CheckContext& ctx) const = 0;
  // R3 for the owner of `session_prefix` at ctx.time_us.
  virtual Decision CanCreatePersonalToken(const std::string& session_prefix,
                                          const CheckContext& ctx) const = 0;
  // CheckToken with the trace of every condition; by secret or by public prefix.
  virtual Explanation Explain(std::string_view secret, std::string_view org_id,
                              const CheckContext& ctx) const = 0;
  virtual Explanation ExplainPrefix(std::string_view token_prefix, std::string_view org_id,
                                    const CheckContext& ctx) const = 0;

  // ---- The log ----
  // Seq of the last durable event reflected in checks.
  virtual std::uint64_t revision() const = 0;
  // OK while commands are accepted; else why not (e.g. the disk failed).
  virtual Status health() const = 0;
  virtual Result<LogCheckpoint> Checkpoint() const = 0;
  // Writes a snapshot of the current state now. Retention (EngineOptions::
  // snapshot_retention) then runs in the background.
  virtual Status WriteSnapshot() = 0;
  // The snapshots in the log, what Open did with them, and what retention deleted.
  virtual SnapshotStatus Snapshots() const = 0;
  // Waits until every token use noticed so far has been recorded.
  virtual void FlushTokenUse() = 0;

 protected:
  Engine() = default;
};

}  // namespace authledger
