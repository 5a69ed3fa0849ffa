// EngineImpl: the Engine facade over the event log (internal to engine/).
//
// There is one State, `published_`: it holds durable events only, and checks read it
// under a shared lock. Writes: Submit takes decide_mu_ (so commands are decided one at a
// time) and decides against `published_`. Events queued by earlier commands but not yet
// durable are not in it, so a command that reads a subject such a pending batch writes
// (see conflicts.h) first waits for that batch; any other command is decided at once,
// which is what lets many commands share one fsync. The decided events are queued with
// the log under decide_mu_ (fixing their seqs), and the caller waits for durability
// outside it. The log's writer thread folds each durable batch into `published_` (under
// state_mu_, exclusive), releases its conflict keys, and then wakes the caller.
//
// Background: one thread records token use (coalesced per token and interval), writes
// snapshots every `snapshot_interval` events (and one at once after an Open that had to
// pass over unusable snapshots), and after each snapshot deletes those retention keeps
// no longer (the destructor, after the closing snapshot, too).
//
// Thread-safety: as Engine.
#pragma once

#include <authledger/engine.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "engine/commands.h"
#include "engine/decide.h"
#include "engine/read_mostly_mutex.h"
#include "engine/state.h"
#include "engine/state_store.h"
#include "storage/event_log.h"

namespace authledger::internal {

class EngineImpl final : public Engine {
 public:
  // `loaded`: the state Open loaded, the snapshot it came from and those passed over.
  EngineImpl(std::unique_ptr<storage::EventLog> log, EngineOptions options, LoadedState loaded);
  ~EngineImpl() override;

  // Starts the background thread; called once by Open.
  void Start();

  Result<std::uint64_t> CreateOrganization(const Actor& actor, const std::string& org_id,
                                           const std::string& name) override;
  Result<std::uint64_t> VerifyDomain(const Actor& actor, const std::string& org_id,
                                     const std::string& domain) override;
  Result<std::uint64_t> UnverifyDomain(const Actor& actor, const std::string& org_id,
                                       const std::string& domain) override;
  Result<std::uint64_t> AddIdp(const Actor& actor, const std::string& org_id,
                               const IdpSpec& idp) override;
  Result<std::uint64_t> RemoveIdp(const Actor& actor, const std::string& org_id,
                                  const std::string& idp_id) override;
  Result<std::uint64_t> RegisterUser(const Actor& actor, const std::string& user_id,
                                     const std::string& email) override;
  Result<std::uint64_t> AddMember(const Actor& actor, const std::string& org_id,
                                  const std::string& user_id) override;
  Result<std::uint64_t> RemoveMember(const Actor& actor, const std::string& org_id,
                                     const std::string& user_id) override;
  Result<std::uint64_t> DeactivateUser(const Actor& actor, const std::string& org_id,
                                       const std::string& user_id) override;
  Result<std::uint64_t> ReactivateUser(const Actor& actor, const std::string& org_id,
                                       const std::string& user_id) override;
  Result<std::uint64_t> CreateApplicationUser(const Actor& actor, const std::string& org_id,
                                              const std::string& user_id,
                                              const std::string& name) override;
  Result<std::uint64_t> DeleteApplicationUser(const Actor& actor, const std::string& org_id,
                                              const std::string& user_id) override;
  Result<std::uint64_t> EnableTwoFactor(const Actor& actor, const std::string& user_id) override;
  Result<std::uint64_t> DisableTwoFactor(const Actor& actor, const std::string& user_id) override;
  Result<PolicyChange> UpdatePolicy(const Actor& actor, const std::string& org_id,
                                    const PolicyUpdate& update) override;
  Result<PolicyChange> DryRunPolicy(const Actor& actor, const std::string& org_id,
                                    const PolicyUpdate& update) const override;
  Result<std::uint64_t> UpdateIpAllowlist(const Actor& actor, const std::string& org_id,
                                          bool enabled,
                                          const std::vector<std::string>& cidrs) override;
  Result<AuthenticationPolicy> GetPolicy(const std::string& org_id) const override;
  Result<IpAllowlist> GetIpAllowlist(const std::string& org_id) const override;
  Result<CreatedToken> RecordLogin(const Actor& actor, const LoginRequest& login) override;
  Result<std::uint64_t> EndSession(const Actor& actor, const std::string& session_prefix) override;
  Result<CreatedToken> CreatePersonalToken(const Actor& actor, const std::string& session_prefix,
                                           const TokenSpec& spec) override;
  Result<CreatedToken> CreateApplicationToken(const Actor& actor, const std::string& org_id,
                                              const std::string& app_user_id,
                                              const TokenSpec& spec) override;
  Result<std::uint64_t> RevokeToken(const Actor& actor, const std::string& token_prefix,
                                    const std::string& org_id) override;
  Result<std::uint64_t> ExpireUserTokens(const Actor& actor, const std::string& user_id) override;

