// The input format of the snapshot fuzz target, shared with the seed generator:
//
//   u32 stored_at   the seq the snapshot is stored at (LoadState passes it; it bounds
//                   how many tokens a header may claim)
//   u32 n, n bytes  the packed header
//   then chunks:    u32 n, n bytes; each, until the input ends
//
// Integers are little-endian; a length past the end of the input takes what is left.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace authledger::fuzz {

struct SnapshotInput {
  std::uint32_t stored_at = 0;
  std::string_view header;
  std::vector<std::string_view> chunks;
};

inline bool TakeU32(std::string_view& in, std::uint32_t* value) {
  if (in.size() < 4) return false;
  *value = 0;
  for (int i = 3; i >= 0; --i) *value = (*value << 8) | static_cast<std::uint8_t>(in[i]);
  in.remove_prefix(4);
  return true;
}

inline std::string_view TakeBytes(std::string_view& in, std::uint32_t n) {
  std::string_view out = in.substr(0, n);
  in.remove_prefix(out.size());
  return out;
}

inline bool ParseSnapshotInput(std::string_view in, SnapshotInput* out) {
  std::uint32_t n = 0;
  if (!TakeU32(in, &out->stored_at) || !TakeU32(in, &n)) return false;
  out->header = TakeBytes(in, n);
  while (TakeU32(in, &n)) out->chunks.push_back(TakeBytes(in, n));
  return true;
}

inline void PutU32(std::string& out, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

inline std::string MakeSnapshotInput(std::uint32_t stored_at, std::string_view header,
                                     const std::vector<std::string>& chunks) {
  std::string out;
  PutU32(out, stored_at);
  PutU32(out, static_cast<std::uint32_t>(header.size()));
  out.append(header);
  for (const auto& c : chunks) {
    PutU32(out, static_cast<std::uint32_t>(c.size()));
    out.append(c);
  }
  return out;
}

}  // namespace authledger::fuzz
