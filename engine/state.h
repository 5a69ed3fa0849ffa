// State: the engine's in-memory projection of the event log, and `Evolve`, the pure
// function that folds one event into it.
//
// Everything a decision needs is here; nothing here is read from disk or a clock.
// Replaying the log from empty with Evolve gives exactly the state the live engine had
// at the same seq, which is what replay and verify rely on.
//
// Thread-safety: a State is a value; the engine publishes immutable ones to readers.
#pragma once

#include <authledger/policy.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/cidr.h"
#include "schema/events.capnp.h"
#include "storage/hash.h"

namespace authledger::internal {

enum class TokenKind : std::uint8_t { kSession, kPersonal, kApplication };

struct Organization {
  std::string id;
  std::string name;
  AuthenticationPolicy policy;
  IpAllowlist allowlist;
  std::vector<Cidr> allowlist_ranges;  // parsed allowlist.cidrs
  std::set<std::string> domains;       // verified by this organization
  std::set<std::string> idps;          // owned, not removed
  std::set<std::string> members;       // user ids
  std::set<std::string> application_users;

  friend bool operator==(const Organization&, const Organization&) = default;
};

struct IdentityProvider {
  std::string id;
  std::string org_id;
  std::vector<std::string> domains;
  std::uint32_t max_age_seconds = 0;
  bool extend_when_used = false;
  bool removed = false;

  friend bool operator==(const IdentityProvider&, const IdentityProvider&) = default;
};

struct User {
  std::string id;
  std::string email;
  bool active = true;
  bool two_factor_enabled = false;
  bool application = false;  // an application user of `application_org`
  bool deleted = false;      // application users only
  std::string application_org;
  std::int64_t token_validity_begin_us = 0;
  // Seq of the latest "expire all tokens": tokens created before it are expired. (Seqs
  // rather than times, so that a token created in the same microsecond is ordered.)
  std::uint64_t token_validity_begin_seq = 0;
  std::set<std::string> orgs;  // memberships

  friend bool operator==(const User&, const User&) = default;
};

struct Token {
  std::string prefix;
  storage::Hash secret_hash{};
  TokenKind kind = TokenKind::kSession;
  std::string owner;
  std::string org_id;  // application tokens
  std::string method;
  std::string session_prefix;
  bool two_factor_used = false;
  std::int64_t created_us = 0;
  std::int64_t expiry_time_us = 0;    // 0 = none
  std::uint32_t max_age_seconds = 0;  // 0 = none
  bool extend_when_used = false;
  std::vector<Cidr> ip_allowlist;
  std::vector<std::string> scopes;
  std::int64_t last_used_us = 0;
  std::string last_ip;
  bool revoked = false;
  std::uint64_t revoked_seq = 0;
  std::uint64_t created_seq = 0;

  friend bool operator==(const Token&, const Token&) = default;
};

struct HashOfHash {
  std::size_t operator()(const storage::Hash& h) const noexcept {
    std::size_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | h[static_cast<std::size_t>(i)];
    return v;
  }
};

struct State {
  std::uint64_t revision = 0;  // seq of the last event folded in
  std::int64_t last_time_us = 0;
  std::map<std::string, Organization> orgs;
  std::map<std::string, IdentityProvider> idps;
  std::map<std::string, User> users;
  std::map<std::string, std::string> domain_owner;                             // domain → org id
  std::unordered_map<std::string, Token> tokens;                               // by prefix
  std::unordered_map<storage::Hash, std::string, HashOfHash> token_by_secret;  // → prefix
  std::unordered_map<std::string, std::vector<std::string>> tokens_by_owner;   // user → prefixes

  // The organization managing `user` (through its email domain), or nullptr.
  const Organization* ManagingOrg(const User& user) const;
  const Token* FindTokenBySecretHash(const storage::Hash& h) const;
  const Token* FindToken(const std::string& prefix) const;

  friend bool operator==(const State&, const State&) = default;
};

// The domain part of an email address, lower-case ("" if none).
std::string EmailDomain(const std::string& email);

// Folds one durable event into `state`. Unknown event types (written by a newer
// version) only advance the revision.
void Evolve(State& state, schema::Envelope::Reader event);

AuthenticationPolicy PolicyFromSchema(schema::AuthenticationPolicy::Reader p);
void PolicyToSchema(const AuthenticationPolicy& p, schema::AuthenticationPolicy::Builder out);

}  // namespace authledger::internal
