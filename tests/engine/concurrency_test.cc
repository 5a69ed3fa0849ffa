// Concurrency: commands decided serially never both pass the same check, and checks on
// other threads only ever see durable, monotonically advancing state.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/engine/engine_fixture.h"

namespace authledger::testing {
namespace {

using Concurrency = EngineTest;

TEST_F(Concurrency, OnlyOneOrganizationCanVerifyADomainRacedFromManyThreads) {
  constexpr int kThreads = 8;
  for (int i = 0; i < kThreads; ++i) {
    Must(engine_->CreateOrganization(admin_, "org" + std::to_string(i), "Org"));
  }
  std::uint64_t before = engine_->revision();
  std::atomic<int> won{0}, lost{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto r = engine_->VerifyDomain(admin_, "org" + std::to_string(i), "contested.com");
      if (r.ok()) {
        ++won;
      } else if (r.status().reason() == "domain_verified_by_another_organization") {
        ++lost;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(won.load(), 1);
  EXPECT_EQ(lost.load(), kThreads - 1);
  EXPECT_EQ(engine_->revision(), before + 1);
}

TEST_F(Concurrency, ManyCommandsInFlightAllLandWithDistinctRevisions) {
  constexpr int kThreads = 8, kEach = 50;
  Must(engine_->CreateOrganization(admin_, "org1", "Org"));
  std::vector<std::vector<std::uint64_t>> revisions(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        std::string id = "u" + std::to_string(t) + "_" + std::to_string(i);
        auto r = engine_->RegisterUser(admin_, id, id + "@example.org");
        if (r.ok()) revisions[static_cast<std::size_t>(t)].push_back(*r);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::uint64_t> all;
  for (const auto& v : revisions) {
    EXPECT_EQ(v.size(), static_cast<std::size_t>(kEach));
    EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));
    all.insert(v.begin(), v.end());
  }
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kEach));
  EXPECT_EQ(engine_->revision(), 1u + kThreads * kEach);
}

TEST_F(Concurrency, ChecksNeverSeeARevokedTokenPassOnceTheRevocationIsAcknowledged) {
  ManagedOrg("org1", "acme.com");
  UserIn("alice", "alice@acme.com", "org1");
  auto session = Login("alice", "password");
  std::vector<CreatedToken> tokens;
  for (int i = 0; i < 40; ++i) tokens.push_back(PersonalToken(session, "alice"));

  // Revocations acknowledged so far: token index → revision of its revocation.
  std::vector<std::atomic<std::uint64_t>> revoked_at(tokens.size());
  std::atomic<bool> done{false};
  std::atomic<int> violations{0}, checks{0};
  std::vector<std::thread> checkers;
  for (int c = 0; c < 2; ++c) {
    checkers.emplace_back([&] {
      std::uint64_t last_revision = 0;
      while (!done.load()) {
        for (std::size_t i = 0; i < tokens.size(); ++i) {
          std::uint64_t acknowledged = revoked_at[i].load();
          Decision d = engine_->CheckToken(tokens[i].secret, "org1", At());
          ++checks;
          if (d.revision < last_revision) ++violations;  // time never runs backwards
          last_revision = d.revision;
          // A revocation acknowledged before the check began is in effect for it.
          if (acknowledged != 0 && (d.allowed || d.revision < acknowledged)) ++violations;
        }
      }
    });
  }
  std::thread policy_flipper([&] {
    for (int i = 0; i < 20; ++i) {
      PolicyUpdate u;
      u.two_factor_required = i % 2 == 0;
      Must(SetPolicy("org1", u));
    }
  });
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    auto r = engine_->RevokeToken(Actor::User("alice"), tokens[i].token_prefix);
    ASSERT_TRUE(r.ok());
    revoked_at[i].store(*r);
  }
  policy_flipper.join();
  done.store(true);
  for (auto& t : checkers) t.join();
  EXPECT_EQ(violations.load(), 0);
  EXPECT_GT(checks.load(), 0);
  for (const auto& t : tokens) EXPECT_EQ(Check(t, "org1").reason, "token_revoked");
}

}  // namespace
}  // namespace authledger::testing
