// Restart: the state after reopening equals the state before closing, field by field,
// whether it comes from a snapshot plus the tail or from the events alone; what a
// snapshot is allowed to be (every size, every chunking) and what it is refused for; and
// that Open and replay pass over a snapshot they cannot use (verify does not).
#include <authledger/audit.h>
#include <authledger/log_tools.h>
#include <capnp/message.h>
#include <capnp/serialize-packed.h>
#include <gtest/gtest.h>
#include <kj/io.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <set>
#include <thread>

#include "engine/engine_impl.h"
#include "engine/snapshot.h"
#include "engine/state_store.h"
#include "schema/snapshot.capnp.h"
#include "storage/event_log.h"
#include "tests/engine/engine_fixture.h"
#include "tests/engine/state_assertions.h"

namespace authledger::testing {
namespace {

using internal::EngineImpl;
using internal::Idx;
using internal::State;

// The state after events 1..seq, folded from the first event.
State Folded(const storage::EventLog& log, std::uint64_t seq) {
  State state;
  EXPECT_TRUE(log.Scan(1, seq,
                       [&](const storage::DecodedEvent& e) {
                         internal::Evolve(state, e.envelope());
                         return true;
                       })
                  .ok());
  return state;
}

// A state of `tokens` tokens built directly, every field of a record varied with its
// index, so that a round trip that loses, shifts or mixes up a field shows.
State SyntheticState(std::uint32_t tokens) {
  using internal::TokenKind;
  State s;
  s.revision = tokens + 50;
  s.last_time_us = 1'767'225'600'000'000 + tokens;
  for (Idx o = 0; o < 3; ++o) {
    internal::Organization& org = s.OrgFor("org" + std::to_string(o));
    org.name = "Org " + std::to_string(o);
    org.policy.two_factor_required = o == 1;
    org.domains.insert("d" + std::to_string(o) + ".example");
    s.domain_owner["d" + std::to_string(o) + ".example"] = o;
  }
  for (Idx u = 0; u < 7; ++u) {
    internal::User& user = s.UserFor("user" + std::to_string(u));
    user.email = "user" + std::to_string(u) + "@d" + std::to_string(u % 3) + ".example";
    user.two_factor_enabled = u % 2 == 0;
    user.orgs = {u % 3};
    s.orgs[u % 3].members.insert(u);
  }
  s.InternMethod("password");
  s.InternMethod("oauth:github");
  s.InternIpList({"203.0.113.0/24", "2001:db8::/32"});
  for (std::uint32_t i = 0; i < tokens; ++i) {
    internal::TokenRecord t;
    const std::string prefix = "alp_" + std::to_string(i);
    t.prefix = internal::Prefix(prefix);
    t.secret_hash = storage::Sha256(prefix + "-secret");
    t.kind = static_cast<TokenKind>(i % 3);
    t.two_factor_used = i % 2 == 0;
    t.extend_when_used = i % 3 == 0;
    t.revoked = i % 5 == 0;
    t.created_us = 1000 * static_cast<std::int64_t>(i);
    t.expiry_time_us = i % 4 == 0 ? 0 : 5000 * static_cast<std::int64_t>(i);
    t.last_used_us = 2000 * static_cast<std::int64_t>(i);
    t.created_seq = i + 1;
    t.owner = i % 7;
    t.org = t.kind == TokenKind::kApplication ? i % 3 : internal::kNoIdx;
    t.method = i % 2;
    t.ip_allowlist = i % 2;
    t.max_age_seconds = i % 3 == 0 ? 0 : 3600;
    s.AddToken(t);
  }
  return s;
}

// Decodes `packed`, lets `edit` change it, and packs it again.
template <typename Edit>
std::string EditHeader(const std::string& packed, const Edit& edit) {
  kj::ArrayInputStream input(kj::ArrayPtr<const kj::byte>(
      reinterpret_cast<const kj::byte*>(packed.data()), packed.size()));
  capnp::PackedMessageReader reader(input);
  capnp::MallocMessageBuilder builder;
  builder.setRoot(reader.getRoot<schema::Snapshot>());
  edit(builder.getRoot<schema::Snapshot>());
  kj::VectorOutputStream out;
  capnp::writePackedMessage(out, builder);
  auto bytes = out.getArray();
  return {reinterpret_cast<const char*>(bytes.begin()), bytes.size()};
}

// Overwrites `size` bytes at `offset` of record `index` in chunks of `chunk_records`.
void Poke(internal::EncodedSnapshot& e, std::uint32_t chunk_records, std::uint32_t index,
          std::size_t offset, const void* bytes, std::size_t size) {
  std::string& chunk = e.chunks.at(index / chunk_records);
  std::memcpy(chunk.data() + (index % chunk_records) * sizeof(internal::TokenRecord) + offset,
              bytes, size);
}

void ExpectUndecodable(const internal::EncodedSnapshot& e, const std::string& what) {
  auto decoded = internal::DecodeSnapshot(e);
  ASSERT_FALSE(decoded.ok()) << what;
  EXPECT_EQ(decoded.status().reason(), "snapshot_undecodable")
      << what << ": " << decoded.status().ToString();
}

class Restart : public EngineTest {
 protected:
  // A history touching every kind of state.
  void PlayHistory() {
    ManagedOrg("org1", "acme.com");
    Must(engine_->CreateOrganization(admin_, "org2", "Other"));
    UserIn("alice", "alice@acme.com", "org1");
    UserIn("bob", "bob@gmail.com", "org1");
    Must(engine_->AddMember(admin_, "org2", "alice"));
    Must(engine_->AddIdp(admin_, "org1", {"idp1", "Acme SSO", {"acme.com"}, 3600, true}));
    Must(engine_->UpdateIpAllowlist(admin_, "org2", true, {"198.51.100.0/24", "2001:db8::/32"}));
    auto session = Login("alice", "password");
    TokenSpec spec;
    spec.description = "ci deploys";
    spec.max_age_seconds = 7200;
    spec.extend_when_used = true;
    spec.ip_allowlist = {"203.0.113.0/24"};
    spec.scopes = {"project:read", "service:write"};
    auto personal = PersonalToken(session, "alice", spec);
    Login("bob", "oauth:github");
    Login("alice", "saml:idp1");
    Must(engine_->CreateApplicationUser(admin_, "org1", "app1", "deployer"));
    Must(engine_->CreateApplicationToken(admin_, "org1", "app1", {}));
    Advance(120);
    EXPECT_TRUE(Check(personal, "org1").allowed);
    engine_->FlushTokenUse();
    PolicyUpdate update;
    update.two_factor_required = true;
    update.oauth_providers = std::vector<std::string>{"google"};
    Must(SetPolicy("org1", update));
    Must(engine_->EnableTwoFactor(Actor::User("alice"), "alice"));
    Must(engine_->ExpireUserTokens(admin_, "bob"));
    Must(engine_->DeactivateUser(admin_, "org1", "alice"));
    Must(engine_->RemoveIdp(admin_, "org1", "idp1"));
  }
};

TEST_F(Restart, StateAfterReopenEqualsStateBeforeCloseFromSnapshot) {
  PlayHistory();
  State before = Published(*engine_);
  ASSERT_GT(before.revision, 20u);
  Reopen();  // closing writes a snapshot at the last revision
  ExpectSameState(before, Published(*engine_));
}

TEST_F(Restart, StateAfterReopenEqualsStateBeforeCloseFromEventsAlone) {
  PlayHistory();
  State before = Published(*engine_);
  engine_.reset();
  // The same log replayed from the first event, with no snapshot at all.
  auto log = std::move(storage::EventLog::Open(dir_.path(), {})).value();
  State replayed;
  ASSERT_TRUE(log->Scan(1, log->size(),
                        [&](const storage::DecodedEvent& e) {
                          internal::Evolve(replayed, e.envelope());
                          return true;
                        })
                  .ok());
  ExpectSameState(before, replayed);
}

TEST_F(Restart, ASnapshotPlusTheTailGivesTheSameStateAsAFullReplay) {
  PlayHistory();
  ASSERT_TRUE(engine_->WriteSnapshot().ok());
  std::uint64_t snapshot_at = engine_->revision();
  Must(engine_->ReactivateUser(admin_, "org1", "alice"));
  Login("alice", "password", true);
  State before = Published(*engine_);
  ASSERT_GT(before.revision, snapshot_at);
  // Reopen reads the snapshot at `snapshot_at` (or the one closing writes) and the tail.
  Reopen();
  ExpectSameState(before, Published(*engine_));
  Login("bob", "password");
  EXPECT_EQ(engine_->revision(), before.revision + 1) << "seqs continue after reopening";
}

TEST_F(Restart, SnapshotsRoundTripExactly) {
  PlayHistory();
  State state = Published(*engine_);
  for (std::uint32_t chunk_records : {1u, 2u, internal::kSnapshotChunkRecords}) {
    auto decoded = internal::DecodeSnapshot(internal::EncodeSnapshot(state, chunk_records));
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    ExpectSameState(state, *decoded);
  }
}

TEST_F(Restart, GarbageIsNotMistakenForASnapshot) {
  auto decoded = internal::DecodeSnapshot({"not a snapshot at all", {}});
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().reason(), "snapshot_undecodable");
}

TEST_F(Restart, SnapshotsAreWrittenInTheBackgroundEveryIntervalEvents) {
  engine_.reset();
  EngineOptions options = Options();
  options.snapshot_interval = 10;
  engine_ = std::move(Engine::Open(dir_.path(), options)).value();
  ManagedOrg("org1", "acme.com");
  const auto& impl = dynamic_cast<const EngineImpl&>(*engine_);
  for (int i = 0; i < 30; ++i) {
    Must(engine_->RegisterUser(admin_, "u" + std::to_string(i), "u@x.org"));
    if (i % 10 == 9) {
      // The background thread writes the snapshot after the events are durable, at its
      // own pace (under a sanitizer, ten commands take less than one snapshot): wait for
      // it, so that each interval gets its own. The bound only keeps a bug from hanging.
      for (int wait = 0; wait < 6000 && impl.LastSnapshotSeq() + 10 <= engine_->revision();
           ++wait) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
  }
  // The close writes one more only if none covers the last revision.
  std::uint64_t last = engine_->revision();
  engine_.reset();
  auto log = std::move(storage::EventLog::Open(dir_.path(), {})).value();
  int snapshots = 0;
  std::uint64_t at = last;
  while (true) {
    auto s = log->NearestSnapshot(at);
    ASSERT_TRUE(s.ok());
    if (!s->has_value()) break;
    ++snapshots;
    const std::uint64_t seq = (*s)->seq;
    auto state = internal::DecodeSnapshot(
        (*s)->bytes,
        [&](std::uint32_t chunk, const std::function<Status(std::string_view)>& use) {
          return log->ReadSnapshotChunk(seq, chunk, use);
        },
        seq);
    ASSERT_TRUE(state.ok()) << state.status().ToString();
    EXPECT_EQ(state->revision, seq);
    if ((*s)->seq == 0) break;
    at = (*s)->seq - 1;
  }
  EXPECT_GE(snapshots, 2) << "expected interval snapshots besides the closing one";
}

TEST_F(Restart, ASnapshotThatDisagreesWithItsSeqIsPassedOverOrRefusedWhenAskedTo) {
  ManagedOrg("org1", "acme.com");
  State state = Published(*engine_);
  engine_.reset();
  {
    auto log = std::move(storage::EventLog::Open(dir_.path(), {})).value();
    State lying = state;
    lying.revision = 1;  // claims to be the state after event 1, stored at seq 2
    ASSERT_TRUE(internal::StoreSnapshot(*log, {2, internal::CopyForSnapshot(lying)}).ok());
  }
  // By default Open passes over it (the only one) and folds the log instead.
  auto engine = Engine::Open(dir_.path(), Options());
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  ExpectSameState(state, Published(**engine));
  auto status = (*engine)->Snapshots();
  EXPECT_EQ(status.stored_problem, "");
  EXPECT_EQ(status.opened_from, 0u);
  ASSERT_EQ(status.unusable_at_open.size(), 1u);
  EXPECT_EQ(status.unusable_at_open[0].seq, 2u);
  EXPECT_EQ(status.unusable_at_open[0].reason, "snapshot_mismatch");
  engine->reset();  // writes no snapshot over it
  EngineOptions strict = Options();
  strict.fall_back_past_bad_snapshots = false;
  engine = Engine::Open(dir_.path(), strict);
  ASSERT_FALSE(engine.ok());
  EXPECT_EQ(engine.status().reason(), "snapshot_mismatch");
}

TEST_F(Restart, ChunkedSnapshotsLoadThroughTheLogWrittenEitherWay) {
  PlayHistory();
  State state = Published(*engine_);
  ASSERT_GE(state.tokens.size(), 5u);
  engine_.reset();
  // Through the memtable (the default for small snapshots), and as an ingested file.
  for (std::size_t file_bytes : {std::size_t{32} << 20, std::size_t{0}}) {
    storage::EventLogOptions options;
    options.snapshot_file_bytes = file_bytes;
    {
      auto log = std::move(storage::EventLog::Open(dir_.path(), options)).value();
      ASSERT_TRUE(
          internal::StoreSnapshot(*log, {state.revision, internal::CopyForSnapshot(state, 2)})
              .ok());
    }
    auto log = std::move(storage::EventLog::Open(dir_.path(), options)).value();
    auto loaded = internal::LoadState(*log, log->size());
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    EXPECT_EQ(loaded->snapshot_seq, state.revision);
    ExpectSameState(state, loaded->state);
    for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
      EXPECT_NE(entry.path().extension(), ".tmp") << "left behind: " << entry.path();
    }
  }
}

TEST_F(Restart, AHalfWrittenSnapshotIsIgnored) {
  PlayHistory();
  ASSERT_TRUE(engine_->WriteSnapshot().ok());
  const std::uint64_t complete = engine_->revision();
  Must(engine_->ReactivateUser(admin_, "org1", "alice"));
  Login("alice", "password", true);
  const std::uint64_t cut_short = engine_->revision();
  Login("bob", "password");
  engine_.reset();  // writes a complete snapshot at the end, after `cut_short`
  auto log = std::move(storage::EventLog::Open(dir_.path(), {})).value();
  State expected = Folded(*log, cut_short);
  // A snapshot at `cut_short` whose chunks were written but not its header (a crash).
  internal::SnapshotImage image = internal::CopyForSnapshot(expected, 1);
  ASSERT_TRUE(log->PutSnapshotChunks(cut_short, internal::ChunkBytes(image)).ok());
  auto seqs = log->SnapshotSeqs();
  ASSERT_TRUE(seqs.ok());
  EXPECT_EQ(std::count(seqs->begin(), seqs->end(), cut_short), 0);
  auto loaded = internal::LoadState(*log, cut_short);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->snapshot_seq, complete) << "the earlier complete snapshot, then the tail";
  ExpectSameState(expected, loaded->state);
  // Its header completes it.
  ASSERT_TRUE(log->PutSnapshot(cut_short, internal::PackHeader(image)).ok());
  loaded = internal::LoadState(*log, cut_short);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->snapshot_seq, cut_short);
  ExpectSameState(expected, loaded->state);
}

