// Fuzz target: the CLI's time parser (replay/time_text.h ParseTime).
//
// Anything accepted is an RFC 3339 date-time; its value, formatted back (UTC, µs),
// parses to the same value whenever the formatted year has four digits.
#include <cstdint>
#include <string>
#include <string_view>

#include "replay/time_text.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

// 0001-01-01T00:00:00Z and 10000-01-01T00:00:00Z, in µs since the epoch.
constexpr std::int64_t kYear1Us = -62135596800LL * 1'000'000;
constexpr std::int64_t kYear10000Us = 253402300800LL * 1'000'000;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto time = authledger::replay::ParseTime(text);
  if (!time) return 0;
  FUZZ_CHECK(text.size() >= 20);  // "YYYY-MM-DDTHH:MM:SSZ" at least
  const std::string formatted = authledger::replay::FormatTime(*time);
  if (*time >= kYear1Us && *time < kYear10000Us) {
    auto again = authledger::replay::ParseTime(formatted);
    FUZZ_CHECK(again.has_value() && *again == *time);
    FUZZ_CHECK(authledger::replay::FormatTime(*again) == formatted);
  }
  return 0;
}
