#include "engine/state_store.h"

#include <algorithm>
#include <cstddef>
#include <string>

#include "engine/fold.h"
#include "engine/snapshot.h"

namespace authledger::internal {

namespace {

std::string_view RootBytes(const storage::Hash& root) {
  return {reinterpret_cast<const char*>(root.data()), root.size()};
}

}  // namespace

Result<LoadedState> LoadState(const storage::EventLog& log, std::uint64_t seq, bool verify_folded,
                              BadSnapshot bad_snapshot) {
  if (seq > log.size()) {
    return Status::InvalidArgument("seq_out_of_range", "seq " + std::to_string(seq) +
                                                           " is past the end of the log (" +
                                                           std::to_string(log.size()) + ")");
  }
  LoadedState loaded;
  const bool fall_back = bad_snapshot == BadSnapshot::kFallBack;
  // From the nearest snapshot down, until one is usable or there is none left.
  for (std::uint64_t at_most = seq;;) {
    auto snapshot = log.NearestSnapshot(at_most);
    if (!snapshot.ok()) {
      // The search itself failed (see SkippedSnapshot::search_failed): no snapshot at
      // or below `at_most` can be found, so fold from the first event.
      if (!fall_back || snapshot.status().code() != Status::Code::kCorruption) {
        return snapshot.status();
      }
      loaded.skipped.push_back({at_most, snapshot.status(), /*search_failed=*/true});
      break;
    }
    if (!snapshot->has_value()) break;
    const std::uint64_t at = (*snapshot)->seq;
    auto log_root = log.RootAt(at);
    if (!log_root.ok()) return log_root.status();
    auto state = DecodeSnapshot(
        (*snapshot)->bytes,
        [&](std::uint32_t chunk, const std::function<Status(std::string_view)>& use) {
          return log.ReadSnapshotChunk(at, chunk, use);
        },
        at, RootBytes(*log_root));
    if (state.ok()) {
      loaded.state = std::move(state).value();
      loaded.snapshot_seq = at;
      break;
    }
    const bool other_format = state.status().reason() == "snapshot_format_unsupported";
    if (!other_format && !(fall_back && state.status().code() == Status::Code::kCorruption)) {
      return state.status();
    }
    loaded.skipped.push_back({at, state.status()});
    // A snapshot of another format is a cache this build cannot read. kFail folds from
    // the first event then, which is what `verify` relies on to tell it apart.
    if (!fall_back || at == 0) break;
    at_most = at - 1;
  }
  FoldOptions fold;
  fold.verified = verify_folded;
  if (Status folded = FoldLog(log, seq, loaded.state, fold); !folded.ok()) return folded;
  return loaded;
}

PreparedSnapshot PrepareSnapshot(const State& state) {
  return {state.revision, CopyForSnapshot(state)};
}

Status StoreSnapshot(storage::EventLog& log, const PreparedSnapshot& snapshot) {
  // The chunks first, the header last: until the header is stored the snapshot is not
  // found, so one cut short is never half-read.
  // The log's root at the snapshot's seq goes into its header: a snapshot copied from
  // another history is then never trusted (LoadState passes over it or refuses it).
  auto root = log.RootAt(snapshot.seq);
  if (!root.ok()) return root.status();
  SetLogRoot(snapshot.image, RootBytes(*root));
  const std::vector<std::string_view> chunks = ChunkBytes(snapshot.image);
  if (Status s = log.PutSnapshotChunks(snapshot.seq, chunks); !s.ok()) return s;
  return log.PutSnapshot(snapshot.seq, PackHeader(snapshot.image));
}

std::vector<std::uint64_t> SnapshotsToDelete(const std::vector<std::uint64_t>& stored,
                                             const SnapshotRetention& retention,
                                             const std::set<std::uint64_t>& left_alone) {
  if (retention.keep_latest == 0) return {};
  std::vector<std::uint64_t> counted;
  for (std::uint64_t seq : stored) {
    if (!left_alone.contains(seq)) counted.push_back(seq);
  }
  std::set<std::uint64_t> kept;
  const std::size_t latest = std::min<std::size_t>(retention.keep_latest, counted.size());
  kept.insert(counted.end() - static_cast<std::ptrdiff_t>(latest), counted.end());
  if (retention.keep_every_events > 0) {
    // The first snapshot at or after each multiple: once first, always first (later
    // snapshots have greater seqs), so the tier never churns.
    std::vector<std::uint64_t> firsts;
    for (std::uint64_t seq : counted) {
      if (firsts.empty() ||
          seq / retention.keep_every_events != firsts.back() / retention.keep_every_events) {
        firsts.push_back(seq);
      }
    }
    std::size_t from = 0;
    if (retention.keep_every_max > 0 && firsts.size() > retention.keep_every_max) {
      from = firsts.size() - retention.keep_every_max;
    }
    kept.insert(firsts.begin() + static_cast<std::ptrdiff_t>(from), firsts.end());
  }
  std::vector<std::uint64_t> doomed;
  for (std::uint64_t seq : counted) {
    if (!kept.contains(seq)) doomed.push_back(seq);
  }
  return doomed;
}

}  // namespace authledger::internal
