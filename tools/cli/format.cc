#include "tools/cli/format.h"

#include <ctime>

namespace authledger::cli {

std::string MaskSecret(std::string_view secret, std::size_t shown) {
  if (secret.size() <= shown) return std::string(secret.size(), '*');
  return std::string(secret.substr(0, shown)) + std::string(secret.size() - shown, '*');
}

}  // namespace authledger::cli
