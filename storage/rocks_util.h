// Small helpers shared by the storage files that talk to RocksDB (internal).
//
// Thread-safety: pure functions.
#pragma once

#include <authledger/status.h>
#include <rocksdb/slice.h>
#include <rocksdb/status.h>

#include <cstdint>
#include <span>
#include <string>

namespace authledger::storage {

inline rocksdb::Slice ToSlice(std::span<const std::uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

inline std::span<const std::uint8_t> ToSpan(const rocksdb::Slice& slice) {
  return {reinterpret_cast<const std::uint8_t*>(slice.data()), slice.size()};
}

// Maps a RocksDB failure to a Status: corruption stays corruption, everything else is
// an I/O error. `what` says what we were doing.
inline Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.IsCorruption()) return Status::Corruption("log_damaged", what + ": " + s.ToString());
  return Status::IoError("io_error", what + ": " + s.ToString());
}

}  // namespace authledger::storage
