// API keys of the server: who may call which route.
//
// A key file holds one key per line, `name role key`, with role one of backend, admin
// or auditor; blank lines and lines starting with '#' are ignored. The file must not be
// readable by group or others (mode & 077 == 0). Only the SHA-256 of each key is kept,
// and a presented key is compared with every stored digest in constant time
// (CRYPTO_memcmp), so neither the timing nor a memory dump reveals a key.
//
// Thread-safety: immutable after Load/Parse; Find may be called from any threads.
#pragma once

#include <authledger/status.h>

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace authledger::server {

enum class Role { kBackend, kAdmin, kAuditor };

std::string_view RoleName(Role role);

struct ApiKey {
  std::string name;
  Role role = Role::kBackend;
  std::array<unsigned char, 32> digest{};  // SHA-256 of the key
};

class ApiKeys {
 public:
  // Reads `path`; refused (key_file_insecure) if group/world may read it.
  static Result<ApiKeys> Load(const std::string& path);
  // Parses the text of a key file (no permission check).
  static Result<ApiKeys> Parse(std::string_view text);

  // The key whose secret is `key`, or nullptr. Looks at every stored key.
  const ApiKey* Find(std::string_view key) const;
  std::size_t size() const { return keys_.size(); }

 private:
  std::vector<ApiKey> keys_;
};

}  // namespace authledger::server
