#include "tools/cli/format.h"

#include <ctime>

namespace authledger::cli {

std::string FormatTime(std::int64_t time_us) {
  std::int64_t seconds = time_us / 1'000'000;
  std::int64_t micros = time_us % 1'000'000;
  if (micros < 0) {
    micros += 1'000'000;
    --seconds;
  }
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char date[32];
  std::strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof(out), "%s.%06lldZ", date, static_cast<long long>(micros));
  return out;
}

std::string MaskSecret(std::string_view secret, std::size_t shown) {
  if (secret.size() <= shown) return std::string(secret.size(), '*');
  return std::string(secret.substr(0, shown)) + std::string(secret.size() - shown, '*');
}

}  // namespace authledger::cli
