// The engine's background thread: token-use recording and periodic snapshots.
#include "engine/engine_impl.h"

namespace authledger::internal {

namespace {

// Uses waiting for the recorder, at most. Beyond it (a flood of first uses faster than
// the disk records them) further uses are dropped: a token whose use is not recorded can
// only expire earlier, never later (fail closed), and memory stays bounded.
constexpr std::size_t kMaxPendingUses = 1u << 20;

}  // namespace

void EngineImpl::NoteUse(std::string prefix, const CheckContext& ctx) const {
  std::lock_guard lock(bg_mu_);
  if (pending_use_.size() >= kMaxPendingUses && !pending_use_.contains(prefix)) return;
  auto [it, inserted] = pending_use_.try_emplace(prefix);
  if (!inserted && it->second.used_us >= ctx.time_us) return;
  it->second = TokenUse{std::move(prefix), ctx.time_us, ctx.ip};
  bg_cv_.notify_all();
}

void EngineImpl::FlushTokenUse() {
  std::unique_lock lock(bg_mu_);
  bg_cv_.notify_all();
  bg_idle_cv_.wait(lock, [this] { return (pending_use_.empty() && !bg_busy_) || stopping_; });
}

void EngineImpl::BackgroundLoop() {
  std::unique_lock lock(bg_mu_);
  for (;;) {
    bg_cv_.wait(lock, [this] {
      return stopping_ || !pending_use_.empty() ||
             revision() >= last_snapshot_seq_ + options_.snapshot_interval;
    });
    if (stopping_) break;
    std::unordered_map<std::string, TokenUse> uses;
    uses.swap(pending_use_);
    bg_busy_ = true;
    lock.unlock();
    // Many uses per command: one batch, one fsync.
    constexpr std::size_t kUsesPerBatch = 4096;
    RecordTokenUseCmd batch;
    auto submit = [&] {
      if (batch.uses.empty() || !health().ok()) return;
      auto r = Submit(Actor::System(), std::move(batch));
      // Nothing left to record (tokens revoked or used again meanwhile) is no error.
      if (!r.ok() && r.status().code() != Status::Code::kConflict) {
        Log(Logger::Level::kWarning, "token use not recorded: " + r.status().ToString());
      }
      batch = {};
    };
    for (auto& [prefix, use] : uses) {
      batch.uses.push_back(std::move(use));
      if (batch.uses.size() == kUsesPerBatch) submit();
    }
    submit();
    std::uint64_t rev = revision();
    lock.lock();
    bool snapshot_due = rev >= last_snapshot_seq_ + options_.snapshot_interval && health().ok();
    if (snapshot_due) {
      lock.unlock();
      Status s = WriteSnapshot();
      if (!s.ok()) Log(Logger::Level::kWarning, "snapshot not written: " + s.ToString());
      lock.lock();
      if (!s.ok()) last_snapshot_seq_ = rev;  // do not retry in a loop; the next interval will
    }
    bg_busy_ = false;
    bg_idle_cv_.notify_all();
  }
  bg_busy_ = false;
  bg_idle_cv_.notify_all();
}

}  // namespace authledger::internal
