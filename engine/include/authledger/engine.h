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

struct EngineOptions {
  // µs since the Unix epoch. Defaults to the system clock.
  std::function<std::int64_t()> clock;
  // Defaults to discarding messages.
  std::shared_ptr<Logger> logger;
  // A snapshot is written in the background after this many events.
  std::uint64_t snapshot_interval = 100000;
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
  // snapshot plus the events after it. Refuses a damaged log with a stable reason naming
  // the seq or file (never starts on it; `authledger recover` rebuilds it). What Open
  // checks, at a cost independent of the log's length: the recorded size against the
  // last stored event; the stored Merkle frontier against the recorded root; the
  // snapshot's recorded root against the tree at its seq ("snapshot_mismatch"); every
  // event after the snapshot and the latest 64Ki events re-hashed against their leaves,
  // and the root recomputed over them ("event_tampered", "root_mismatch"); and RocksDB's
  // checksums of what it reads (write-ahead log, table footers and indexes, the blocks
  // of those events: "wal_damaged", "table_file_damaged"). Older events and snapshots are
  // re-read only by `verify` (VerifyLog), which checks every leaf, the root, and every
  // snapshot against a replay.
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
  // Writes a snapshot of the current state now.
  virtual Status WriteSnapshot() = 0;
  // Waits until every token use noticed so far has been recorded.
  virtual void FlushTokenUse() = 0;

 protected:
  Engine() = default;
};

}  // namespace authledger
