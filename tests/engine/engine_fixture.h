// A fixture for engine tests: a fresh engine on a temporary directory, a clock the test
// moves by hand, and helpers that fail the test when a setup step fails.
#pragma once

#include <authledger/engine.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>

#include "tests/support/temp_dir.h"

namespace authledger::testing {

// 2026-01-01T00:00:00Z in µs.
inline constexpr std::int64_t kStartUs = 1767225600LL * 1'000'000;
inline constexpr std::int64_t kSecondUs = 1'000'000;

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  EngineOptions Options() {
    EngineOptions options;
    options.clock = [now = now_] { return now->load(); };
    return options;
  }
  void Open() {
    auto engine = Engine::Open(dir_.path(), Options());
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = std::move(engine).value();
  }
  void Reopen() {
    engine_.reset();
    Open();
  }

  std::int64_t now() const { return now_->load(); }
  void Advance(std::int64_t seconds) { now_->fetch_add(seconds * kSecondUs); }
  CheckContext At(std::string ip = "203.0.113.7") const { return {now(), std::move(ip)}; }

  // Setup steps that must succeed.
  template <typename T>
  T Must(Result<T> r, const char* what = "") {
    EXPECT_TRUE(r.ok()) << what << ": " << r.status().ToString();
    if (!r.ok()) throw std::runtime_error(r.status().ToString());
    return std::move(r).value();
  }

  // An organization `org_id` verifying `domain` (so users @domain are managed by it).
  void ManagedOrg(const std::string& org_id, const std::string& domain) {
    Must(engine_->CreateOrganization(admin_, org_id, org_id + " Inc"));
    Must(engine_->VerifyDomain(admin_, org_id, domain));
  }
  void UserIn(const std::string& user_id, const std::string& email, const std::string& org_id) {
    Must(engine_->RegisterUser(admin_, user_id, email));
    Must(engine_->AddMember(admin_, org_id, user_id));
  }
  CreatedToken Login(const std::string& user_id, const std::string& method,
                     bool two_factor = false) {
    return Must(engine_->RecordLogin(Actor::User(user_id), {user_id, method, two_factor}));
  }
  CreatedToken PersonalToken(const CreatedToken& session, const std::string& user_id,
                             TokenSpec spec = {}) {
    return Must(engine_->CreatePersonalToken(Actor::User(user_id), session.token_prefix, spec));
  }
  Decision Check(const CreatedToken& token, const std::string& org_id,
                 std::string ip = "203.0.113.7") {
    return engine_->CheckToken(token.secret, org_id, At(std::move(ip)));
  }
  Result<PolicyChange> SetPolicy(const std::string& org_id, PolicyUpdate update) {
    return engine_->UpdatePolicy(admin_, org_id, update);
  }

  TempDir dir_;
  std::shared_ptr<std::atomic<std::int64_t>> now_ =
      std::make_shared<std::atomic<std::int64_t>>(kStartUs);
  Actor admin_ = Actor::Admin("admin1", "198.51.100.1");
  std::unique_ptr<Engine> engine_;
};

}  // namespace authledger::testing
