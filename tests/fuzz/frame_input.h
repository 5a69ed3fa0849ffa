// The input format of the binary-protocol fuzz target, shared with the seed generator:
//
//   u8 k            k & 7 read sizes follow (none: the stream arrives a byte at a time)
//   k bytes         read sizes, each the byte + 1, used in turn and over again
//   the rest        the bytes a client sends on one connection
//
// so that one input names both a stream and how the network cuts it into reads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace authledger::fuzz {

struct FrameInput {
  std::vector<std::size_t> read_sizes;  // empty: one byte at a time
  std::string_view stream;
};

inline FrameInput ParseFrameInput(std::string_view in) {
  FrameInput out;
  if (in.empty()) return out;
  const std::size_t k = static_cast<std::uint8_t>(in[0]) & 7u;
  in.remove_prefix(1);
  for (std::size_t i = 0; i < k && !in.empty(); ++i) {
    out.read_sizes.push_back(static_cast<std::size_t>(static_cast<std::uint8_t>(in[0])) + 1);
    in.remove_prefix(1);
  }
  out.stream = in;
  return out;
}

// The reads that deliver `input.stream`, in order.
inline std::vector<std::string_view> Reads(const FrameInput& input) {
  std::vector<std::string_view> reads;
  std::string_view rest = input.stream;
  for (std::size_t i = 0; !rest.empty(); ++i) {
    const std::size_t n =
        input.read_sizes.empty() ? 1 : input.read_sizes[i % input.read_sizes.size()];
    reads.push_back(rest.substr(0, n));
    rest.remove_prefix(reads.back().size());
  }
  return reads;
}

// The input that sends `stream` in reads of `read_sizes` (each 1…256; at most 7).
inline std::string MakeFrameInput(const std::vector<std::size_t>& read_sizes,
                                  std::string_view stream) {
  std::string out(1, static_cast<char>(read_sizes.size() & 7u));
  for (std::size_t i = 0; i < read_sizes.size() && i < 7; ++i) {
    out.push_back(static_cast<char>((read_sizes[i] - 1) & 0xffu));
  }
  out.append(stream);
  return out;
}

// A frame's header: `n` as a little-endian u32.
inline std::string LengthPrefix(std::uint32_t n) {
  std::string out;
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xffu));
  return out;
}

// `bytes` as one frame.
inline std::string FrameOf(std::string_view bytes) {
  return LengthPrefix(static_cast<std::uint32_t>(bytes.size())) + std::string(bytes);
}

}  // namespace authledger::fuzz