TEST_F(Restart, ASnapshotMissingAChunkIsPassedOverForAnOlderOneOrRefusedWhenAskedTo) {
  PlayHistory();
  ASSERT_TRUE(engine_->WriteSnapshot().ok());
  const std::uint64_t older = engine_->revision();
  Must(engine_->ReactivateUser(admin_, "org1", "alice"));
  State state = Published(*engine_);
  engine_.reset();
  {
    auto log = std::move(storage::EventLog::Open(dir_.path(), {})).value();
    internal::SnapshotImage image = internal::CopyForSnapshot(state, 2);
    auto chunks = internal::ChunkBytes(image);
    ASSERT_GE(chunks.size(), 2u);
    chunks.erase(chunks.begin() + 1);  // the header still counts it
    ASSERT_TRUE(log->PutSnapshotChunks(state.revision, chunks).ok());
    ASSERT_TRUE(log->PutSnapshot(state.revision, internal::PackHeader(image)).ok());
  }
  EngineOptions strict = Options();
  strict.fall_back_past_bad_snapshots = false;
  auto engine = Engine::Open(dir_.path(), strict);
  ASSERT_FALSE(engine.ok());
  EXPECT_EQ(engine.status().reason(), "snapshot_undecodable") << engine.status().ToString();

  engine = Engine::Open(dir_.path(), Options());
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  ExpectSameState(state, Published(**engine));
  auto status = (*engine)->Snapshots();
  EXPECT_EQ(status.stored_problem, "");
  EXPECT_EQ(status.opened_from, older);
  ASSERT_EQ(status.unusable_at_open.size(), 1u);
  EXPECT_EQ(status.unusable_at_open[0].seq, state.revision);
  EXPECT_EQ(status.unusable_at_open[0].reason, "snapshot_undecodable");
}

