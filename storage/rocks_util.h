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

// The reason for a corruption RocksDB found, by the kind of file its message names
// (RocksDB names the file and offset of a failed checksum): "wal_damaged" (a write-ahead
// log, *.log), "table_file_damaged" (*.sst), "manifest_damaged" (MANIFEST-*), else
// "log_damaged".
inline bool NamesFileOfType(const std::string& message, const std::string& extension) {
  // RocksDB's numbered files: 000012.sst, 000004.log (never a directory's name).
  for (auto at = message.find(extension); at != std::string::npos;
       at = message.find(extension, at + 1)) {
    if (at > 0 && message[at - 1] >= '0' && message[at - 1] <= '9') return true;
  }
  return false;
}
inline const char* CorruptionReason(const std::string& message) {
  if (NamesFileOfType(message, ".sst")) return "table_file_damaged";
  if (message.find("/MANIFEST-") != std::string::npos) return "manifest_damaged";
  if (NamesFileOfType(message, ".log")) return "wal_damaged";
  return "log_damaged";
}

// Maps a RocksDB failure to a Status: corruption stays corruption (reason as above), a
// full disk is "log_disk_full", everything else is an I/O error. `what` says what we
// were doing.
inline Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.IsCorruption()) {
    std::string text = what + ": " + s.ToString();
    return Status::Corruption(CorruptionReason(text), text);
  }
  if (s.IsNoSpace()) return Status::IoError("log_disk_full", what + ": " + s.ToString());
  return Status::IoError("io_error", what + ": " + s.ToString());
}

}  // namespace authledger::storage
