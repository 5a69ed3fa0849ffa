// IP addresses and CIDR ranges, v4 and v6, for allowlists.
//
// Parsing is strict (a clear error for anything that is not an address or a CIDR), and
// a CIDR is normalized to its network address ("10.1.2.3/8" → "10.0.0.0/8"), so that the
// event log stores one spelling per range. IPv4-mapped IPv6 addresses match IPv4 ranges.
//
// Thread-safety: values and pure functions.
#pragma once

#include <authledger/status.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace authledger::internal {

struct IpAddress {
  // IPv4 is held as IPv4-mapped IPv6 (::ffff:a.b.c.d).
  std::array<std::uint8_t, 16> bytes{};
  bool v4 = false;

  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

struct Cidr {
  IpAddress network;
  unsigned prefix_bits = 0;  // out of 32 for v4, 128 for v6

  bool Contains(const IpAddress& ip) const;
  std::string ToString() const;
  friend bool operator==(const Cidr&, const Cidr&) = default;
};

Result<IpAddress> ParseIp(std::string_view text);
// Accepts "a.b.c.d/n", "v6/n", or a bare address (a /32 or /128 range).
Result<Cidr> ParseCidr(std::string_view text);
// Parses and normalizes a whole list; refuses more than `max_entries`.
Result<std::vector<Cidr>> ParseCidrList(const std::vector<std::string>& texts,
                                        std::size_t max_entries);
bool AnyContains(const std::vector<Cidr>& ranges, const IpAddress& ip);

}  // namespace authledger::internal
