// Assertions over whole engine states, shared by the restart and stress tests: the
// published state of a live engine, and a field-by-field comparison of two states.
#pragma once

#include <authledger/engine.h>
#include <gtest/gtest.h>

#include "engine/engine_impl.h"
#include "engine/state.h"

namespace authledger::testing {

// A copy of the state `engine` publishes to checks.
inline internal::State Published(const Engine& engine) {
  return dynamic_cast<const internal::EngineImpl&>(engine).PublishedState();
}

// Field-by-field comparison, so a failure names what differs.
inline void ExpectSameState(const internal::State& a, const internal::State& b) {
  EXPECT_EQ(a.revision, b.revision);
  EXPECT_EQ(a.last_time_us, b.last_time_us);
  ASSERT_EQ(a.orgs.size(), b.orgs.size());
  for (std::size_t i = 0; i < a.orgs.size(); ++i) {
    const auto& org = a.orgs[i];
    const auto& other = b.orgs[i];
    EXPECT_EQ(org.id, other.id);
    EXPECT_EQ(org.name, other.name) << org.id;
    EXPECT_EQ(org.policy, other.policy) << org.id;
    EXPECT_EQ(org.allowlist, other.allowlist) << org.id;
    EXPECT_EQ(org.allowlist_ranges, other.allowlist_ranges) << org.id;
    EXPECT_EQ(org.domains, other.domains) << org.id;
    EXPECT_EQ(org.idps, other.idps) << org.id;
    EXPECT_EQ(org.members, other.members) << org.id;
    EXPECT_EQ(org.application_users, other.application_users) << org.id;
  }
  EXPECT_EQ(a.org_index, b.org_index);
  EXPECT_EQ(a.idps, b.idps);
  ASSERT_EQ(a.users.size(), b.users.size());
  for (std::size_t i = 0; i < a.users.size(); ++i) {
    EXPECT_TRUE(a.users[i] == b.users[i]) << "user " << a.users[i].id << " differs";
  }
  EXPECT_EQ(a.user_index, b.user_index);
  EXPECT_EQ(a.domain_owner, b.domain_owner);
  EXPECT_EQ(a.methods, b.methods);
  EXPECT_EQ(a.ip_lists, b.ip_lists);
  ASSERT_EQ(a.tokens.size(), b.tokens.size());
  for (internal::Idx i = 0; i < a.tokens.size(); ++i) {
    const auto& token = a.tokens.at(i);
    const auto& other = b.tokens.at(i);
    EXPECT_EQ(token.prefix.view(), other.prefix.view());
    EXPECT_EQ(token.secret_hash, other.secret_hash) << token.prefix.view();
    EXPECT_EQ(token.revoked, other.revoked) << token.prefix.view();
    EXPECT_EQ(token.last_used_us, other.last_used_us) << token.prefix.view();
    EXPECT_TRUE(token == other) << "token " << token.prefix.view() << " differs";
    EXPECT_EQ(b.tokens.Find(token.prefix.view()), i) << "the index finds every token";
  }
  EXPECT_TRUE(a == b);
}

}  // namespace authledger::testing
