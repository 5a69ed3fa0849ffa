// The engine's background thread: token-use recording, periodic snapshots and their
// retention.
#include <algorithm>
#include <string>
#include <vector>

#include "engine/engine_impl.h"
#include "engine/state_store.h"

namespace authledger::internal {

namespace {

// Uses waiting for the recorder, at most. Beyond it (a flood of first uses faster than
// the disk records them) further uses are dropped: a token whose use is not recorded can
// only expire earlier, never later (fail closed), and memory stays bounded.
constexpr std::size_t kMaxPendingUses = 1u << 20;

std::string SeqList(const std::vector<std::uint64_t>& seqs) {
  std::string text;
  for (std::uint64_t seq : seqs) text += (text.empty() ? "" : ", ") + std::to_string(seq);
  return text.empty() ? "none" : text;
}

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
      if (stopping_ || !pending_use_.empty()) return true;
      // Snapshots and retention wait while the log is read-only (they would fail).
      const std::uint64_t rev = revision();
      return health().ok() &&
             (((snapshot_requested_ || rev >= last_snapshot_seq_ + options_.snapshot_interval) &&
               SnapshotAllowedAt(rev)) ||
              last_snapshot_seq_ > retention_ran_at_);
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
    bool snapshot_due =
        (snapshot_requested_ || rev >= last_snapshot_seq_ + options_.snapshot_interval) &&
        SnapshotAllowedAt(rev) && health().ok();
    if (snapshot_due) {
      snapshot_requested_ = false;
      lock.unlock();
      Status s = WriteSnapshot();
      if (s.ok()) {
        Log(Logger::Level::kInfo, "snapshot written at seq " + std::to_string(last_snapshot_seq_));
      } else {
        Log(Logger::Level::kWarning, "snapshot not written: " + s.ToString());
      }
      lock.lock();
      if (!s.ok()) last_snapshot_seq_ = rev;  // do not retry in a loop; the next interval will
    }
    // After any newer snapshot is durable: this thread's, or one WriteSnapshot wrote.
    // (A failed one moved last_snapshot_seq_ too; the pass then keeps what it finds.)
    if (last_snapshot_seq_ > retention_ran_at_ && health().ok()) {
      lock.unlock();
      ApplyRetention();
      lock.lock();
    }
    bg_busy_ = false;
    bg_idle_cv_.notify_all();
  }
  bg_busy_ = false;
  bg_idle_cv_.notify_all();
}

void EngineImpl::ApplyRetention() {
  retention_ran_at_ = last_snapshot_seq_.load();
  auto fail = [this](const Status& s) {
    Log(Logger::Level::kWarning, "snapshot retention failed: " + s.ToString());
    std::lock_guard lock(retention_mu_);
    retention_problem_ = s.ToString();
  };
  auto stored = log_->SnapshotSeqs();
  if (!stored.ok()) return fail(stored.status());
  const std::vector<std::uint64_t> doomed =
      SnapshotsToDelete(*stored, options_.snapshot_retention, left_alone_);
  auto deleted = log_->DeleteSnapshots(doomed, /*orphans=*/true);
  if (!deleted.ok()) return fail(deleted.status());
  {
    std::lock_guard lock(retention_mu_);
    deleted_ += deleted->seqs.size();
    orphans_deleted_ += deleted->orphans.size();
    retention_problem_.clear();
  }
  if (!deleted->seqs.empty()) {
    std::vector<std::uint64_t> kept;
    std::set_difference(stored->begin(), stored->end(), deleted->seqs.begin(), deleted->seqs.end(),
                        std::back_inserter(kept));
    Log(Logger::Level::kInfo, "snapshot retention deleted the snapshots at seqs " +
                                  SeqList(deleted->seqs) + "; kept " + SeqList(kept));
  }
  if (!deleted->orphans.empty()) {
    Log(Logger::Level::kInfo,
        "deleted the chunks of snapshots a crash cut short, at seqs " + SeqList(deleted->orphans));
  }
}

SnapshotStatus EngineImpl::Snapshots() const {
  SnapshotStatus status;
  auto stored = log_->SnapshotSeqs();
  if (stored.ok()) {
    status.stored = std::move(stored).value();
  } else {
    status.stored_problem = stored.status().ToString();
  }
  status.opened_from = opened_from_;
  status.unusable_at_open = unusable_at_open_;
  std::lock_guard lock(retention_mu_);
  status.deleted = deleted_;
  status.orphans_deleted = orphans_deleted_;
  status.retention_problem = retention_problem_;
  return status;
}

}  // namespace authledger::internal
