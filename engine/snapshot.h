// Snapshots of the engine's State (schema/snapshot.capnp, format 3): a header and chunks.
//
// The header is packed Cap'n Proto holding everything but the token records (orgs,
// users, IdPs, interned methods and IP lists), the record count and the layout of the
// records. The token records — nearly all of a large state, 112 bytes each — are stored
// as their raw in-memory bytes, `chunk_records` to a chunk. Writing is then one memcpy
// of the records (under the engine's lock) and loading is a memcpy per chunk, on
// several threads, instead of a field-by-field encode and decode of 10M tokens.
//
// Every loaded record is validated before anything reads it as a record (byte counts,
// each flag a bool, the prefix terminated, every index within the state), the owners'
// token lists are checked against the record order and the prefix index is rebuilt, so
// that a damaged snapshot is Corruption("snapshot_undecodable"), never undefined
// behaviour, and a decoded snapshot equals the state it was made from, field by field.
//
// Thread-safety: functions of their arguments. CopyForSnapshot reads `state` without
// synchronizing (the caller holds it steady); DecodeSnapshot calls `read_chunk` from
// several threads at once.
#pragma once

#include <authledger/status.h>
#include <capnp/message.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/state.h"

namespace authledger::internal {

// 64Ki records, 7 MiB: large enough that a 10M-token state is ~150 values, small enough
// that two threads share the work evenly and no value strains RocksDB.
inline constexpr std::uint32_t kSnapshotChunkRecords = 1u << 16;

// A State copied into a snapshot's shape, ready to encode and store without the state.
struct SnapshotImage {
  std::uint64_t revision = 0;
  std::uint32_t chunk_records = kSnapshotChunkRecords;
  std::unique_ptr<capnp::MallocMessageBuilder> header;  // complete but for packing
  RecordVector records;
};

// Copies `state` into an image: the small part into a header message, the records by
// one memcpy. This is what must run with the state held steady. The records go into
// `room` if it has the capacity (see PrefaultedRecords).
SnapshotImage CopyForSnapshot(const State& state,
                              std::uint32_t chunk_records = kSnapshotChunkRecords,
                              RecordVector room = {});
// Room for `n` records, every page already written (by two threads), so that a copy
// into it under a lock takes no page faults: on a virtualized host, first writes to a
// GiB of fresh memory cost several times the copy itself.
RecordVector PrefaultedRecords(std::size_t n);
// The header's stored bytes.
std::string PackHeader(const SnapshotImage& image);
// The chunks' stored bytes: views into image.records.
std::vector<std::string_view> ChunkBytes(const SnapshotImage& image);

// Reads chunk `chunk` and passes its bytes to `use`, returning what `use` returns; a
// NotFound means the chunk is missing. Called from several threads at once.
using ChunkReader =
    std::function<Status(std::uint32_t chunk, const std::function<Status(std::string_view)>& use)>;

// The state a snapshot holds: its header's bytes, and its chunks read through
// `read_chunk`. The header is decoded on one thread while the others already load
// chunks. Corruption("snapshot_undecodable") if the header or a chunk is damaged or a
// chunk missing; Corruption("snapshot_mismatch") if `stored_at` is given and the header
// describes another revision (checked before anything is loaded);
// FailedPrecondition("snapshot_format_unsupported") for a snapshot of another format
// (an older or newer build's), which a reader ignores: the log rebuilds what it held.
// Also Corruption("snapshot_mismatch") if `log_root` (the log's Merkle root at
// `stored_at`, 32 bytes) is given and the header records another: the snapshot was made
// from another history. A header recording no root (written before roots were
// recorded) is not compared.
Result<State> DecodeSnapshot(std::string_view header, const ChunkReader& read_chunk,
                             std::optional<std::uint64_t> stored_at = std::nullopt,
                             std::string_view log_root = {});
// Records the log's Merkle root at the image's revision in its header (before packing).
// (The header is a builder the image points to, so a stored image can still get it.)
void SetLogRoot(const SnapshotImage& image, std::string_view log_root);

// A whole snapshot in memory (tests, tools): the header and the chunks' bytes.
struct EncodedSnapshot {
  std::string header;
  std::vector<std::string> chunks;
};
EncodedSnapshot EncodeSnapshot(const State& state,
                               std::uint32_t chunk_records = kSnapshotChunkRecords);
// DecodeSnapshot with the chunks of `snapshot`.
Result<State> DecodeSnapshot(const EncodedSnapshot& snapshot);

}  // namespace authledger::internal