  Decision CheckToken(std::string_view secret, std::string_view org_id,
                      const CheckContext& ctx) const override;
  Decision CanCreatePersonalToken(const std::string& session_prefix,
                                  const CheckContext& ctx) const override;
  Explanation Explain(std::string_view secret, std::string_view org_id,
                      const CheckContext& ctx) const override;
  Explanation ExplainPrefix(std::string_view token_prefix, std::string_view org_id,
                            const CheckContext& ctx) const override;

  std::uint64_t revision() const override;
  Status health() const override;
  Result<LogCheckpoint> Checkpoint() const override;
  Status WriteSnapshot() override;
  SnapshotStatus Snapshots() const override;
  void FlushTokenUse() override;

  // A copy of the published state (tests compare it field by field after reopening).
  State PublishedState() const;
  // Seq of the latest snapshot written (tests wait on the background thread with it).
  std::uint64_t LastSnapshotSeq() const { return last_snapshot_seq_.load(); }

 private:
  struct Submitted {
    std::uint64_t revision = 0;
    Decided decided;
  };
  // decide → fold into decided_ → queue → wait for durability.
  // `inspect`, if given, sees the decided events and the state they were decided
  // against, under the locks (e.g. to compute a policy change's impact).
  using Inspect = std::function<void(const State&, const Decided&, const DecideContext&)>;
  Result<Submitted> Submit(const Actor& actor, const Command& command,
                           const Inspect& inspect = nullptr);

  Result<std::uint64_t> SubmitForRevision(const Actor& actor, const Command& command);
  Result<CreatedToken> SubmitNewToken(const Actor& actor, TokenKind kind,
                                      const std::function<Command(const NewTokenId&)>& make);
  // The check with its trace, for the token `find` names in the published state.
  Explanation ExplainToken(const std::function<const TokenRecord*(const State&)>& find,
                           std::string_view org_id, const CheckContext& ctx) const;
  std::int64_t Now() const;
  void Log(Logger::Level level, const std::string& message) const;

  // Token use, noticed by checks (cheap: only when the recorded use is stale).
  // Called without holding state_mu_ (lock order: state_mu_ is never held while taking
  // bg_mu_).
  void NoteUse(std::string prefix, const CheckContext& ctx) const;
  void BackgroundLoop();
  // Whether the background thread or the destructor may write a snapshot at `seq`.
  bool SnapshotAllowedAt(std::uint64_t seq) const { return !left_alone_.contains(seq); }
  // Deletes the snapshots options_.snapshot_retention keeps no longer, and chunks a
  // crash left without a header. Called by the background thread, or by the destructor
  // once it has stopped: never twice at once.
  void ApplyRetention();

  std::unique_ptr<storage::EventLog> log_;
  EngineOptions options_;

  mutable std::mutex decide_mu_;  // one command decided at a time

  // Conflict keys written by queued, not yet durable batches (key → number of batches).
  std::mutex pending_mu_;
  std::condition_variable pending_cv_;
  std::unordered_map<std::string, int> pending_writes_;
  std::size_t pending_batches_ = 0;

