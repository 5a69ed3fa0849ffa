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
    auto decoded = DecodeSnapshot((*snapshot)->bytes);
    if (!decoded.ok()) return decoded.status();
    if (decoded->revision != (*snapshot)->seq) {
      return Status::Corruption("snapshot_mismatch",
                                "the snapshot stored at " + std::to_string((*snapshot)->seq) +
                                    " describes revision " + std::to_string(decoded->revision));
    }
    loaded.state = std::move(decoded).value();
    loaded.snapshot_seq = (*snapshot)->seq;
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
  return {state.revision, EncodeSnapshot(state)};
}

Status StoreSnapshot(storage::EventLog& log, const PreparedSnapshot& snapshot) {
  return log.PutSnapshot(snapshot.seq, snapshot.bytes);
}

}  // namespace authledger::internal
