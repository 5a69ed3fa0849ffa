// Deliberate damage to a closed log, for tests of tamper evidence and for the fault
// drills of operators: these edit the stored bytes behind the log's back exactly as an
// attacker with file access could, bypassing every invariant EventLog keeps.
//
// Never used by the engine. Each function opens the RocksDB database at `dir` directly
// (the log must be closed), makes one edit, and closes it.
//
// Thread-safety: none; the log must not be open anywhere.
#pragma once

#include <authledger/status.h>

#include <cstdint>
#include <string>

namespace authledger::storage::tamper {

// Flips bit 0 of byte `offset` of the stored bytes of event `seq`.
Status FlipEventByte(const std::string& dir, std::uint64_t seq, std::size_t offset);
// Deletes event `seq` from the events family (index and tree untouched).
Status DeleteEvent(const std::string& dir, std::uint64_t seq);
// Swaps the stored bytes of events `a` and `b`.
Status SwapEvents(const std::string& dir, std::uint64_t a, std::uint64_t b);
// Deletes every event after `keep` and rewrites the recorded size, tree root and tree
// nodes consistently, as an attacker hiding the tail would.
Status TruncateTail(const std::string& dir, std::uint64_t keep);
// Replaces the stored bytes of event `seq` with `bytes` verbatim.
Status OverwriteEvent(const std::string& dir, std::uint64_t seq, const std::string& bytes);

// Replaces the snapshot at `seq` of the log at `dir` (header and chunks) with the one
// stored at `seq` in the log at `from_dir`, as a restore from the wrong backup would.
Status CopySnapshot(const std::string& from_dir, const std::string& dir, std::uint64_t seq);

// Deletes the snapshot at `seq` (header and chunks), as a crash before it was written.
Status DeleteSnapshot(const std::string& dir, std::uint64_t seq);

// Rewrites the recorded log format version.
Status SetFormatVersion(const std::string& dir, std::uint64_t version);

// Deletes the narrow subject index keys (subjects.h) of the events after `keep_through`
// and records that the narrow index goes that far; with 0, deletes the record too: the
// log then reads as one written by a build without the narrow kinds (or, with more, as
// one whose indexing an interrupted Open left half done).
Status RemoveNarrowIndex(const std::string& dir, std::uint64_t keep_through);

}  // namespace authledger::storage::tamper
