// The fixture of the rule tests: two organizations with IdPs and three users, and
// assertions on decisions and on refused commands.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tests/engine/engine_fixture.h"

namespace authledger::testing {

using ::testing::AssertionFailure;
using ::testing::AssertionResult;
using ::testing::AssertionSuccess;

inline constexpr const char* kPasswordNotAllowed =
    "user_password_authentication_method_not_allowed";
inline constexpr const char* kOauthNotAllowed = "user_oauth_authentication_method_not_allowed";
inline constexpr const char* kSamlNotAllowed = "user_saml_authentication_method_not_allowed";
inline constexpr const char* kIpViolation = "client_ip_address_policy_violation";

// Addresses: the admin actor calls from 198.51.100.1; requests come from 203.0.113.7
// unless a test says otherwise.
inline constexpr const char* kOfficeRange = "198.51.100.0/24";
inline constexpr const char* kOfficeIp = "198.51.100.20";
inline constexpr const char* kElsewhereIp = "203.0.113.7";

inline AssertionResult Allowed(const Decision& d) {
  if (d.allowed && d.reason == "ok") return AssertionSuccess();
  return AssertionFailure() << "denied by " << d.rule << " with " << d.reason;
}

inline AssertionResult DeniedBy(const Decision& d, std::string_view rule, std::string_view reason) {
  if (!d.allowed && d.rule == rule && d.reason == reason) return AssertionSuccess();
  return AssertionFailure() << "expected denial by " << rule << " with " << reason << ", got "
                            << (d.allowed ? "allowed" : "denied") << " by " << d.rule << " with "
                            << d.reason;
}

// The users and organizations most tests need:
//   acme  verifies acme.com and owns the IdP "acme-sso";
//   beta  verifies beta.com and owns the IdP "beta-sso";
//   alice@acme.com: managed by acme, member of acme;
//   bob@gmail.com:  managed by nobody, member of acme;
//   carol@beta.com: managed by beta, member of beta and of acme.
class Rules : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    ManagedOrg("acme", "acme.com");
    Must(engine_->AddIdp(admin_, "acme", {"acme-sso", "Acme SSO", {"acme.com"}, 86400, false}));
    ManagedOrg("beta", "beta.com");
    Must(engine_->AddIdp(admin_, "beta", {"beta-sso", "Beta SSO", {"beta.com"}, 86400, false}));
    UserIn("alice", "alice@acme.com", "acme");
    UserIn("bob", "bob@gmail.com", "acme");
    UserIn("carol", "carol@beta.com", "beta");
    Must(engine_->AddMember(admin_, "acme", "carol"));
  }

  // The revision once every token use noticed so far is recorded: a check may append a
  // TokenUsed in the background, which must not be mistaken for a command's event.
  std::uint64_t Settled() {
    engine_->FlushTokenUse();
    return engine_->revision();
  }

  void Policy(const std::string& org_id, PolicyUpdate update) {
    Must(SetPolicy(org_id, std::move(update)), "policy update");
  }

  // Runs `command`, which must be refused with `reason` (and `code`) and append nothing.
  template <typename F>
  AssertionResult RefusedAndNothingAppended(F&& command, std::string_view reason,
                                            Status::Code code) {
    const std::uint64_t before = Settled();
    auto r = command();
    const std::uint64_t after = Settled();
    if (r.ok()) return AssertionFailure() << "accepted; expected refusal with " << reason;
    if (r.status().reason() != reason || r.status().code() != code) {
      return AssertionFailure() << "refused with " << r.status().ToString() << " (code "
                                << static_cast<int>(r.status().code()) << "), expected " << reason
                                << " (code " << static_cast<int>(code) << ")";
    }
    if (after != before) {
      return AssertionFailure() << "refused, but " << after - before << " event(s) appended";
    }
    return AssertionSuccess();
  }

  // R1: the login is refused with `reason`, and the refusal itself is one event.
  AssertionResult LoginRejectedAndRecorded(const std::string& user_id, const std::string& method,
                                           std::string_view reason, bool two_factor = false) {
    const std::uint64_t before = Settled();
    auto r = engine_->RecordLogin(Actor::User(user_id), {user_id, method, two_factor});
    const std::uint64_t after = Settled();
    if (r.ok()) return AssertionFailure() << "login accepted; expected " << reason;
    if (r.status().code() != Status::Code::kDenied || r.status().reason() != reason) {
      return AssertionFailure() << "login refused with " << r.status().ToString() << ", expected "
                                << "Denied " << reason;
    }
    if (after != before + 1) {
      return AssertionFailure() << "expected the rejection recorded as one event, got "
                                << after - before;
    }
    return AssertionSuccess();
  }

  TokenSpec WithIps(std::vector<std::string> cidrs) {
    TokenSpec spec;
    spec.ip_allowlist = std::move(cidrs);
    return spec;
  }

  CreatedToken AppToken(const std::string& org_id, const std::string& app_user_id,
                        TokenSpec spec = {}) {
    return Must(engine_->CreateApplicationToken(admin_, org_id, app_user_id, spec), "app token");
  }
};

}  // namespace authledger::testing
