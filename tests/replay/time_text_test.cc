// Times as auditors type them (RFC 3339, any offset) and as every tool prints them (UTC).
#include "replay/time_text.h"

#include <gtest/gtest.h>

#include <random>

namespace authledger::replay {
namespace {

constexpr std::int64_t kSecond = 1'000'000;
constexpr std::int64_t k2026 = 1767225600LL * kSecond;  // 2026-01-01T00:00:00Z

TEST(TimeText, PrintsUtcWithMicroseconds) {
  EXPECT_EQ(FormatTime(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(FormatTime(k2026 + 1), "2026-01-01T00:00:00.000001Z");
  EXPECT_EQ(FormatTime(-1), "1969-12-31T23:59:59.999999Z");
}

TEST(TimeText, ReadsTheFormsOfRfc3339) {
  EXPECT_EQ(ParseTime("2026-01-01T00:00:00Z"), k2026);
  EXPECT_EQ(ParseTime("2026-01-01t00:00:00z"), k2026);
  EXPECT_EQ(ParseTime("2026-01-01 00:00:00Z"), k2026);
  EXPECT_EQ(ParseTime("2026-01-01T00:00:00.5Z"), k2026 + kSecond / 2);
  EXPECT_EQ(ParseTime("2026-01-01T00:00:00.000001Z"), k2026 + 1);
  // Digits past the microsecond are read and dropped.
  EXPECT_EQ(ParseTime("2026-01-01T00:00:00.0000019Z"), k2026 + 1);
  EXPECT_EQ(ParseTime("2026-01-01T02:00:00+02:00"), k2026);
  EXPECT_EQ(ParseTime("2025-12-31T19:30:00-04:30"), k2026);
  EXPECT_EQ(ParseTime("2024-02-29T00:00:00Z"), 1709164800LL * kSecond);
  // A leap second is read as the second before it.
  EXPECT_EQ(ParseTime("2016-12-31T23:59:60Z"), ParseTime("2016-12-31T23:59:59Z"));
}

TEST(TimeText, RefusesWhatIsNotATime) {
  for (const char* bad : {"",
                          "yesterday",
                          "2026-01-01",
                          "2026-01-01T00:00:00",
                          "2026-01-01T00:00Z",
                          "2026-13-01T00:00:00Z",
                          "2026-00-10T00:00:00Z",
                          "2026-02-29T00:00:00Z",
                          "2026-04-31T00:00:00Z",
                          "2026-01-01T24:00:00Z",
                          "2026-01-01T00:60:00Z",
                          "2026-01-01T00:00:61Z",
                          "2026-01-01T00:00:00.Z",
                          "2026-01-01T00:00:00+0200",
                          "2026-01-01T00:00:00+24:00",
                          "2026-01-01T00:00:00Zjunk",
                          "2026-1-01T00:00:00Z",
                          " 2026-01-01T00:00:00Z",
                          "2026-01-01T00:00:00 Z",
                          "+2026-01-01T00:00:00Z"}) {
    EXPECT_EQ(ParseTime(bad), std::nullopt) << bad;
  }
}

TEST(TimeText, WhatIsPrintedReadsBackExactly) {
  std::mt19937_64 rng(20261128);
  std::uniform_int_distribution<std::int64_t> any(0, 253402300799LL * kSecond);  // ≤ year 9999
  for (int i = 0; i < 10000; ++i) {
    const std::int64_t t = any(rng);
    EXPECT_EQ(ParseTime(FormatTime(t)), t) << FormatTime(t);
  }
}

}  // namespace
}  // namespace authledger::replay
