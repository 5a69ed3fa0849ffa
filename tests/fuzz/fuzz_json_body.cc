// Fuzz target: the server's JSON request decoder (tools/server/json_body.h): Parse, then
// every accessor on the fields the routes read, as the dispatcher does.
//
// A body is refused with invalid_request or read; an accessor that reads a field
// returns its type's value or invalid_request, never anything else. Seeds: the bodies
// of the server's routes, valid and invalid.
#include <string>
#include <string_view>
#include <vector>

#include "tests/fuzz/fuzz_check.h"
#include "tools/server/json_body.h"

namespace {

// The fields of every route's body, and names no route reads.
const std::vector<std::string_view> kFields = {"token",
                                               "org_id",
                                               "ip",
                                               "time_us",
                                               "enabled",
                                               "cidrs",
                                               "oauth_providers",
                                               "password_auth_enabled",
                                               "expected_version",
                                               "force",
                                               "",
                                               "\xff"};

template <typename T>
void CheckField(const authledger::Result<T>& field) {
  FUZZ_CHECK(field.ok() || field.status().reason() == "invalid_request");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  authledger::server::JsonBody body;
  authledger::Status parsed =
      body.Parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.reason() == "invalid_request");
    return 0;
  }
  authledger::Status only = body.OnlyKeys(kFields);
  FUZZ_CHECK(only.ok() || only.reason() == "invalid_request");
  for (std::string_view name : kFields) {
    CheckField(body.String(name));
    CheckField(body.Bool(name));
    auto number = body.U64(name);
    CheckField(number);
    if (number.ok() && number->has_value()) FUZZ_CHECK(**number <= (std::uint64_t{1} << 53));
    CheckField(body.Strings(name));
  }
  return 0;
}
