// Times as text: RFC 3339 in UTC for output, RFC 3339 with any offset for input. Used by
// the log tools, the audit reports and the CLI, so that every time reads the same.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace authledger::replay {

// "2026-01-01T00:00:00.000000Z" for µs since the Unix epoch.
std::string FormatTime(std::int64_t time_us);
// µs since the Unix epoch for an RFC 3339 date-time ("2026-01-01T12:00:00Z",
// "2026-01-01T12:00:00.25+02:00", lower-case t/z and a space for T accepted); nullopt
// if `text` is not one.
std::optional<std::int64_t> ParseTime(std::string_view text);

}  // namespace authledger::replay
