// A request body decoded with Cap'n Proto's JSON codec into a capnp::JsonValue, with
// typed accessors that turn a missing or mistyped field into `invalid_request`.
//
// Thread-safety: one object per request; not shared.
#pragma once

#include <authledger/status.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace authledger::server {

class JsonBody {
 public:
  JsonBody();
  ~JsonBody();
  JsonBody(const JsonBody&) = delete;
  JsonBody& operator=(const JsonBody&) = delete;

  // OK if `text` is one JSON object.
  Status Parse(std::string_view text);
  // invalid_request unless every key of the object is in `allowed`.
  Status OnlyKeys(const std::vector<std::string_view>& allowed) const;

  // nullopt when absent; invalid_request when present with another type.
  Result<std::optional<std::string>> String(std::string_view name) const;
  Result<std::optional<bool>> Bool(std::string_view name) const;
  // A whole number in [0, 2^53].
  Result<std::optional<std::uint64_t>> U64(std::string_view name) const;
  Result<std::optional<std::vector<std::string>>> Strings(std::string_view name) const;

 private:
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

Status InvalidRequest(std::string_view message);

}  // namespace authledger::server
