// Inputs the fuzz targets (tests/fuzz) found mishandled in replay's text formats, kept
// as tests; each is also in its target's seed corpus.
#include <gtest/gtest.h>

#include "replay/time_text.h"

namespace authledger::replay {
namespace {

// fuzz_time_text: "0226-06-07 08:00:00Z" was printed with a three-digit year (strftime's
// %Y), which ParseTime then refused.
TEST(TimeTextFuzzRegression, YearsBeforeOneThousandPrintWithFourDigits) {
  auto t = ParseTime("0226-06-07 08:00:00Z");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(FormatTime(*t), "0226-06-07T08:00:00.000000Z");
  EXPECT_EQ(ParseTime(FormatTime(*t)), t);
  EXPECT_EQ(FormatTime(*ParseTime("0001-01-01T00:00:00Z")), "0001-01-01T00:00:00.000000Z");
}

}  // namespace
}  // namespace authledger::replay