  // Checks and other short reads are std::shared_lock; reads that may take long (a
  // snapshot's copy, Decide, a dry run) are LongReadLock.
  mutable ReadMostlyMutex state_mu_;
  State published_;  // guarded by state_mu_; written by the log's writer thread
  std::atomic<std::uint64_t> published_revision_{0};  // published_.revision, lock-free

  // Background work, guarded by bg_mu_.
  mutable std::mutex bg_mu_;
  mutable std::condition_variable bg_cv_;
  mutable std::unordered_map<std::string, TokenUse> pending_use_;
  mutable std::condition_variable bg_idle_cv_;
  bool bg_busy_ = false;
  bool stopping_ = false;
  // Written under bg_mu_; read without it by Submit to decide whether to wake the thread.
  std::atomic<std::uint64_t> last_snapshot_seq_{0};
  // A snapshot is wanted now, whatever the interval (Open passed over unusable ones), as
  // soon as the revision is not the seq of one of those. Read by Submit without bg_mu_.
  std::atomic<bool> snapshot_requested_{false};
  // last_snapshot_seq_ when retention last ran: it runs again once a snapshot is newer.
  std::uint64_t retention_ran_at_ = 0;
  std::thread background_;

  // What Open did with the snapshots (fixed after construction).
  const std::uint64_t opened_from_;
  const std::vector<UnusableSnapshot> unusable_at_open_;
  // Their seqs: the engine writes no snapshot there (one at the seq of a table block
  // that fails its checksum would have compactions read that block), and retention
  // neither counts nor deletes them; `verify` names them, `recover` drops them.
  const std::set<std::uint64_t> left_alone_;
  // Retention's outcome, guarded by retention_mu_.
  mutable std::mutex retention_mu_;
  std::uint64_t deleted_ = 0;
  std::uint64_t orphans_deleted_ = 0;
  std::string retention_problem_;
};

// What Engine::Open re-reads of the log (see OpenEngine).
struct OpenChecks {
  // The events re-hashed against their Merkle leaves at every open: all those after the
  // snapshot the state is loaded from, and at least this many of the latest (a cleanly
  // closed engine leaves a snapshot at its last event). 64Ki events take ~0.1 s.
  std::uint64_t rehash_latest_events = 65536;
};

// The state Engine::Open starts from, after the checks it makes (see
// engine_impl.cc): LoadState's, with every event folded and the latest
// checks.rehash_latest_events re-hashed against the Merkle tree. Corruption with a
// stable reason ("event_tampered", "root_mismatch", …) otherwise; with
// BadSnapshot::kFail also for an unusable snapshot ("snapshot_mismatch",
// "snapshot_undecodable", …), which kFallBack passes over (LoadedState::skipped).
Result<LoadedState> LoadCheckedState(const storage::EventLog& log, const OpenChecks& checks,
                                     BadSnapshot bad_snapshot = BadSnapshot::kFallBack);

// How Open logs a snapshot it passed over (for `used`, the seq of the one it loaded, 0
// if none): kError for one that disagrees with the log ("snapshot_mismatch"), kInfo for
// another build's format, kWarning for damage; the message names the seq and reason.
Logger::Level SkippedLevel(const SkippedSnapshot& skipped);
std::string SkippedMessage(const SkippedSnapshot& skipped, std::uint64_t used);

// Engine::Open with the log's options given, for what EngineOptions does not carry: a
// test's FaultInjector under the log (storage/fault_injection.h), and how much Open
// re-hashes. Fields that EngineOptions has (create_if_missing, checkpoint_key_file) are
// taken from `options`. For tests and tools; the public Engine::Open uses the defaults.
Result<std::unique_ptr<Engine>> OpenEngine(const std::string& dir, EngineOptions options,
                                           storage::EventLogOptions log_options,
                                           const OpenChecks& checks = {});

}  // namespace authledger::internal
