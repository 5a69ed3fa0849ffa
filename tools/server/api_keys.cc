#include "tools/server/api_keys.h"

#include <openssl/crypto.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "storage/hash.h"

namespace authledger::server {
namespace {

// storage's SHA-256, which allocates nothing and looks nothing up: OpenSSL 3's one-shot
// SHA256() fetches the algorithm on every call, about 4 % of the server's CPU per HTTP
// check when every request was hashed through it.
std::array<unsigned char, 32> Sha256(std::string_view text) {
  const storage::Hash digest = storage::Sha256(text);
  std::array<unsigned char, 32> out;
  std::copy(digest.begin(), digest.end(), out.begin());
  return out;
}

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kBackend:
      return "backend";
    case Role::kAdmin:
      return "admin";
    case Role::kAuditor:
      return "auditor";
  }
  return "unknown";
}

Result<ApiKeys> ApiKeys::Load(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return Status::NotFound("key_file_missing", "cannot read the key file " + path);
  }
  if ((st.st_mode & 077) != 0) {
    return Status::FailedPrecondition(
        "key_file_insecure",
        "the key file " + path + " is readable by group or others; chmod 600 it");
  }
  std::ifstream in(path);
  if (!in) return Status::IoError("key_file_unreadable", "cannot open the key file " + path);
  std::stringstream text;
  text << in.rdbuf();
  return Parse(text.str());
}

Result<ApiKeys> ApiKeys::Parse(std::string_view text) {
  ApiKeys keys;
  std::istringstream lines{std::string(text)};
  std::string line;
  int number = 0;
  while (std::getline(lines, line)) {
    ++number;
    std::istringstream words(line);
    std::string name, role, key, extra;
    if (!(words >> name) || name[0] == '#') continue;
    if (!(words >> role >> key) || (words >> extra)) {
      return Status::InvalidArgument("key_file_malformed",
                                     "line " + std::to_string(number) + ": want `name role key`");
    }
    ApiKey k;
    k.name = name;
    if (role == "backend") {
      k.role = Role::kBackend;
    } else if (role == "admin") {
      k.role = Role::kAdmin;
    } else if (role == "auditor") {
      k.role = Role::kAuditor;
    } else {
      return Status::InvalidArgument("key_file_malformed",
                                     "line " + std::to_string(number) + ": unknown role " + role);
    }
    if (key.size() < 16) {
      return Status::InvalidArgument(
          "key_file_malformed", "line " + std::to_string(number) + ": key shorter than 16 bytes");
    }
    k.digest = Sha256(key);
    keys.keys_.push_back(std::move(k));
  }
  if (keys.keys_.empty()) return Status::InvalidArgument("key_file_malformed", "no keys");
  return keys;
}

const ApiKey* ApiKeys::Find(std::string_view key) const {
  const auto digest = Sha256(key);
  const ApiKey* found = nullptr;
  for (const auto& k : keys_) {
    // No early exit: the time does not depend on which key matched.
    if (CRYPTO_memcmp(k.digest.data(), digest.data(), digest.size()) == 0) found = &k;
  }
  return found;
}

}  // namespace authledger::server
