#include "engine/cidr.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace authledger::internal {

namespace {

Status BadIp(std::string_view text) {
  return Status::InvalidArgument("invalid_ip_address",
                                 "'" + std::string(text) + "' is not an IPv4 or IPv6 address");
}

}  // namespace

Result<IpAddress> ParseIp(std::string_view text) {
  // A NUL would end the text early for inet_pton, which would accept "1.2.3.4\0junk".
  if (text.empty() || text.size() > 45 || text.find('\0') != std::string_view::npos) {
    return BadIp(text);
  }
  // NUL-terminated for inet_pton, on the stack: checks parse the client address of every
  // request to an organization with an allowlist.
  std::array<char, 46> s{};
  std::memcpy(s.data(), text.data(), text.size());
  IpAddress ip;
  std::array<std::uint8_t, 4> v4{};
  if (::inet_pton(AF_INET, s.data(), v4.data()) == 1) {
    ip.bytes[10] = 0xff;
    ip.bytes[11] = 0xff;
    for (int i = 0; i < 4; ++i)
      ip.bytes[static_cast<std::size_t>(12 + i)] = v4[static_cast<std::size_t>(i)];
    ip.v4 = true;
    return ip;
  }
  if (::inet_pton(AF_INET6, s.data(), ip.bytes.data()) == 1) {
    static constexpr std::array<std::uint8_t, 12> kMapped = {0, 0, 0, 0, 0,    0,
                                                             0, 0, 0, 0, 0xff, 0xff};
    ip.v4 = std::equal(kMapped.begin(), kMapped.end(), ip.bytes.begin());
    return ip;
  }
  return BadIp(text);
}

Result<Cidr> ParseCidr(std::string_view text) {
  auto slash = text.find('/');
  auto ip = ParseIp(text.substr(0, slash));
  if (!ip.ok()) {
    return Status::InvalidArgument("invalid_cidr",
                                   "'" + std::string(text) + "' is not a CIDR range");
  }
  Cidr cidr;
  cidr.network = *ip;
  unsigned max_bits = ip->v4 ? 32 : 128;
  cidr.prefix_bits = max_bits;
  if (slash != std::string_view::npos) {
    std::string_view bits = text.substr(slash + 1);
    unsigned value = 0;
    auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), value);
    if (bits.empty() || ec != std::errc() || end != bits.data() + bits.size() || value > max_bits) {
      return Status::InvalidArgument("invalid_cidr",
                                     "'" + std::string(text) + "' has an invalid prefix length");
    }
    cidr.prefix_bits = value;
  }
  // Zero the host bits.
  unsigned total = ip->v4 ? 96 + cidr.prefix_bits : cidr.prefix_bits;
  for (unsigned bit = total; bit < 128; ++bit) {
    cidr.network.bytes[bit / 8] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
  }
  return cidr;
}

bool Cidr::Contains(const IpAddress& ip) const {
  if (ip.v4 != network.v4) return false;
  unsigned total = network.v4 ? 96 + prefix_bits : prefix_bits;
  unsigned full = total / 8;
  for (unsigned i = 0; i < full; ++i) {
    if (ip.bytes[i] != network.bytes[i]) return false;
  }
  if (total % 8 == 0) return true;
  auto mask = static_cast<std::uint8_t>(0xff00u >> (total % 8));
  return (ip.bytes[full] & mask) == network.bytes[full];
}

std::string Cidr::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (network.v4) {
    ::inet_ntop(AF_INET, network.bytes.data() + 12, buf, sizeof(buf));
  } else {
    ::inet_ntop(AF_INET6, network.bytes.data(), buf, sizeof(buf));
  }
  return std::string(buf) + "/" + std::to_string(prefix_bits);
}

Result<std::vector<Cidr>> ParseCidrList(const std::vector<std::string>& texts,
                                        std::size_t max_entries) {
  if (texts.size() > max_entries) {
    return Status::InvalidArgument(
        "too_many_cidrs", "at most " + std::to_string(max_entries) + " CIDR ranges are allowed");
  }
  std::vector<Cidr> out;
  out.reserve(texts.size());
  for (const auto& t : texts) {
    auto c = ParseCidr(t);
    if (!c.ok()) return c.status();
    out.push_back(*c);
  }
  return out;
}

bool AnyContains(const std::vector<Cidr>& ranges, const IpAddress& ip) {
  for (const auto& r : ranges) {
    if (r.Contains(ip)) return true;
  }
  return false;
}

}  // namespace authledger::internal
