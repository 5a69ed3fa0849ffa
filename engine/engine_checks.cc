// The read side of the engine: checks, explanations and queries over published state.
#include "engine/engine_impl.h"
#include "engine/rules.h"
#include "engine/snapshot.h"
#include "engine/token_secret.h"
#include "storage/hash.h"

namespace authledger::internal {

Decision EngineImpl::CheckToken(std::string_view secret, std::string_view org_id,
                                const CheckContext& ctx) const {
  const storage::Hash hash = storage::Sha256(secret);
  bool note_use = false;
  Decision d;
  {
    std::shared_lock lock(state_mu_);
    const Token* token = published_.FindTokenBySecretHash(hash);
    d = CheckTokenAgainst(published_, token, org_id, ctx, nullptr);
    note_use = d.allowed && ctx.time_us - token->last_used_us >= options_.token_use_interval_us;
  }
  if (note_use) NoteUse(d.token_prefix, ctx);
  return d;
}

Explanation EngineImpl::Explain(std::string_view secret, std::string_view org_id,
                                const CheckContext& ctx) const {
  const storage::Hash hash = storage::Sha256(secret);
  std::shared_lock lock(state_mu_);
  Explanation e;
  e.decision =
      CheckTokenAgainst(published_, published_.FindTokenBySecretHash(hash), org_id, ctx, &e.trace);
  return e;
}

Explanation EngineImpl::ExplainPrefix(std::string_view token_prefix, std::string_view org_id,
                                      const CheckContext& ctx) const {
  std::shared_lock lock(state_mu_);
  Explanation e;
  e.decision = CheckTokenAgainst(published_, published_.FindToken(std::string(token_prefix)),
                                 org_id, ctx, &e.trace);
  return e;
}

Decision EngineImpl::CanCreatePersonalToken(const std::string& session_prefix,
                                            const CheckContext& ctx) const {
  std::shared_lock lock(state_mu_);
  Decision d;
  d.rule = "R3";
  d.revision = published_.revision;
  d.token_prefix = session_prefix;
  const Token* session = published_.FindToken(session_prefix);
  std::string_view reason = "unknown_token";
  if (session != nullptr) {
    d.user_id = session->owner;
    auto user = published_.users.find(session->owner);
    reason = user == published_.users.end()
                 ? std::string_view("unknown_user")
                 : CreatePersonalTokenRule(published_, user->second, *session, ctx.time_us);
    if (user != published_.users.end()) {
      if (const Organization* managing = published_.ManagingOrg(user->second)) {
        d.org_id = managing->id;
      }
    }
  }
  d.allowed = reason == kOk;
  d.reason = reason;
  return d;
}

Result<AuthenticationPolicy> EngineImpl::GetPolicy(const std::string& org_id) const {
  std::shared_lock lock(state_mu_);
  auto it = published_.orgs.find(org_id);
  if (it == published_.orgs.end()) {
    return Status::NotFound("unknown_organization", "no organization '" + org_id + "'");
  }
  return it->second.policy;
}

Result<IpAllowlist> EngineImpl::GetIpAllowlist(const std::string& org_id) const {
  std::shared_lock lock(state_mu_);
  auto it = published_.orgs.find(org_id);
  if (it == published_.orgs.end()) {
    return Status::NotFound("unknown_organization", "no organization '" + org_id + "'");
  }
  return it->second.allowlist;
}

std::uint64_t EngineImpl::revision() const {
  return published_revision_.load(std::memory_order_acquire);
}

Status EngineImpl::health() const { return log_->health(); }

State EngineImpl::PublishedState() const {
  std::shared_lock lock(state_mu_);
  return published_;
}

Result<LogCheckpoint> EngineImpl::Checkpoint() const {
  auto c = log_->CurrentCheckpoint();
  if (!c.ok()) return c.status();
  LogCheckpoint out;
  out.size = c->size;
  out.root_hex = storage::ToHex(c->root);
  out.time_us = c->time_us;
  out.signature_hex = storage::ToHex(c->signature);
  out.key_id = c->key_id;
  return out;
}

Status EngineImpl::WriteSnapshot() {
  std::string bytes;
  std::uint64_t seq = 0;
  {
    std::shared_lock lock(state_mu_);
    bytes = EncodeSnapshot(published_);
    seq = published_.revision;
  }
  Status s = log_->PutSnapshot(seq, bytes);
  if (s.ok()) {
    std::lock_guard lock(bg_mu_);
    last_snapshot_seq_ = std::max(last_snapshot_seq_, seq);
  }
  return s;
}

}  // namespace authledger::internal