TEST_F(Restart, ReplayPassesOverABadNearestSnapshotAndVerifyDoesNot) {
  PlayHistory();
  ASSERT_TRUE(engine_->WriteSnapshot().ok());
  const std::uint64_t older = engine_->revision();
  Must(engine_->ReactivateUser(admin_, "org1", "alice"));
  ASSERT_TRUE(engine_->WriteSnapshot().ok());
  const std::uint64_t nearest = engine_->revision();
  Login("alice", "password", true);
  Login("bob", "password");
  engine_.reset();
  auto log = std::move(storage::EventLog::Open(dir_.path(), {})).value();
  ASSERT_TRUE(log->PutSnapshot(nearest, "not a snapshot").ok());
  for (std::uint64_t seq : {nearest, nearest + 1}) {
    SCOPED_TRACE("seq " + std::to_string(seq));
    auto loaded = internal::LoadState(*log, seq);
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    EXPECT_EQ(loaded->snapshot_seq, older);
    ASSERT_EQ(loaded->skipped.size(), 1u);
    EXPECT_EQ(loaded->skipped[0].seq, nearest);
    EXPECT_EQ(loaded->skipped[0].why.reason(), "snapshot_undecodable");
    ExpectSameState(Folded(*log, seq), loaded->state);
    auto strict = internal::LoadState(*log, seq, false, internal::BadSnapshot::kFail);
    ASSERT_FALSE(strict.ok());
    EXPECT_EQ(strict.status().reason(), "snapshot_undecodable");
  }
  log.reset();
  // The auditor's questions about the past go through LoadState too.
  auto auditor = Auditor::Open(dir_.path());
  ASSERT_TRUE(auditor.ok()) << auditor.status().ToString();
  auto summary = (*auditor)->StateAt(Moment::AtSeq(nearest + 1));
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(summary->seq, nearest + 1);
  EXPECT_GT(summary->tokens, 0u);
  // Verify checks every snapshot, and names the bad one.
  auto report = VerifyLog(dir_.path());
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->problem, "snapshot_undecodable") << report->message;
  EXPECT_EQ(report->bad_seq, nearest);
}

