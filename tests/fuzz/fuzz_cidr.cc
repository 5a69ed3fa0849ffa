// Fuzz target: IP address and CIDR parsing (engine/cidr.h), which every allowlist goes
// through (API bodies, CLI flags, events replayed from the log).
//
// Parsing is strict: accepted text holds no NUL byte (it would be cut short by the C
// parser underneath). A CIDR is normalized: its text parses back to the same range,
// which contains its own network address; an address lies in its own /32 or /128.
#include <string>
#include <string_view>
#include <vector>

#include "engine/cidr.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using authledger::internal::Cidr;
using authledger::internal::ParseCidr;
using authledger::internal::ParseIp;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  if (auto ip = ParseIp(text); ip.ok()) {
    FUZZ_CHECK(text.find('\0') == std::string_view::npos);
    auto own = ParseCidr(text);
    FUZZ_CHECK(own.ok() && own->prefix_bits == (ip->v4 ? 32u : 128u) && own->Contains(*ip));
  } else {
    FUZZ_CHECK(ip.status().reason() == "invalid_ip_address");
  }

  auto cidr = ParseCidr(text);
  if (!cidr.ok()) {
    FUZZ_CHECK(cidr.status().reason() == "invalid_cidr");
    return 0;
  }
  FUZZ_CHECK(text.find('\0') == std::string_view::npos);
  FUZZ_CHECK(cidr->prefix_bits <= (cidr->network.v4 ? 32u : 128u));
  FUZZ_CHECK(cidr->Contains(cidr->network));
  const std::string normal = cidr->ToString();
  auto again = ParseCidr(normal);
  FUZZ_CHECK(again.ok() && *again == *cidr);
  FUZZ_CHECK(again->ToString() == normal);

  auto list = authledger::internal::ParseCidrList({std::string(text), normal}, 2);
  FUZZ_CHECK(list.ok() && list->size() == 2 && (*list)[0] == (*list)[1]);
  FUZZ_CHECK(authledger::internal::AnyContains(*list, cidr->network));
  return 0;
}
