#include "engine/state_store.h"

#include <string>

#include "engine/snapshot.h"

namespace authledger::internal {

Result<LoadedState> LoadState(const storage::EventLog& log, std::uint64_t seq) {
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
    auto state = DecodeSnapshot(
        (*snapshot)->bytes,
        [&](std::uint32_t chunk, const std::function<Status(std::string_view)>& use) {
          return log.ReadSnapshotChunk(at, chunk, use);
        },
        at);
    // A snapshot of another format is a cache this build cannot read: fold instead.
    if (state.ok()) {
      loaded.state = std::move(state).value();
      loaded.snapshot_seq = at;
    } else if (state.status().reason() != "snapshot_format_unsupported") {
      return state.status();
    }
  }
  if (loaded.state.revision < seq) {
    Status folded = log.Scan(loaded.state.revision + 1, seq, [&](const storage::DecodedEvent& e) {
      Evolve(loaded.state, e.envelope());
      return true;
    });
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
  const std::vector<std::string_view> chunks = ChunkBytes(snapshot.image);
  if (Status s = log.PutSnapshotChunks(snapshot.seq, chunks); !s.ok()) return s;
  return log.PutSnapshot(snapshot.seq, PackHeader(snapshot.image));
}

}  // namespace authledger::internal
