// The engine's background thread: token-use recording and periodic snapshots.
#include "engine/engine_impl.h"

namespace authledger::internal {

void EngineImpl::NoteUse(std::string prefix, const CheckContext& ctx) const {
  std::lock_guard lock(bg_mu_);
  auto [it, inserted] = pending_use_.try_emplace(prefix);
  if (!inserted && it->second.used_us >= ctx.time_us) return;
  it->second = RecordTokenUseCmd{std::move(prefix), ctx.time_us, ctx.ip};
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
    std::unordered_map<std::string, RecordTokenUseCmd> uses;
    uses.swap(pending_use_);
    bg_busy_ = true;
    lock.unlock();
    for (auto& [prefix, use] : uses) {
      if (!health().ok()) break;
      auto r = Submit(Actor::System(), use);
      // A token revoked or used again meanwhile is not an error worth reporting.
      if (!r.ok() && r.status().code() != Status::Code::kConflict &&
          r.status().code() != Status::Code::kNotFound) {
        Log(Logger::Level::kWarning,
            "token use of " + prefix + " not recorded: " + r.status().ToString());
      }
    }
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
