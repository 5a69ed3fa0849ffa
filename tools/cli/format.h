// Formatting shared by the CLI's subcommands: times in RFC 3339 (printed in UTC), masked secrets.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace authledger::cli {

// "2026-01-01T00:00:00.000000Z" for µs since the Unix epoch.
std::string FormatTime(std::int64_t time_us);
// µs since the Unix epoch for an RFC 3339 date-time ("2026-01-01T12:00:00Z",
// "2026-01-01T12:00:00.25+02:00", lower-case t/z and a space for T accepted); nullopt
// if `text` is not one.
std::optional<std::int64_t> ParseTime(std::string_view text);
// The public prefix followed by a mask: what may be shown of a secret after creation.
std::string MaskSecret(std::string_view secret, std::size_t shown = 16);

}  // namespace authledger::cli