TEST_F(Restart, ASnapshotOfAnOlderFormatIsIgnoredAndTheLogFolded) {
  PlayHistory();
  State before = Published(*engine_);
  engine_.reset();
  {
    // What a format-2 build stored: one value under the seq, tokens in columns.
    auto log = std::move(storage::EventLog::Open(dir_.path(), {})).value();
    std::string old = EditHeader(internal::EncodeSnapshot(before).header, [](auto root) {
      root.setFormatVersion(2);
      root.initTokens().initPrefixes(1).set(0, "alp_old");
    });
    ASSERT_TRUE(log->PutSnapshot(before.revision, old).ok());
    auto loaded = internal::LoadState(*log, log->size());
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    EXPECT_EQ(loaded->snapshot_seq, 0u) << "folded from the first event";
    ExpectSameState(before, loaded->state);
  }
  Open();
  ExpectSameState(before, Published(*engine_));
}

TEST_F(Restart, TwoFactorRevocationsAreInTheSameBatchAndNameTheirCause) {
  ManagedOrg("org1", "acme.com");
  UserIn("alice", "alice@acme.com", "org1");
  auto session = Login("alice", "password");
  auto personal = PersonalToken(session, "alice");
  Login("alice", "oauth:google");  // not password-made: stays
  std::uint64_t before = engine_->revision();
  std::uint64_t after = Must(engine_->EnableTwoFactor(Actor::User("alice"), "alice"));
  ASSERT_EQ(after, before + 3) << "the 2FA event and two revocations, one batch";
  engine_.reset();
  storage::EventLogOptions options;
  options.read_only = true;
  auto log = std::move(storage::EventLog::Open(dir_.path(), options)).value();
  auto twofa = log->Read(before + 1);
  ASSERT_TRUE(twofa.ok());
  EXPECT_TRUE(twofa->envelope().getEvent().isTwoFactorEnabled());
  std::set<std::string> revoked;
  for (std::uint64_t seq = before + 2; seq <= after; ++seq) {
    auto e = log->Read(seq);
    ASSERT_TRUE(e.ok());
    ASSERT_TRUE(e->envelope().getEvent().isTokenRevoked());
    auto r = e->envelope().getEvent().getTokenRevoked();
    EXPECT_EQ(e->envelope().getCause(), before + 1) << "cause = the 2FA event";
    EXPECT_EQ(r.getReason(), schema::RevocationReason::TWO_FACTOR_CHANGED);
    EXPECT_EQ(e->time_us(), twofa->time_us());
    revoked.insert(r.getTokenPrefix().cStr());
  }
  EXPECT_EQ(revoked, (std::set<std::string>{session.token_prefix, personal.token_prefix}));
}

