// Formatting shared by the CLI's subcommands: times in RFC 3339 (printed in UTC), masked secrets.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "replay/time_text.h"

namespace authledger::cli {

// Times: RFC 3339, printed in UTC (replay/time_text.h).
using replay::FormatTime;
using replay::ParseTime;

// The public prefix followed by a mask: what may be shown of a secret after creation.
std::string MaskSecret(std::string_view secret, std::size_t shown = 16);

}  // namespace authledger::cli
