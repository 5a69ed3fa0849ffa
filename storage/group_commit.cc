#include "storage/group_commit.h"

#include <string>

#include "storage/merkle.h"

namespace authledger::storage {

void CommitSlot::Prepare() {
  bytes.clear();
  leaves.clear();
  bytes.reserve(drafts.size());
  leaves.reserve(drafts.size());
  std::uint64_t seq = first_seq;
  for (auto& draft : drafts) {
    draft.envelope().setSeq(seq++);
    bytes.push_back(CanonicalBytes(draft.reader()));
    leaves.push_back(LeafHash(AsBytes(bytes.back())));
  }
}

void CommitSlot::Complete(Status status) {
  std::lock_guard lock(mu_);
  if (done_) return;
  status_ = std::move(status);
  done_ = true;
  cv_.notify_all();
}

Status CommitSlot::Wait() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return done_; });
  return status_;
}

CommitQueue::CommitQueue(std::uint64_t next_seq, std::int64_t last_time_us)
    : next_seq_(next_seq), last_time_us_(last_time_us) {}

Status CommitQueue::Admit(const std::shared_ptr<CommitSlot>& slot) {
  std::lock_guard lock(mu_);
  if (!failure_.ok()) {
    return Status::FailedPrecondition(
        "log_read_only",
        "the event log is read-only after a write failure (" + failure_.ToString() + ")");
  }
  if (stopping_) return Status::Unavailable("log_closing", "the event log is closing");
  std::int64_t previous = last_time_us_;
  for (const auto& draft : slot->drafts) {
    std::int64_t t = draft.reader().getTimeUs();
    if (t < previous) {
      return Status::InvalidArgument("time_decreased",
                                     "event time " + std::to_string(t) +
                                         " is earlier than the previous event's " +
                                         std::to_string(previous));
    }
    previous = t;
  }
  slot->first_seq = next_seq_;
  slot->last_time_us = previous;
  next_seq_ += slot->drafts.size();
  last_time_us_ = previous;
  queue_.push_back(slot);
  return Status::Ok();
}

void CommitQueue::MarkPrepared(const std::shared_ptr<CommitSlot>& slot) {
  std::lock_guard lock(mu_);
  slot->prepared_ = true;
  ready_.notify_all();
}

std::vector<std::shared_ptr<CommitSlot>> CommitQueue::TakeGroup(std::size_t max_events) {
  std::unique_lock lock(mu_);
  ready_.wait(lock, [this] {
    return (!queue_.empty() && queue_.front()->prepared_) || (stopping_ && queue_.empty());
  });
  std::vector<std::shared_ptr<CommitSlot>> group;
  std::size_t events = 0;
  while (!queue_.empty() && queue_.front()->prepared_) {
    std::size_t n = queue_.front()->drafts.size();
    if (!group.empty() && events + n > max_events) break;
    events += n;
    group.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return group;
}

void CommitQueue::Fail(const Status& cause) {
  std::deque<std::shared_ptr<CommitSlot>> dropped;
  {
    std::lock_guard lock(mu_);
    if (failure_.ok()) failure_ = cause;
    dropped.swap(queue_);
    ready_.notify_all();
  }
  for (auto& slot : dropped) {
    slot->Complete(Status::IoError(
        "log_write_failed", "not written: an earlier group failed (" + cause.ToString() + ")"));
  }
}

void CommitQueue::Stop() {
  std::lock_guard lock(mu_);
  stopping_ = true;
  ready_.notify_all();
}

std::uint64_t CommitQueue::next_seq() const {
  std::lock_guard lock(mu_);
  return next_seq_;
}

std::int64_t CommitQueue::last_time_us() const {
  std::lock_guard lock(mu_);
  return last_time_us_;
}

Status CommitQueue::health() const {
  std::lock_guard lock(mu_);
  return failure_;
}

}  // namespace authledger::storage
