// SHA-256 digests and their hex spelling, the one hash function of the event log.
//
// Every Merkle node, leaf, checkpoint key id and token-secret digest in authledger is a
// SHA-256 computed here. Sha256 is built for short inputs (a 48-byte secret, a 65-byte
// Merkle node): a call allocates nothing and looks no algorithm up (hash.cc).
//
// Thread-safety: every function may be called from any number of threads at once.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace authledger::storage {

using Hash = std::array<std::uint8_t, 32>;

// SHA-256 of `data`.
Hash Sha256(std::span<const std::uint8_t> data);
Hash Sha256(std::string_view data);

// SHA-256 of the concatenation of `parts`, without copying them into one buffer
// (e.g. 0x00 ‖ event bytes for a Merkle leaf).
Hash Sha256Parts(std::initializer_list<std::span<const std::uint8_t>> parts);

// Lowercase hex, two characters per byte.
std::string ToHex(std::span<const std::uint8_t> bytes);
std::string ToHex(const Hash& hash);

// Parses exactly 64 hex digits (either case). nullopt for any other length or character.
std::optional<Hash> HashFromHex(std::string_view hex);

}  // namespace authledger::storage
