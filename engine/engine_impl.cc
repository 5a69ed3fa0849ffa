#include "engine/engine_impl.h"

#include <chrono>

#include "engine/conflicts.h"
#include "engine/rules.h"
#include "engine/state_store.h"
#include "engine/token_secret.h"
#include "storage/hash.h"

namespace authledger {

using internal::EngineImpl;
using internal::State;

Result<std::unique_ptr<Engine>> Engine::Open(const std::string& dir, EngineOptions options) {
  return internal::OpenEngine(dir, std::move(options), {});
}

Result<std::unique_ptr<Engine>> internal::OpenEngine(const std::string& dir, EngineOptions options,
                                                     storage::EventLogOptions log_options,
                                                     const OpenChecks& checks) {
  log_options.create_if_missing = options.create_if_missing;
  log_options.checkpoint_key_file = options.checkpoint_key_file;
  // EventLog::Open checks the log's structure: the recorded size is the last stored
  // event, the stored Merkle frontier recomputes to the recorded root, and RocksDB
  // checks what it reads (the write-ahead log's records, each table file's footer and
  // index blocks).
  auto log = storage::EventLog::Open(dir, log_options);
  if (!log.ok()) return log.status();

  const internal::BadSnapshot bad_snapshot = options.fall_back_past_bad_snapshots
                                                 ? internal::BadSnapshot::kFallBack
                                                 : internal::BadSnapshot::kFail;
  auto loaded = internal::LoadCheckedState(**log, checks, bad_snapshot);
  if (!loaded.ok()) {
    if (options.logger) {
      options.logger->Log(Logger::Level::kError, "refusing to open " + dir + ": " +
                                                     loaded.status().ToString() +
                                                     " (see `authledger recover`)");
    }
    return loaded.status();
  }

  if (options.logger) {
    for (const auto& skipped : loaded->skipped) {
      options.logger->Log(internal::SkippedLevel(skipped),
                          internal::SkippedMessage(skipped, loaded->snapshot_seq));
    }
  }
  auto engine = std::make_unique<EngineImpl>(std::move(log).value(), std::move(options),
                                             std::move(loaded).value());
  engine->Start();
  return std::unique_ptr<Engine>(std::move(engine));
}

namespace internal {

Result<LoadedState> LoadCheckedState(const storage::EventLog& log, const OpenChecks& checks,
                                     BadSnapshot bad_snapshot) {
  // The latest usable snapshot (its recorded root must be the log's at its seq), then
  // the events after it, each re-hashed against its Merkle leaf and the tree's root
  // recomputed over them; and the latest events before the snapshot, likewise, down to
  // checks.rehash_latest_events. Older events are not re-read: that is verify's full
  // pass (O(log size)), too slow for every open of a large log.
  auto loaded = LoadState(log, log.size(), /*verify_folded=*/true, bad_snapshot);
  if (!loaded.ok()) return loaded;
  const std::uint64_t size = log.size();
  const std::uint64_t from =
      size > checks.rehash_latest_events ? size - checks.rehash_latest_events + 1 : 1;
  if (from <= loaded->snapshot_seq) {
    Status latest = log.ScanVerified(from, loaded->snapshot_seq,
                                     [](const storage::DecodedEvent&) { return true; });
    if (!latest.ok()) return latest;
  }
  return loaded;
}

namespace {

std::vector<UnusableSnapshot> Unusable(const std::vector<SkippedSnapshot>& skipped) {
  std::vector<UnusableSnapshot> unusable;
  for (const auto& s : skipped) {
    unusable.push_back(
        {s.seq, std::string(s.why.reason()), std::string(s.why.message()), s.search_failed});
  }
  return unusable;
}

std::set<std::uint64_t> SeqsOf(const std::vector<SkippedSnapshot>& skipped) {
  std::set<std::uint64_t> seqs;
  for (const auto& s : skipped) seqs.insert(s.seq);
  return seqs;
}

}  // namespace

Logger::Level SkippedLevel(const SkippedSnapshot& skipped) {
  // Another history, or another seq: the snapshot and the log disagree, which a restore
  // from the wrong backup does, and so does a rewritten log. Damage and another
  // format are the cache's problems.
  if (skipped.why.reason() == "snapshot_mismatch") return Logger::Level::kError;
  if (skipped.why.reason() == "snapshot_format_unsupported") return Logger::Level::kInfo;
  return Logger::Level::kWarning;
}

std::string SkippedMessage(const SkippedSnapshot& skipped, std::uint64_t used) {
  std::string message = skipped.search_failed
                            ? "no snapshot at or before seq " + std::to_string(skipped.seq) +
                                  " could be searched for: " + skipped.why.ToString() + "; "
                            : "the snapshot at seq " + std::to_string(skipped.seq) +
                                  " was not used: " + skipped.why.ToString() + "; ";
  message += used > 0 ? "opening from the snapshot at seq " + std::to_string(used)
                      : "folding the log from its first event";
  if (skipped.why.reason() == "snapshot_format_unsupported") return message;
  return message +
         " (the events after it re-hashed against the Merkle tree, as at every open); "
         "`authledger verify` names the snapshot, `authledger recover` drops it";
}

EngineImpl::EngineImpl(std::unique_ptr<storage::EventLog> log, EngineOptions options,
                       LoadedState loaded)
    : log_(std::move(log)),
      options_(std::move(options)),
      published_(std::move(loaded.state)),
      last_snapshot_seq_(loaded.snapshot_seq),
      snapshot_requested_(!loaded.skipped.empty()),
      retention_ran_at_(loaded.snapshot_seq),
      opened_from_(loaded.snapshot_seq),
      unusable_at_open_(Unusable(loaded.skipped)),
      left_alone_(SeqsOf(loaded.skipped)) {
  if (!options_.clock) {
    options_.clock = [] {
      return std::chrono::duration_cast<std::chrono::microseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  }
  published_revision_.store(published_.revision);
}

void EngineImpl::Start() {
  background_ = std::thread([this] { BackgroundLoop(); });
}

EngineImpl::~EngineImpl() {
  {
    std::lock_guard lock(bg_mu_);
    stopping_ = true;
  }
  bg_cv_.notify_all();
  if (background_.joinable()) background_.join();
  if (log_->health().ok() && revision() > last_snapshot_seq_ && SnapshotAllowedAt(revision())) {
    Status s = WriteSnapshot();
    if (!s.ok()) Log(Logger::Level::kWarning, "final snapshot not written: " + s.ToString());
  }
  // Retention for the closing snapshot, or for any written since the last pass.
  if (log_->health().ok() && last_snapshot_seq_ > retention_ran_at_) ApplyRetention();
  log_.reset();  // stops the writer thread before the states it folds into go away
}

std::int64_t EngineImpl::Now() const { return options_.clock(); }

void EngineImpl::Log(Logger::Level level, const std::string& message) const {
  if (options_.logger) options_.logger->Log(level, message);
}

Result<EngineImpl::Submitted> EngineImpl::Submit(const Actor& actor, const Command& command,
                                                 const Inspect& inspect) {
  std::unique_lock decide_lock(decide_mu_);
  // Wait until no queued batch writes what this command reads.
  for (;;) {
    if (Status h = log_->health(); !h.ok()) {
      return Status::FailedPrecondition("engine_read_only",
                                        "the engine accepts no commands: " + h.ToString());
    }
    ReadSet reads;
    {
      std::shared_lock state_lock(state_mu_);
      reads = ReadsOf(published_, command);
    }
    std::unique_lock pending_lock(pending_mu_);
    auto blocked = [&] {
      if (reads.barrier) return pending_batches_ > 0;
      return std::any_of(reads.keys.begin(), reads.keys.end(),
                         [&](const std::string& k) { return pending_writes_.contains(k); });
    };
    if (!blocked()) break;
    decide_lock.unlock();
    pending_cv_.wait(pending_lock, [&] { return !blocked() || !log_->health().ok(); });
    pending_lock.unlock();
    decide_lock.lock();  // re-read: the state moved on while we waited
  }

  DecideContext ctx;
  ctx.now_us = std::max(Now(), log_->last_time_us());
  ctx.next_seq = log_->next_seq();
  ctx.actor = actor;
  Result<Decided> decided = Status::Unavailable("not_decided", "");
  {
    LongReadLock state_lock(state_mu_);
    decided = Decide(published_, command, ctx);
    if (decided.ok() && inspect) inspect(published_, *decided, ctx);
  }
  if (!decided.ok()) return decided.status();
  auto& events = decided->events;
  std::vector<std::string> writes;
  for (std::size_t i = 0; i < events.size(); ++i) {
    events[i].envelope().setSeq(ctx.next_seq + i);
    AppendWrites(events[i].reader(), &writes);
  }
  {
    std::lock_guard pending_lock(pending_mu_);
    for (const auto& k : writes) ++pending_writes_[k];
    ++pending_batches_;
  }
  auto release = [this](const std::vector<std::string>& keys) {
    {
      std::lock_guard pending_lock(pending_mu_);
      for (const auto& k : keys) {
        auto it = pending_writes_.find(k);
        if (it != pending_writes_.end() && --it->second == 0) pending_writes_.erase(it);
      }
      --pending_batches_;
    }
    pending_cv_.notify_all();
  };
  auto pending = log_->Enqueue(
      std::move(events),
      [this, writes, release](storage::SeqRange, const std::vector<storage::EventDraft>& batch) {
        {
          std::unique_lock state_lock(state_mu_);
          for (const auto& e : batch) Evolve(published_, e.reader());
          published_revision_.store(published_.revision, std::memory_order_release);
        }
        release(writes);
      });
  if (!pending.ok()) {
    release(writes);
    Log(Logger::Level::kError, "event log refused a batch: " + pending.status().ToString());
    return pending.status();
  }
  decide_lock.unlock();
  auto durable = pending->Wait();
  if (!durable.ok()) {
    // The batch never became durable: nothing of it is in the state. Waiters on its
    // keys are woken to find the engine read-only.
    {
      std::lock_guard pending_lock(pending_mu_);
      pending_writes_.clear();
    }
    pending_cv_.notify_all();
    Log(Logger::Level::kError, "the engine is read-only: " + durable.status().ToString());
    return durable.status();
  }
  Submitted result;
  result.revision = durable->last;
  result.decided = std::move(decided).value();
  if (snapshot_requested_.load() ||
      result.revision >= last_snapshot_seq_ + options_.snapshot_interval) {
    // Through bg_mu_, so that the wake-up cannot fall between the background thread's
    // test of its condition and its wait (it would sleep until the next command).
    { std::lock_guard lock(bg_mu_); }
    bg_cv_.notify_all();
  }
  return result;
}

Result<std::uint64_t> EngineImpl::SubmitForRevision(const Actor& actor, const Command& command) {
  auto r = Submit(actor, command);
  if (!r.ok()) return r.status();
  return r->revision;
}

Result<CreatedToken> EngineImpl::SubmitNewToken(
    const Actor& actor, TokenKind kind, const std::function<Command(const NewTokenId&)>& make) {
  auto secret = GenerateSecret(kind);
  if (!secret.ok()) return secret.status();
  auto r = Submit(actor, make(secret->id));
  if (!r.ok()) return r.status();
  if (!r->decided.rejection.ok()) return r->decided.rejection;
  return CreatedToken{secret->id.prefix, std::move(secret->secret), r->revision};
}

Result<std::uint64_t> EngineImpl::CreateOrganization(const Actor& actor, const std::string& org_id,
                                                     const std::string& name) {
  return SubmitForRevision(actor, CreateOrganizationCmd{org_id, name});
}
Result<std::uint64_t> EngineImpl::VerifyDomain(const Actor& actor, const std::string& org_id,
                                               const std::string& domain) {
  return SubmitForRevision(actor, VerifyDomainCmd{org_id, domain});
}
Result<std::uint64_t> EngineImpl::UnverifyDomain(const Actor& actor, const std::string& org_id,
                                                 const std::string& domain) {
  return SubmitForRevision(actor, UnverifyDomainCmd{org_id, domain});
}
Result<std::uint64_t> EngineImpl::AddIdp(const Actor& actor, const std::string& org_id,
                                         const IdpSpec& idp) {
  return SubmitForRevision(actor, AddIdpCmd{org_id, idp});
}
Result<std::uint64_t> EngineImpl::RemoveIdp(const Actor& actor, const std::string& org_id,
                                            const std::string& idp_id) {
  return SubmitForRevision(actor, RemoveIdpCmd{org_id, idp_id});
}
Result<std::uint64_t> EngineImpl::RegisterUser(const Actor& actor, const std::string& user_id,
                                               const std::string& email) {
  return SubmitForRevision(actor, RegisterUserCmd{user_id, email});
}
Result<std::uint64_t> EngineImpl::AddMember(const Actor& actor, const std::string& org_id,
                                            const std::string& user_id) {
  return SubmitForRevision(actor, AddMemberCmd{org_id, user_id});
}
Result<std::uint64_t> EngineImpl::RemoveMember(const Actor& actor, const std::string& org_id,
                                               const std::string& user_id) {
  return SubmitForRevision(actor, RemoveMemberCmd{org_id, user_id});
}
Result<std::uint64_t> EngineImpl::DeactivateUser(const Actor& actor, const std::string& org_id,
                                                 const std::string& user_id) {
  return SubmitForRevision(actor, DeactivateUserCmd{org_id, user_id});
}
Result<std::uint64_t> EngineImpl::ReactivateUser(const Actor& actor, const std::string& org_id,
                                                 const std::string& user_id) {
  return SubmitForRevision(actor, ReactivateUserCmd{org_id, user_id});
}
Result<std::uint64_t> EngineImpl::CreateApplicationUser(const Actor& actor,
                                                        const std::string& org_id,
                                                        const std::string& user_id,
                                                        const std::string& name) {
  return SubmitForRevision(actor, CreateApplicationUserCmd{org_id, user_id, name});
}
Result<std::uint64_t> EngineImpl::DeleteApplicationUser(const Actor& actor,
                                                        const std::string& org_id,
                                                        const std::string& user_id) {
  return SubmitForRevision(actor, DeleteApplicationUserCmd{org_id, user_id});
}
Result<std::uint64_t> EngineImpl::EnableTwoFactor(const Actor& actor, const std::string& user_id) {
  return SubmitForRevision(actor, SetTwoFactorCmd{user_id, true});
}
Result<std::uint64_t> EngineImpl::DisableTwoFactor(const Actor& actor, const std::string& user_id) {
  return SubmitForRevision(actor, SetTwoFactorCmd{user_id, false});
}
Result<std::uint64_t> EngineImpl::UpdateIpAllowlist(const Actor& actor, const std::string& org_id,
                                                    bool enabled,
                                                    const std::vector<std::string>& cidrs) {
  return SubmitForRevision(actor, UpdateIpAllowlistCmd{org_id, enabled, cidrs});
}
Result<std::uint64_t> EngineImpl::EndSession(const Actor& actor,
                                             const std::string& session_prefix) {
  return SubmitForRevision(actor, EndSessionCmd{session_prefix});
}
Result<std::uint64_t> EngineImpl::RevokeToken(const Actor& actor, const std::string& token_prefix,
                                              const std::string& org_id) {
  return SubmitForRevision(actor, RevokeTokenCmd{token_prefix, org_id});
}
Result<std::uint64_t> EngineImpl::ExpireUserTokens(const Actor& actor, const std::string& user_id) {
  return SubmitForRevision(actor, ExpireUserTokensCmd{user_id});
}

Result<CreatedToken> EngineImpl::RecordLogin(const Actor& actor, const LoginRequest& login) {
  return SubmitNewToken(actor, TokenKind::kSession, [&](const NewTokenId& id) -> Command {
    return RecordLoginCmd{login, id};
  });
}

Result<CreatedToken> EngineImpl::CreatePersonalToken(const Actor& actor,
                                                     const std::string& session_prefix,
                                                     const TokenSpec& spec) {
  return SubmitNewToken(actor, TokenKind::kPersonal, [&](const NewTokenId& id) -> Command {
    return CreatePersonalTokenCmd{session_prefix, spec, id};
  });
}

Result<CreatedToken> EngineImpl::CreateApplicationToken(const Actor& actor,
                                                        const std::string& org_id,
                                                        const std::string& app_user_id,
                                                        const TokenSpec& spec) {
  return SubmitNewToken(actor, TokenKind::kApplication, [&](const NewTokenId& id) -> Command {
    return CreateApplicationTokenCmd{org_id, app_user_id, spec, id};
  });
}

Result<PolicyChange> EngineImpl::UpdatePolicy(const Actor& actor, const std::string& org_id,
                                              const PolicyUpdate& update) {
  // The impact is computed on the very state the update is decided against.
  std::vector<ImpactEntry> impact;
  auto r = Submit(actor, UpdatePolicyCmd{org_id, update},
                  [&](const State& state, const Decided& decided, const DecideContext& ctx) {
                    impact = PolicyImpact(state, org_id, decided.policy_before,
                                          decided.policy_after, ctx.now_us);
                  });
  if (!r.ok()) return r.status();
  PolicyChange change;
  change.before = r->decided.policy_before;
  change.after = r->decided.policy_after;
  change.impact = std::move(impact);
  change.revision = r->revision;
  return change;
}

Result<PolicyChange> EngineImpl::DryRunPolicy(const Actor& actor, const std::string& org_id,
                                              const PolicyUpdate& update) const {
  // Against the durable state, without waiting for queued commands: a dry run is a
  // question about now, and appends nothing.
  DecideContext ctx;
  ctx.now_us = std::max(Now(), log_->last_time_us());
  ctx.next_seq = log_->next_seq();
  ctx.actor = actor;
  LongReadLock state_lock(state_mu_);
  auto decided = Decide(published_, UpdatePolicyCmd{org_id, update}, ctx);
  if (!decided.ok()) return decided.status();
  PolicyChange change;
  change.before = decided->policy_before;
  change.after = decided->policy_after;
  change.impact =
      PolicyImpact(published_, org_id, decided->policy_before, decided->policy_after, ctx.now_us);
  return change;
}

}  // namespace internal
}  // namespace authledger
