// Fuzz target: decoding a stored snapshot (engine/snapshot.h) into a State, as LoadState
// does when the engine opens and replay starts (input format: snapshot_input.h).
//
// A damaged snapshot must be refused, never read into undefined behaviour. One that
// decodes must be a state the engine can use: it encodes and decodes back to itself,
// and every token can be checked against every organization (the rules read the
// indexes between tokens, users and organizations that the decoder validated).
// Seeds: snapshots of the demo story at several seqs (make_seeds.cc).
#include <authledger/decision.h>

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>

#include "engine/rules.h"
#include "engine/snapshot.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/snapshot_input.h"

namespace {

using authledger::Status;
using authledger::internal::State;

// A log holds at most this many events here, so a header claims at most this many
// tokens (LoadState's bound is the real log's size).
constexpr std::uint32_t kMaxStoredAt = 1u << 16;

void UseState(const State& s) {
  for (const auto& org : s.orgs) {
    for (const auto* token : authledger::internal::TokensFacing(s, org.id)) {
      static_cast<void>(token->prefix.view());
    }
  }
  std::vector<authledger::TraceStep> trace;
  for (std::size_t t = 0; t < s.tokens.size() && t < 64; ++t) {
    const auto& token = s.tokens.at(static_cast<authledger::internal::Idx>(t));
    FUZZ_CHECK(s.FindToken(token.prefix.view()) == &token);
    for (const auto& org : s.orgs) {
      authledger::CheckContext ctx;
      ctx.time_us = s.last_time_us;
      ctx.ip = "10.1.2.3";
      trace.clear();
      static_cast<void>(authledger::internal::CheckTokenAgainst(s, &token, org.id, ctx, &trace));
    }
  }
}

// Names the parts of two states that differ (for the report of a failed round trip).
void PrintDifferences(const State& a, const State& b) {
  auto part = [](const char* name, bool same) {
    if (!same) std::fprintf(stderr, "round trip changed %s\n", name);
  };
  part("revision", a.revision == b.revision && a.last_time_us == b.last_time_us);
  part("orgs", a.orgs == b.orgs);
  for (std::size_t i = 0; i < a.orgs.size() && i < b.orgs.size(); ++i) {
    const auto& x = a.orgs[i];
    const auto& y = b.orgs[i];
    part("an org's id or name", x.id == y.id && x.name == y.name);
    part("an org's policy", x.policy == y.policy);
    part("an org's allowlist", x.allowlist == y.allowlist);
    part("an org's allowlist ranges", x.allowlist_ranges == y.allowlist_ranges);
    part("an org's domains or idps", x.domains == y.domains && x.idps == y.idps);
    part("an org's members", x.members == y.members && x.application_users == y.application_users);
  }
  part("org_index", a.org_index == b.org_index);
  part("users", a.users == b.users);
  part("user_index", a.user_index == b.user_index);
  part("idps", a.idps == b.idps);
  part("domain_owner", a.domain_owner == b.domain_owner);
  part("tokens", a.tokens == b.tokens);
  part("methods", a.methods == b.methods && a.method_index == b.method_index);
  part("ip_lists", a.ip_lists == b.ip_lists);
  part("ip_list_index", a.ip_list_index == b.ip_list_index);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  authledger::fuzz::SnapshotInput input;
  if (!authledger::fuzz::ParseSnapshotInput(
          std::string_view(reinterpret_cast<const char*>(data), size), &input) ||
      input.stored_at > kMaxStoredAt) {
    return 0;
  }
  auto read_chunk = [&](std::uint32_t chunk, const std::function<Status(std::string_view)>& use) {
    if (chunk >= input.chunks.size()) return Status::NotFound("snapshot_chunk_missing", "");
    return use(input.chunks[chunk]);
  };
  auto state = authledger::internal::DecodeSnapshot(input.header, read_chunk, input.stored_at);
  if (!state.ok()) {
    const auto reason = state.status().reason();
    FUZZ_CHECK(reason == "snapshot_undecodable" || reason == "snapshot_mismatch" ||
               reason == "snapshot_format_unsupported");
    return 0;
  }
  FUZZ_CHECK(state->revision == input.stored_at);
  UseState(*state);

  // Small chunks, so that a few tokens already make several.
  auto encoded = authledger::internal::EncodeSnapshot(*state, /*chunk_records=*/3);
  auto again = authledger::internal::DecodeSnapshot(encoded);
  FUZZ_CHECK(again.ok());
  if (!(*again == *state)) PrintDifferences(*state, *again);
  FUZZ_CHECK(*again == *state);
  return 0;
}
