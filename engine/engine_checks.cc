// The read side of the engine: checks, explanations and queries over published state.
#include "engine/engine_impl.h"
#include "engine/log_checkpoint.h"
#include "engine/rules.h"
#include "engine/snapshot.h"
#include "engine/state_store.h"
#include "engine/token_secret.h"
#include "storage/hash.h"

namespace authledger::internal {

namespace {

// The token a secret names: found by its public prefix (`key`, the key of
// PrefixOfSecret(secret)), accepted only if the secret's SHA-256 (`digest`) matches the
// stored one (compared in constant time). A wrong secret with a known prefix is
// indistinguishable from an unknown token. `hash` is key.Hash().
const TokenRecord* FindByDigest(const State& s, const PrefixKey& key, std::uint64_t hash,
                                const storage::Hash& digest) {
  const Idx i = s.tokens.Find(key, hash);
  if (i == kNoIdx) return nullptr;
  const TokenRecord& t = s.tokens.at(i);
  return SameDigest(digest, t.secret_hash) ? &t : nullptr;
}

const TokenRecord* FindBySecret(const State& s, std::string_view secret) {
  const PrefixKey key(PrefixOfSecret(secret));
  return FindByDigest(s, key, key.Hash(), storage::Sha256(secret));
}

}  // namespace

Decision EngineImpl::CheckToken(std::string_view secret, std::string_view org_id,
                                const CheckContext& ctx) const {
  std::shared_lock lock(state_mu_);
  // Among many tokens a check is mostly cache misses, one after another: the token's
  // index slot, its record, its owner. The record's is hidden behind the secret's
  // SHA-256: the slot is requested first, the organization found while it arrives, then
  // the record requested and the secret hashed while that arrives.
  const PrefixKey key(PrefixOfSecret(secret));
  const std::uint64_t hash = key.Hash();
  if (key.valid()) published_.tokens.PrefetchSlot(hash);
  const Idx org_idx = published_.OrgIdx(org_id);
  if (key.valid()) published_.tokens.PrefetchRecord(hash);
  const storage::Hash digest = storage::Sha256(secret);
  const TokenRecord* token = FindByDigest(published_, key, hash, digest);
  Decision d = CheckTokenInOrg(published_, token, org_id, org_idx, ctx);
  const bool note_use =
      d.allowed && ctx.time_us - token->last_used_us >= options_.token_use_interval_us;
  lock.unlock();
  if (note_use) NoteUse(d.token_prefix, ctx);
  return d;
}

Explanation EngineImpl::ExplainToken(const std::function<const TokenRecord*(const State&)>& find,
                                     std::string_view org_id, const CheckContext& ctx) const {
  std::shared_lock lock(state_mu_);
  Explanation e;
  e.decision = CheckTokenAgainst(published_, find(published_), org_id, ctx, &e.trace);
  return e;
}

Explanation EngineImpl::Explain(std::string_view secret, std::string_view org_id,
                                const CheckContext& ctx) const {
  return ExplainToken([&](const State& s) { return FindBySecret(s, secret); }, org_id, ctx);
}

Explanation EngineImpl::ExplainPrefix(std::string_view token_prefix, std::string_view org_id,
                                      const CheckContext& ctx) const {
  return ExplainToken([&](const State& s) { return s.FindToken(token_prefix); }, org_id, ctx);
}

Decision EngineImpl::CanCreatePersonalToken(const std::string& session_prefix,
                                            const CheckContext& ctx) const {
  std::shared_lock lock(state_mu_);
  Decision d;
  d.rule = "R3";
  d.revision = published_.revision;
  d.token_prefix = session_prefix;
  const TokenRecord* session = published_.FindToken(session_prefix);
  std::string_view reason = "unknown_token";
  if (session != nullptr) {
    const User& user = published_.OwnerOf(*session);
    d.user_id = user.id;
    reason = CreatePersonalTokenRule(published_, user, *session, ctx.time_us);
    if (const Organization* managing = published_.ManagingOrg(user)) d.org_id = managing->id;
  }
  d.allowed = reason == kOk;
  d.reason = reason;
  return d;
}

Result<AuthenticationPolicy> EngineImpl::GetPolicy(const std::string& org_id) const {
  std::shared_lock lock(state_mu_);
  const Organization* org = published_.FindOrg(org_id);
  if (org == nullptr) {
    return Status::NotFound("unknown_organization", "no organization '" + org_id + "'");
  }
  return org->policy;
}

Result<IpAllowlist> EngineImpl::GetIpAllowlist(const std::string& org_id) const {
  std::shared_lock lock(state_mu_);
  const Organization* org = published_.FindOrg(org_id);
  if (org == nullptr) {
    return Status::NotFound("unknown_organization", "no organization '" + org_id + "'");
  }
  return org->allowlist;
}

std::uint64_t EngineImpl::revision() const {
  return published_revision_.load(std::memory_order_acquire);
}

Status EngineImpl::health() const { return log_->health(); }

State EngineImpl::PublishedState() const {
  LongReadLock lock(state_mu_);
  return published_;
}

Result<LogCheckpoint> EngineImpl::Checkpoint() const {
  auto c = log_->CurrentCheckpoint();
  if (!c.ok()) return c.status();
  return PublicCheckpoint(*c);
}

Status EngineImpl::WriteSnapshot() {
  // Writers wait while the state is copied, so the copy's memory (a GiB at 10M tokens)
  // is made ready before the lock, for the tokens there are now and some to spare;
  // should more have come meanwhile, the copy allocates as usual.
  std::size_t tokens = 0;
  {
    std::shared_lock lock(state_mu_);
    tokens = published_.tokens.size();
  }
  RecordVector room = PrefaultedRecords(tokens + tokens / 64 + 4096);
  PreparedSnapshot snapshot;
  {
    LongReadLock lock(state_mu_);
    snapshot = {published_.revision,
                CopyForSnapshot(published_, kSnapshotChunkRecords, std::move(room))};
  }
  const std::uint64_t seq = snapshot.seq;
  Status s = StoreSnapshot(*log_, snapshot);
  if (s.ok()) {
    std::lock_guard lock(bg_mu_);
    last_snapshot_seq_.store(std::max(last_snapshot_seq_.load(), seq));
  }
  return s;
}

}  // namespace authledger::internal