// ---- The snapshot format itself, without a log ----

TEST(SnapshotFormat, RoundTripsEveryStateSizeAndChunking) {
  for (std::uint32_t tokens : {0u, 1u, 6u, 64u, 1000u, 20000u}) {
    State state = SyntheticState(tokens);
    for (std::uint32_t chunk_records : {1u, 3u, 64u, internal::kSnapshotChunkRecords}) {
      SCOPED_TRACE(std::to_string(tokens) + " tokens, chunks of " + std::to_string(chunk_records));
      auto encoded = internal::EncodeSnapshot(state, chunk_records);
      EXPECT_EQ(encoded.chunks.size(), (tokens + chunk_records - 1) / chunk_records);
      auto decoded = internal::DecodeSnapshot(encoded);
      ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
      ExpectSameState(state, *decoded);
      if (tokens > 0) {
        EXPECT_EQ(decoded->users[(tokens - 1) % 7].last_token, tokens - 1) << "owner lists";
      }
    }
  }
  EXPECT_TRUE(internal::DecodeSnapshot(internal::EncodeSnapshot(State{})).ok());
}

TEST(SnapshotFormat, AMissingChunkIsCorruption) {
  auto encoded = internal::EncodeSnapshot(SyntheticState(10), 3);
  ASSERT_EQ(encoded.chunks.size(), 4u);
  encoded.chunks.pop_back();
  ExpectUndecodable(encoded, "last chunk missing");
}

