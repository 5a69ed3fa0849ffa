// IP addresses and CIDR ranges: strict parsing, normalization, and matching.
#include "engine/cidr.h"

#include <gtest/gtest.h>

namespace authledger::internal {
namespace {

bool In(const char* cidr, const char* ip) { return ParseCidr(cidr)->Contains(*ParseIp(ip)); }

TEST(Cidr, NormalizesToTheNetworkAddress) {
  EXPECT_EQ(ParseCidr("10.1.2.3/8")->ToString(), "10.0.0.0/8");
  EXPECT_EQ(ParseCidr("2001:db8:1::5/32")->ToString(), "2001:db8::/32");
  EXPECT_EQ(ParseCidr("192.0.2.1")->ToString(), "192.0.2.1/32");
  EXPECT_EQ(ParseCidr("::1")->ToString(), "::1/128");
  EXPECT_EQ(ParseCidr("0.0.0.0/0")->ToString(), "0.0.0.0/0");
}

TEST(Cidr, MatchesAddressesInsideAndNotOutside) {
  EXPECT_TRUE(In("10.0.0.0/8", "10.255.1.1"));
  EXPECT_FALSE(In("10.0.0.0/8", "11.0.0.1"));
  EXPECT_TRUE(In("192.168.1.0/25", "192.168.1.127"));
  EXPECT_FALSE(In("192.168.1.0/25", "192.168.1.128"));
  EXPECT_TRUE(In("2001:db8::/32", "2001:db8:ffff::1"));
  EXPECT_FALSE(In("2001:db8::/32", "2001:db9::1"));
  EXPECT_TRUE(In("0.0.0.0/0", "8.8.8.8"));
  EXPECT_FALSE(In("0.0.0.0/0", "2001:db8::1")) << "a v4 range never matches a v6 address";
  EXPECT_TRUE(In("10.0.0.0/8", "::ffff:10.1.1.1")) << "IPv4-mapped IPv6 is IPv4";
}

TEST(Cidr, RefusesWhatIsNotARange) {
  for (const char* bad : {"", "10.0.0.0/33", "10.0.0/8", "::/129", "10.0.0.0/", "10.0.0.0/x",
                          "host.example.com", "10.0.0.0/8/8", "1.2.3.4 "}) {
    auto c = ParseCidr(bad);
    EXPECT_FALSE(c.ok()) << bad;
    if (!c.ok()) {
      EXPECT_EQ(c.status().reason(), "invalid_cidr") << bad;
    }
  }
  EXPECT_EQ(ParseIp("300.1.1.1").status().reason(), "invalid_ip_address");
}

TEST(Cidr, ListsAreLimited) {
  std::vector<std::string> many(101, "10.0.0.0/8");
  EXPECT_EQ(ParseCidrList(many, 100).status().reason(), "too_many_cidrs");
  many.pop_back();
  EXPECT_TRUE(ParseCidrList(many, 100).ok());
}

}  // namespace
}  // namespace authledger::internal
