// State: the engine's in-memory projection of the event log, and `Evolve`, the pure
// function that folds one event into it.
//
// Everything a decision needs is here and nothing else: cold fields (descriptions,
// scopes, last IPs) stay in the log. Tokens live in a compact TokenTable (≈ 120 bytes
// each with their index); users and organizations are dense vectors found through
// hash indexes, and tokens refer to them by index. Replaying the log from empty with
// Evolve gives exactly the state the live engine had at the same seq, which replay and
// verify rely on.
//
// Thread-safety: a value; the engine guards its one State with a shared mutex.
#pragma once

#include <authledger/policy.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/cidr.h"
#include "engine/id_index.h"
#include "engine/idx_list.h"
#include "engine/token_table.h"
#include "schema/events.capnp.h"

namespace authledger::internal {

// Unordered maps keyed by std::string, searched with a std::string_view without building
// a string. No map of these is iterated in an order that matters (snapshots and events
// are written from the vectors).
template <typename V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

struct Organization {
  std::string id;
  std::string name;
  AuthenticationPolicy policy;
  IpAllowlist allowlist;
  std::vector<Cidr> allowlist_ranges;  // parsed allowlist.cidrs
  std::set<std::string> domains;       // verified by this organization
  std::set<std::string> idps;          // owned, not removed
  std::set<Idx> members;               // user indexes
  std::set<Idx> application_users;     // user indexes

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
  Idx application_org = kNoIdx;
  std::int64_t token_validity_begin_us = 0;
  // Seq of the latest "expire all tokens": tokens created before it are expired. (Seqs
  // rather than times, so that a token created in the same microsecond is ordered.)
  std::uint64_t token_validity_begin_seq = 0;
  IdxList orgs;             // memberships, sorted org indexes
  Idx last_token = kNoIdx;  // newest token; older ones via TokenRecord::next_of_owner

  bool MemberOf(Idx org) const;
  friend bool operator==(const User&, const User&) = default;
};

struct State {
  std::uint64_t revision = 0;  // seq of the last event folded in
  std::int64_t last_time_us = 0;
  std::vector<Organization> orgs;
  IdIndex org_index;
  std::vector<User> users;
  IdIndex user_index;
  std::map<std::string, IdentityProvider, std::less<>> idps;
  StringMap<Idx> domain_owner;  // domain → org index
  TokenTable tokens;
  // Interned authentication methods and token IP allowlists (list 0 is "any address").
  std::vector<std::string> methods;
  StringMap<Idx> method_index;
  std::vector<std::vector<Cidr>> ip_lists = {{}};
  StringMap<Idx> ip_list_index;

  const Organization* FindOrg(std::string_view id) const;
  Idx OrgIdx(std::string_view id) const;
  const User* FindUser(std::string_view id) const;
  Idx UserIdx(std::string_view id) const;
  // The same, given the id's IdIndex::TagOf.
  Idx OrgIdx(std::string_view id, std::uint32_t tag) const;
  Idx UserIdx(std::string_view id, std::uint32_t tag) const;
  const TokenRecord* FindToken(std::string_view prefix) const;
  const IdentityProvider* FindIdp(std::string_view id) const;
  // The organization managing `user` (through its email domain), or nullptr.
  const Organization* ManagingOrg(const User& user) const;
  std::string_view Method(const TokenRecord& t) const { return methods[t.method]; }
  const std::vector<Cidr>& IpList(const TokenRecord& t) const { return ip_lists[t.ip_allowlist]; }
  const User& OwnerOf(const TokenRecord& t) const { return users[t.owner]; }
  // Calls fn(index, record) for every token of `user`, newest first.
  template <typename Fn>
  void ForEachTokenOf(const User& user, Fn fn) const {
    for (Idx i = user.last_token; i != kNoIdx; i = tokens.at(i).next_of_owner) fn(i, tokens.at(i));
  }

