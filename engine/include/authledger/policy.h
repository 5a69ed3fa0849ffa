// The organization authentication policy and API-client IP allowlist, as values.
//
// Field names follow Aiven's organization authentication policy API (snake_case in
// JSON, the same words here). A new organization gets the defaults below.
//
// Thread-safety: values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace authledger {

struct AuthenticationPolicy {
  std::uint64_t version = 1;
  bool password_auth_enabled = true;
  bool two_factor_required = false;
  bool oauth_enabled = true;
  // Sorted, without duplicates: a subset of "github", "google", "microsoft".
  std::vector<std::string> oauth_providers = {"github", "google", "microsoft"};
  bool saml_enabled = true;
  bool saml_allow_external = true;
  bool personal_tokens_enabled = true;
  bool personal_tokens_require_allowed_auth_method = false;

  friend bool operator==(const AuthenticationPolicy&, const AuthenticationPolicy&) = default;
};

// A partial update: absent fields stay as they are.
struct PolicyUpdate {
  std::optional<bool> password_auth_enabled;
  std::optional<bool> two_factor_required;
  std::optional<bool> oauth_enabled;
  std::optional<std::vector<std::string>> oauth_providers;
  std::optional<bool> saml_enabled;
  std::optional<bool> saml_allow_external;
  std::optional<bool> personal_tokens_enabled;
  std::optional<bool> personal_tokens_require_allowed_auth_method;
  // Optimistic concurrency: refused with `conflict` unless the current version matches.
  std::optional<std::uint64_t> expected_version;
  // Accept SAML as the only method although the organization has no IdP yet.
  bool force = false;
};

struct IpAllowlist {
  std::uint64_t version = 0;
  bool enabled = false;
  // Normalized CIDRs ("10.0.0.0/8", "2001:db8::/32").
  std::vector<std::string> cidrs;

  friend bool operator==(const IpAllowlist&, const IpAllowlist&) = default;
};

}  // namespace authledger