TEST(SnapshotFormat, AChunkOfTheWrongSizeIsCorruption) {
  const auto encoded = internal::EncodeSnapshot(SyntheticState(10), 3);
  for (std::size_t c = 0; c < encoded.chunks.size(); ++c) {
    auto shorter = encoded;
    shorter.chunks[c].pop_back();
    ExpectUndecodable(shorter, "chunk " + std::to_string(c) + " a byte short");
    auto longer = encoded;
    longer.chunks[c].push_back('\0');
    ExpectUndecodable(longer, "chunk " + std::to_string(c) + " a byte long");
    auto empty = encoded;
    empty.chunks[c].clear();
    ExpectUndecodable(empty, "chunk " + std::to_string(c) + " empty");
  }
}

TEST(SnapshotFormat, ARecordPointingOutsideTheStateIsCorruption) {
  using internal::TokenRecord;
  const auto encoded = internal::EncodeSnapshot(SyntheticState(10), 3);
  const std::pair<std::size_t, std::uint32_t> faults[] = {
      {offsetof(TokenRecord, owner), 7},         {offsetof(TokenRecord, owner), internal::kNoIdx},
      {offsetof(TokenRecord, org), 3},           {offsetof(TokenRecord, method), 2},
      {offsetof(TokenRecord, ip_allowlist), 2},  {offsetof(TokenRecord, next_of_owner), 7},
      {offsetof(TokenRecord, next_of_owner), 9},
  };
  for (const auto& [offset, value] : faults) {
    auto damaged = encoded;
    Poke(damaged, 3, 7, offset, &value, sizeof(value));
    ExpectUndecodable(damaged, "offset " + std::to_string(offset) + " = " + std::to_string(value));
  }
}

TEST(SnapshotFormat, BytesNoRecordCanHoldAreCorruption) {
  using internal::TokenRecord;
  const auto encoded = internal::EncodeSnapshot(SyntheticState(10), 3);
  const std::pair<std::size_t, unsigned char> faults[] = {
      {offsetof(TokenRecord, kind), 3},
      {offsetof(TokenRecord, two_factor_used), 2},
      {offsetof(TokenRecord, extend_when_used), 0xff},
      {offsetof(TokenRecord, revoked), 7},
      {offsetof(TokenRecord, padding) + 2, 1},
      {offsetof(TokenRecord, prefix) + internal::Prefix::kMax, 'x'},  // no terminating NUL
  };
  for (const auto& [offset, value] : faults) {
    auto damaged = encoded;
    Poke(damaged, 3, 4, offset, &value, 1);
    ExpectUndecodable(damaged, "offset " + std::to_string(offset) + " = " + std::to_string(value));
  }
}

