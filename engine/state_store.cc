#include "engine/state_store.h"

#include <string>

#include "engine/snapshot.h"

namespace authledger::internal {

namespace {

std::string_view RootBytes(const storage::Hash& root) {
  return {reinterpret_cast<const char*>(root.data()), root.size()};
}

}  // namespace

Result<LoadedState> LoadState(const storage::EventLog& log, std::uint64_t seq, bool verify_folded) {
  if (seq > log.size()) {
    return Status::InvalidArgument("seq_out_of_range", "seq " + std::to_string(seq) +
                                                           " is past the end of the log (" +
                                                           std::to_string(log.size()) + ")");
  }
  LoadedState loaded;
  auto snapshot = log.NearestSnapshot(seq);
  if (!snapshot.ok()) return snapshot.status();
  if (snapshot->has_value()) {
    const std::uint64_t at = (*snapshot)->seq;
    auto log_root = log.RootAt(at);
    if (!log_root.ok()) return log_root.status();
    auto state = DecodeSnapshot(
        (*snapshot)->bytes,
        [&](std::uint32_t chunk, const std::function<Status(std::string_view)>& use) {
          return log.ReadSnapshotChunk(at, chunk, use);
        },
        at, RootBytes(*log_root));
    // A snapshot of another format is a cache this build cannot read: fold instead.
    if (state.ok()) {
      loaded.state = std::move(state).value();
      loaded.snapshot_seq = at;
    } else if (state.status().reason() != "snapshot_format_unsupported") {
      return state.status();
    }
  }
  if (loaded.state.revision < seq) {
    auto fold = [&](const storage::DecodedEvent& e) {
      Evolve(loaded.state, e.envelope());
      return true;
    };
    const std::uint64_t from = loaded.state.revision + 1;
    Status folded = verify_folded ? log.ScanVerified(from, seq, fold) : log.Scan(from, seq, fold);
    if (!folded.ok()) return folded;
  }
  return loaded;
}

PreparedSnapshot PrepareSnapshot(const State& state) {
  return {state.revision, CopyForSnapshot(state)};
}

Status StoreSnapshot(storage::EventLog& log, const PreparedSnapshot& snapshot) {
  // The chunks first, the header last: until the header is stored the snapshot is not
  // found, so one cut short is never half-read.
  // The log's root at the snapshot's seq goes into its header: a snapshot copied from
  // another history is then refused at open rather than trusted.
  auto root = log.RootAt(snapshot.seq);
  if (!root.ok()) return root.status();
  SetLogRoot(snapshot.image, RootBytes(*root));
  const std::vector<std::string_view> chunks = ChunkBytes(snapshot.image);
  if (Status s = log.PutSnapshotChunks(snapshot.seq, chunks); !s.ok()) return s;
  return log.PutSnapshot(snapshot.seq, PackHeader(snapshot.image));
}

}  // namespace authledger::internal