  // Mutators used by Evolve and snapshot decoding: find or create.
  Organization& OrgFor(std::string_view id);
  User& UserFor(std::string_view id);
  Idx InternMethod(std::string_view method);
  Idx InternIpList(const std::vector<std::string>& cidrs);
  // Appends a token record and links it into its owner's list.
  void AddToken(TokenRecord record);

  friend bool operator==(const State&, const State&) = default;
};

// The characters of a Cap'n Proto text, as a view into the message.
inline std::string_view View(capnp::Text::Reader text) { return {text.begin(), text.size()}; }

// The domain part of an email address, lower-case ("" if none).
std::string EmailDomain(std::string_view email);

// Folds one durable event into `state`. Unknown event types (written by a newer
// version) only advance the revision.
void Evolve(State& state, schema::Envelope::Reader event);

// What Evolve does first with every event: the state is as of its seq and time. Also for
// a fold that applies a token use without decoding it again (engine/fold.cc).
inline void EvolveAdvance(State& state, std::uint64_t seq, std::int64_t time_us) {
  state.revision = seq;
  state.last_time_us = time_us;
}

// What Evolve does with a token use (after EvolveAdvance): the token
// whose prefix has `key` (`hash` == key.Hash()), if any, was last used at the later of
// its last use and `last_used_us`. Also for a fold that has these from the event
// already, without decoding it again (engine/fold.cc).
inline void EvolveTokenUse(State& state, const PrefixKey& key, std::uint64_t hash,
                           std::int64_t last_used_us) {
  const Idx i = state.tokens.Find(key, hash);
  if (i == kNoIdx) return;
  TokenRecord& t = state.tokens.at(i);
  t.last_used_us = std::max(t.last_used_us, last_used_us);
}

// Prefetching for a fold of many events, whose cache misses then overlap: most events
// are token uses, each touching a token record at a random place among them all, and
// token creations also find their owner among all users. EvolveLookupOf tells, from the
// event alone, what Evolve will look up: the hash of the token prefix
// (PrefixKey::Hash, 0 if none) and the tag of the user id (IdIndex::TagOf, if any). A
// fold calls PrefetchForEvolve with it a few events ahead, kSlot before kRecord (the
// slots name the records and users). Only hints: they change nothing (a hash that is 0
// by chance merely goes without). Always inlined, as TokenTable's prefetches are (see
// there).
struct EvolveLookup {
  std::uint64_t token_hash = 0;
  std::uint32_t user_tag = 0;
  bool has_user = false;

  // The token_hash of a prefix with this key: its Hash(), or 0 if it is not valid.
  static std::uint64_t TokenHash(const PrefixKey& key) { return key.valid() ? key.Hash() : 0; }
};
EvolveLookup EvolveLookupOf(schema::Envelope::Reader event);
enum class PrefetchStage { kSlot, kRecord };
[[gnu::always_inline]] inline void PrefetchForEvolve(const State& state, const EvolveLookup& lookup,
                                                     PrefetchStage stage) {
  if (stage == PrefetchStage::kSlot) {
    if (lookup.token_hash != 0) state.tokens.PrefetchSlot(lookup.token_hash);
    if (lookup.has_user) state.user_index.PrefetchSlot(lookup.user_tag);
  } else {
    if (lookup.token_hash != 0) state.tokens.PrefetchRecord(lookup.token_hash);
    if (lookup.has_user) {
      // The id Find compares, and the newest-token link a token creation sets.
      state.user_index.PrefetchElement(lookup.user_tag, [&](Idx i) {
        __builtin_prefetch(&state.users[i].id);
        __builtin_prefetch(&state.users[i].last_token, 1);
      });
    }
  }
}

AuthenticationPolicy PolicyFromSchema(schema::AuthenticationPolicy::Reader p);
void PolicyToSchema(const AuthenticationPolicy& p, schema::AuthenticationPolicy::Builder out);

}  // namespace authledger::internal