TEST(SnapshotFormat, RecordsOutOfTheirOwnersOrderAreCorruption) {
  // Tokens 0 and 7 belong to user 0; token 7 must point back to 0, not elsewhere.
  auto encoded = internal::EncodeSnapshot(SyntheticState(10), 3);
  const Idx wrong = 1;
  Poke(encoded, 3, 7, offsetof(internal::TokenRecord, next_of_owner), &wrong, sizeof(wrong));
  ExpectUndecodable(encoded, "owner list through another owner's token");
  encoded = internal::EncodeSnapshot(SyntheticState(10), 3);
  const Idx none = internal::kNoIdx;
  Poke(encoded, 3, 7, offsetof(internal::TokenRecord, next_of_owner), &none, sizeof(none));
  ExpectUndecodable(encoded, "owner list cut short");
}

TEST(SnapshotFormat, TwoTokensWithOnePrefixAreCorruption) {
  for (std::uint32_t tokens : {2u, 1000u}) {
    auto encoded = internal::EncodeSnapshot(SyntheticState(tokens), 64);
    const internal::Prefix first("alp_0");
    Poke(encoded, 64, tokens - 1, offsetof(internal::TokenRecord, prefix), &first, sizeof(first));
    ExpectUndecodable(encoded, std::to_string(tokens) + " tokens");
  }
}

TEST(SnapshotFormat, RecordsOfAnotherLayoutAreCorruption) {
  const auto encoded = internal::EncodeSnapshot(SyntheticState(10), 3);
  auto damaged = encoded;
  damaged.header = EditHeader(encoded.header, [](auto root) { root.setRecordSize(104); });
  ExpectUndecodable(damaged, "record size");
  damaged.header = EditHeader(encoded.header, [](auto root) { root.setRecordLayout(2); });
  ExpectUndecodable(damaged, "record layout");
}

TEST(SnapshotFormat, CountsThatDisagreeAreCorruption) {
  const auto encoded = internal::EncodeSnapshot(SyntheticState(10), 3);
  auto damaged = encoded;
  damaged.header = EditHeader(encoded.header, [](auto root) { root.setTokenCount(11); });
  ExpectUndecodable(damaged, "one token more than the chunks hold");
  damaged.header = EditHeader(encoded.header, [](auto root) { root.setTokenCount(13); });
  ExpectUndecodable(damaged, "one chunk more than stored");
  damaged.header = EditHeader(encoded.header, [](auto root) { root.setChunkCount(5); });
  ExpectUndecodable(damaged, "chunk count");
  damaged.header = EditHeader(encoded.header, [](auto root) { root.setChunkRecords(0); });
  ExpectUndecodable(damaged, "empty chunks");
  damaged.header = EditHeader(encoded.header, [](auto root) { root.setTokenCount(1u << 30); });
  ExpectUndecodable(damaged, "more tokens than events");
  damaged.header = EditHeader(internal::EncodeSnapshot(State{}).header,
                              [](auto root) { root.setChunkCount(1); });
  ExpectUndecodable(damaged, "a chunk without tokens");
}

TEST(SnapshotFormat, EveryTruncationOfTheHeaderIsCorruption) {
  const auto encoded = internal::EncodeSnapshot(SyntheticState(10), 3);
  for (std::size_t size = 0; size < encoded.header.size(); ++size) {
    auto damaged = encoded;
    damaged.header.resize(size);
    ExpectUndecodable(damaged, "header cut at " + std::to_string(size));
  }
}

TEST(SnapshotFormat, AnotherFormatIsUnsupportedNotCorrupt) {
  for (std::uint32_t format : {2u, 4u}) {
    auto encoded = internal::EncodeSnapshot(SyntheticState(3));
    encoded.header = EditHeader(encoded.header, [&](auto root) { root.setFormatVersion(format); });
    auto decoded = internal::DecodeSnapshot(encoded);
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.status().reason(), "snapshot_format_unsupported");
  }
}

}  // namespace
}  // namespace authledger::testing
