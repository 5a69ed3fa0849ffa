// The auditors' log tools (authledger/log_tools.h) on logs written by the real engine:
// checkpoints, proofs and the free-standing verifier (adversarially: every changed byte
// must be caught), verify against tampered logs and lying snapshots, and export.
#include <authledger/log_tools.h>
#include <capnp/compat/json.h>
#include <capnp/message.h>
#include <capnp/serialize-packed.h>
#include <gtest/gtest.h>
#include <kj/io.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "engine/state_store.h"
#include "replay/event_json.h"
#include "schema/snapshot.capnp.h"
#include "storage/event_log.h"
#include "storage/tamper.h"
#include "tests/engine/engine_fixture.h"

namespace authledger::testing {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// RFC 4180 records: quoted fields may hold commas, doubled quotes and line breaks.
std::vector<std::vector<std::string>> ParseCsv(const std::string& text) {
  std::vector<std::vector<std::string>> rows(1, std::vector<std::string>(1));
  bool quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        rows.back().back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        rows.back().back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      rows.back().emplace_back();
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      rows.emplace_back(1);
      ++i;
    } else {
      rows.back().back() += c;
    }
  }
  if (rows.back().size() == 1 && rows.back()[0].empty()) rows.pop_back();
  return rows;
}

// An Ed25519 key pair as `openssl genpkey` / `openssl pkey -pubout` write them.
struct KeyFiles {
  std::string private_pem;
  std::string public_pem;
};

KeyFiles MakeKeyFiles(const TempDir& dir, const std::string& name) {
  KeyFiles files{dir.Sub(name + ".pem"), dir.Sub(name + ".pub.pem")};
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  FILE* f = std::fopen(files.private_pem.c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  f = std::fopen(files.public_pem.c_str(), "w");
  PEM_write_PUBKEY(f, key);
  std::fclose(f);
  EVP_PKEY_free(key);
  return files;
}

class LogToolsTest : public EngineTest {
 protected:
  // Every kind of event the engine writes, a snapshot in the middle (at mid_seq_), and
  // token uses recorded in the background.
  void PlayStory() {
    ManagedOrg("acme", "acme.com");
    Must(engine_->AddIdp(admin_, "acme", {"acme-sso", "Acme SSO", {"acme.com"}, 86400, false}));
    Must(engine_->CreateOrganization(admin_, "partner", "Partner, \"Ltd\""));
    UserIn("alice", "alice@acme.com", "acme");
    UserIn("bob", "bob@example.org", "partner");
    Must(engine_->AddMember(admin_, "partner", "alice"));
    Advance(60);
    auto session = Login("alice", "password");
    TokenSpec spec;
    spec.description = "CI, \"deploy\"\nkey";
    spec.max_age_seconds = 3600;
    spec.extend_when_used = true;
    spec.ip_allowlist = {"10.0.0.0/8", "2001:db8::/32"};
    spec.scopes = {"read", "write"};
    auto personal = PersonalToken(session, "alice", spec);
    secrets_ = {session.secret, personal.secret};
    Check(personal, "acme", "10.1.2.3");
    engine_->FlushTokenUse();
    used_prefix_ = personal.token_prefix;
    Advance(60);
    UserIn("dave", "dave@acme.com", "acme");
    Must(engine_->DeactivateUser(admin_, "acme", "dave"));
    EXPECT_EQ(
        engine_->RecordLogin(Actor::User("dave"), {"dave", "password", false}).status().reason(),
        "user_deactivated");
    Must(engine_->ReactivateUser(admin_, "acme", "dave"));
    Must(engine_->CreateApplicationUser(admin_, "partner", "ci-bot", "CI bot"));
    secrets_.push_back(
        Must(engine_->CreateApplicationToken(admin_, "partner", "ci-bot", {})).secret);
    ASSERT_TRUE(engine_->WriteSnapshot().ok());
    mid_seq_ = engine_->revision();
    Advance(60);
    PolicyUpdate update;
    update.two_factor_required = true;
    Must(SetPolicy("acme", update));
    Must(engine_->UpdateIpAllowlist(admin_, "partner", true, {"198.51.100.0/24"}));
    Must(engine_->EnableTwoFactor(Actor::User("alice"), "alice"));  // revokes the password ones
    auto oauth = Login("alice", "oauth:github", true);
    secrets_.push_back(oauth.secret);
    Must(engine_->ExpireUserTokens(Actor::User("alice"), "alice"));
    Must(engine_->DeleteApplicationUser(admin_, "partner", "ci-bot"));
    Must(engine_->RemoveMember(admin_, "partner", "alice"));
    Must(engine_->RemoveIdp(admin_, "acme", "acme-sso"));
    Must(engine_->UnverifyDomain(admin_, "acme", "acme.com"));
    size_ = engine_->revision();
  }
  // Closes the engine (it writes its final snapshot) so that the log can be damaged.
  void Close() { engine_.reset(); }

  std::unique_ptr<storage::EventLog> OpenLog(bool read_only = true) {
    storage::EventLogOptions options;
    options.read_only = read_only;
    options.create_if_missing = false;
    auto log = storage::EventLog::Open(dir_.path(), options);
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    return log.ok() ? std::move(log).value() : nullptr;
  }

  std::string Export(ExportFormat format, std::uint64_t from = 1, std::uint64_t to = 0) {
    std::ostringstream out;
    ExportOptions options;
    options.format = format;
    options.from_seq = from;
    options.to_seq = to;
    auto n = ExportEvents(dir_.path(), out, options);
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    return out.str();
  }

  VerifyReport Verify(const VerifyOptions& options = {}) {
    auto report = VerifyLog(dir_.path(), options);
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? *report : VerifyReport{};
  }

  std::vector<std::string> secrets_;
  std::string used_prefix_;  // a token with a recorded use
  std::uint64_t mid_seq_ = 0;
  std::uint64_t size_ = 0;
};

// ---- Checkpoints ----

TEST_F(LogToolsTest, CheckpointIsTheLogsSizeRootAndLastTimeAndUnsignedWithoutAKey) {
  PlayStory();
  auto live = Must(engine_->Checkpoint());
  Close();
  auto c = ReadCheckpoint(dir_.path());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->size, size_);
  EXPECT_EQ(c->root_hex, live.root_hex);
  EXPECT_EQ(c->time_us, now());
  EXPECT_TRUE(c->signature_hex.empty());
  EXPECT_TRUE(c->key_id.empty());
}

TEST_F(LogToolsTest, CheckpointIsReadBesideALiveEngine) {
  PlayStory();
  auto c = ReadCheckpoint(dir_.path());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->root_hex, Must(engine_->Checkpoint()).root_hex);
  Must(engine_->RegisterUser(admin_, "carol", "carol@example.org"));
  EXPECT_EQ(Must(ReadCheckpoint(dir_.path())).size, size_ + 1) << "a new opening sees new events";
}

TEST_F(LogToolsTest, VerifyAndExportRunBesideAnEngineThatWritesAndSnapshots) {
  PlayStory();
  // The writer registers up to kPerRound users (and a snapshot every 5) per round of
  // verify and export, so that every round runs beside writes, and the log, which each
  // round reads whole, grows by as much however fast either side runs.
  constexpr int kRounds = 12;
  constexpr int kPerRound = 25;
  std::atomic<bool> stop{false};
  std::atomic<int> round_started{0};
  std::thread writer([&] {
    for (int i = 0; !stop.load(); ++i) {
      while (i >= kPerRound * round_started.load() && !stop.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      if (stop.load()) return;
      const std::string user = "writer" + std::to_string(i);
      if (!engine_->RegisterUser(admin_, user, user + "@example.org").ok()) return;
      if (i % 5 == 0 && !engine_->WriteSnapshot().ok()) return;
    }
  });
  for (int round = 0; round < kRounds; ++round) {
    round_started = round + 1;
    auto report = VerifyLog(dir_.path());
    ASSERT_TRUE(report.ok()) << "round " << round << ": " << report.status().ToString();
    EXPECT_TRUE(report->ok()) << "round " << round << ": " << report->problem << " at "
                              << report->bad_seq << ": " << report->message;
    EXPECT_GE(report->size, size_);
    std::ostringstream out;
    auto exported = ExportEvents(dir_.path(), out);
    ASSERT_TRUE(exported.ok()) << "round " << round << ": " << exported.status().ToString();
    EXPECT_EQ(Lines(out.str()).size(), *exported);
  }
  stop = true;
  writer.join();
}

TEST_F(LogToolsTest, SignedCheckpointVerifiesWithThePublicKeyOnlyAsSigned) {
  PlayStory();
  Close();
  TempDir keys;
  KeyFiles operator_key = MakeKeyFiles(keys, "operator");
  KeyFiles other_key = MakeKeyFiles(keys, "other");
  auto c = ReadCheckpoint(dir_.path(), operator_key.private_pem);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->signature_hex.size(), 128u);
  EXPECT_EQ(c->key_id.size(), 16u);
  EXPECT_TRUE(Must(CheckpointSignatureValid(*c, operator_key.public_pem)));
  EXPECT_FALSE(Must(CheckpointSignatureValid(*c, other_key.public_pem)));
  LogCheckpoint altered = *c;
  altered.size -= 1;
  EXPECT_FALSE(Must(CheckpointSignatureValid(altered, operator_key.public_pem)));
  altered = *c;
  altered.time_us += 1;
  EXPECT_FALSE(Must(CheckpointSignatureValid(altered, operator_key.public_pem)));

  auto parsed = CheckpointFromJson(CheckpointToJson(*c));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->size, c->size);
  EXPECT_EQ(parsed->root_hex, c->root_hex);
  EXPECT_EQ(parsed->time_us, c->time_us);
  EXPECT_EQ(parsed->signature_hex, c->signature_hex);
  EXPECT_EQ(parsed->key_id, c->key_id);
  EXPECT_EQ(CheckpointSignatureValid(*c, keys.Sub("missing.pem")).status().reason(),
            "key_file_unreadable");
}

TEST_F(LogToolsTest, MalformedCheckpointJsonIsRefusedNamingTheField) {
  EXPECT_EQ(CheckpointFromJson("nope").status().reason(), "checkpoint_malformed");
  auto missing = CheckpointFromJson(R"({"size":3,"time_us":5})");
  EXPECT_EQ(missing.status().reason(), "checkpoint_malformed");
  EXPECT_NE(missing.status().message().find("root"), std::string_view::npos);
  EXPECT_EQ(
      CheckpointFromJson(R"({"size":-1,"root":")" + std::string(64, 'a') + R"(","time_us":5})")
          .status()
          .reason(),
      "checkpoint_malformed");
  auto as_strings =
      CheckpointFromJson(R"({"size":"3","root":")" + std::string(64, 'a') + R"(","time_us":"5"})");
  ASSERT_TRUE(as_strings.ok()) << "64-bit values may come as decimal strings";
  EXPECT_EQ(as_strings->size, 3u);
}

// Any JSON writer may escape any character: "\u006b" is "k" (Cap'n Proto 0.9's parser,
// which read checkpoints before, took the hex digits a-f of an escape as 0-5).
TEST_F(LogToolsTest, CheckpointJsonEscapesReadAsWritten) {
  const std::string root(64, 'c');
  auto escaped = CheckpointFromJson(R"({"size":3,"root":")" + root +
                                    R"(","time_us":5,"key_id":"\u006b\u0065y\u00e9\ud83d\ude00"})");
  ASSERT_TRUE(escaped.ok()) << escaped.status().ToString();
  EXPECT_EQ(escaped->key_id, "key\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_EQ(escaped->root_hex, root);
  EXPECT_EQ(
      CheckpointFromJson(R"({"size":3,"root":")" + root + R"(","time_us":5,"key_id":"\ud83d"})")
          .status()
          .reason(),
      "checkpoint_malformed")
      << "a lone surrogate is no character";
}

TEST_F(LogToolsTest, ToolsRefuseADirectoryWithoutALogAndCreateNothing) {
  const std::string missing = dir_.Sub("nothing-here");
  EXPECT_EQ(ReadCheckpoint(missing).status().reason(), "log_not_found");
  EXPECT_EQ(ProveInclusion(missing, 1).status().reason(), "log_not_found");
  EXPECT_EQ(VerifyLog(missing).status().reason(), "log_not_found");
  std::ostringstream out;
  EXPECT_EQ(ExportEvents(missing, out).status().reason(), "log_not_found");
  EXPECT_FALSE(std::filesystem::exists(missing));
}

// ---- Proofs ----

// Tree sizes with every shape of right edge: a power of two, one past it, odd, the whole.
// (Each proof opens the log, as the CLI does: the sizes are few.)
std::vector<std::uint64_t> SomeSizes(std::uint64_t size) {
  std::vector<std::uint64_t> sizes;
  for (std::uint64_t n : {1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17}) {
    if (n < size) sizes.push_back(n);
  }
  sizes.push_back(size);
  return sizes;
}

TEST_F(LogToolsTest, InclusionProofOfEveryEventAtManySizesVerifiesFreeStanding) {
  PlayStory();
  Close();
  ASSERT_GT(size_, 20u);
  for (std::uint64_t size : SomeSizes(size_)) {
    for (std::uint64_t seq = 1; seq <= size; ++seq) {
      auto proof = ProveInclusion(dir_.path(), seq, size);
      ASSERT_TRUE(proof.ok()) << proof.status().ToString();
      EXPECT_EQ(proof->leaf_index, seq - 1);
      auto check = CheckProofJson(ProofToJson(*proof));
      ASSERT_TRUE(check.ok()) << check.status().ToString();
      EXPECT_TRUE(check->valid) << "seq " << seq << " size " << size << ": " << check->message;
    }
  }
  auto current = Must(ProveInclusion(dir_.path(), 3));
  EXPECT_EQ(current.tree_size, size_) << "the default size is the current one";
  EXPECT_EQ(current.root_hex, Must(ReadCheckpoint(dir_.path())).root_hex);
}

// Every hex digit of `field` changed in turn must make the proof fail.
void ExpectEveryDigitMatters(const std::string& json, const std::string& field_value,
                             const char* what) {
  std::size_t at = json.find(field_value);
  ASSERT_NE(at, std::string::npos) << what;
  const std::size_t step = field_value.size() > 200 ? 7 : 1;  // long event bytes: sampled
  for (std::size_t i = 0; i < field_value.size(); i += step) {
    std::string changed = json;
    char& c = changed[at + i];
    c = c == '0' ? '1' : '0';
    auto check = CheckProofJson(changed);
    ASSERT_TRUE(check.ok()) << what << " digit " << i << ": " << check.status().ToString();
    EXPECT_FALSE(check->valid) << what << " digit " << i << " changed, yet the proof holds";
  }
}

TEST_F(LogToolsTest, InclusionProofFailsWhenAnyDigitOfLeafRootPathOrEventChanges) {
  PlayStory();
  Close();
  auto proof = Must(ProveInclusion(dir_.path(), 6, size_ - 1));
  ASSERT_GE(proof.audit_path_hex.size(), 3u);
  const std::string json = ProofToJson(proof);
  ExpectEveryDigitMatters(json, proof.leaf_hash_hex, "leaf hash");
  ExpectEveryDigitMatters(json, proof.root_hex, "root");
  for (const auto& hash : proof.audit_path_hex) ExpectEveryDigitMatters(json, hash, "audit path");
  ExpectEveryDigitMatters(json, proof.event_hex, "event bytes");

  InclusionProof moved = proof;
  moved.leaf_index += 1;
  moved.seq += 1;
  EXPECT_FALSE(Must(CheckProofJson(ProofToJson(moved))).valid) << "another index";
  // The hashes alone do not pin the tree size (the last sibling may cover 13 leaves or
  // 14): the checkpoint that states size and root together does.
  const LogCheckpoint kept{proof.tree_size, proof.root_hex, 0, "", ""};
  EXPECT_TRUE(Must(CheckProofJson(json, kept)).valid);
  moved = proof;
  moved.tree_size += 1;
  EXPECT_FALSE(Must(CheckProofJson(ProofToJson(moved), kept)).valid) << "another size";
  moved.tree_size = proof.leaf_index + 1;
  EXPECT_FALSE(Must(CheckProofJson(ProofToJson(moved))).valid) << "another shape";
  moved = proof;
  moved.audit_path_hex.pop_back();
  EXPECT_FALSE(Must(CheckProofJson(ProofToJson(moved))).valid) << "a hash short";
  moved = proof;
  moved.audit_path_hex.push_back(proof.root_hex);
  EXPECT_FALSE(Must(CheckProofJson(ProofToJson(moved))).valid) << "a hash too many";
  moved = proof;
  moved.event_hex = Must(ProveInclusion(dir_.path(), 7)).event_hex;
  EXPECT_EQ(Must(CheckProofJson(ProofToJson(moved))).reason, "leaf_mismatch");
  moved = proof;
  moved.event_hex.clear();
  EXPECT_TRUE(Must(CheckProofJson(ProofToJson(moved))).valid) << "a hash-only proof";
}

TEST_F(LogToolsTest, ConsistencyProofsBetweenManySizesVerifyAndFailOnAnyChangedDigit) {
  PlayStory();
  Close();
  for (std::uint64_t n : SomeSizes(size_)) {
    for (std::uint64_t m = 1; m <= n; ++m) {
      auto proof = ProveConsistency(dir_.path(), m, n);
      ASSERT_TRUE(proof.ok()) << proof.status().ToString();
      auto check = Must(CheckProofJson(ProofToJson(*proof)));
      EXPECT_TRUE(check.valid) << m << " → " << n << ": " << check.message;
    }
  }
  auto proof = Must(ProveConsistency(dir_.path(), 5, size_ - 2));
  ASSERT_GE(proof.proof_hex.size(), 2u);
  const std::string json = ProofToJson(proof);
  ExpectEveryDigitMatters(json, proof.old_root_hex, "old root");
  ExpectEveryDigitMatters(json, proof.new_root_hex, "new root");
  for (const auto& hash : proof.proof_hex) ExpectEveryDigitMatters(json, hash, "proof");
  const LogCheckpoint old_end{proof.old_size, proof.old_root_hex, 0, "", ""};
  const LogCheckpoint new_end{proof.new_size, proof.new_root_hex, 0, "", ""};
  ConsistencyProof moved = proof;
  moved.old_size += 1;
  EXPECT_FALSE(Must(CheckProofJson(ProofToJson(moved))).valid);
  moved = proof;
  moved.new_size += 1;
  EXPECT_TRUE(Must(CheckProofJson(ProofToJson(proof), old_end)).valid);
  EXPECT_TRUE(Must(CheckProofJson(ProofToJson(proof), new_end)).valid);
  EXPECT_FALSE(Must(CheckProofJson(ProofToJson(moved), new_end)).valid)
      << "the size is pinned by the checkpoint";
  moved.new_size = proof.old_size + 1;
  EXPECT_FALSE(Must(CheckProofJson(ProofToJson(moved))).valid) << "another shape";
  EXPECT_EQ(Must(ProveConsistency(dir_.path(), 4)).new_size, size_);
}

TEST_F(LogToolsTest, ProofMustBeAboutTheKeptCheckpointsTree) {
  PlayStory();
  Must(engine_->RegisterUser(admin_, "carol", "carol@example.org"));
  Close();
  auto old_checkpoint = Must(ReadCheckpoint(dir_.path()));
  auto inclusion = ProofToJson(Must(ProveInclusion(dir_.path(), 2)));
  EXPECT_TRUE(Must(CheckProofJson(inclusion, old_checkpoint)).valid);
  LogCheckpoint earlier = old_checkpoint;
  earlier.size -= 1;
  earlier.root_hex = Must(ProveConsistency(dir_.path(), earlier.size)).old_root_hex;
  auto check = Must(CheckProofJson(inclusion, earlier));
  EXPECT_FALSE(check.valid);
  EXPECT_EQ(check.reason, "checkpoint_mismatch");
  auto consistency = ProofToJson(Must(ProveConsistency(dir_.path(), earlier.size)));
  EXPECT_TRUE(Must(CheckProofJson(consistency, earlier)).valid) << "the old end";
  EXPECT_TRUE(Must(CheckProofJson(consistency, old_checkpoint)).valid) << "the new end";
  LogCheckpoint forged = earlier;
  forged.root_hex = old_checkpoint.root_hex;
  EXPECT_EQ(Must(CheckProofJson(consistency, forged)).reason, "checkpoint_mismatch");
}

TEST_F(LogToolsTest, OutOfRangeRequestsAndMalformedProofsAreRefused) {
  PlayStory();
  Close();
  EXPECT_EQ(ProveInclusion(dir_.path(), 0).status().reason(), "proof_out_of_range");
  EXPECT_EQ(ProveInclusion(dir_.path(), size_ + 1).status().reason(), "proof_out_of_range");
  EXPECT_EQ(ProveInclusion(dir_.path(), 5, 4).status().reason(), "proof_out_of_range");
  EXPECT_EQ(ProveInclusion(dir_.path(), 1, size_ + 1).status().reason(), "proof_out_of_range");
  EXPECT_EQ(ProveConsistency(dir_.path(), 0, 3).status().reason(), "proof_out_of_range");
  EXPECT_EQ(ProveConsistency(dir_.path(), 5, 3).status().reason(), "proof_out_of_range");
  EXPECT_EQ(ProveConsistency(dir_.path(), 1, size_ + 1).status().reason(), "proof_out_of_range");

  const std::string good = ProofToJson(Must(ProveInclusion(dir_.path(), 3)));
  for (const std::string& bad : {
           std::string("not json"),
           std::string("[1,2]"),
           std::string(R"({"type":"exclusion"})"),
           std::string(R"({"type":"inclusion","tree_size":4})"),
           good.substr(0, good.size() / 2),
           std::string(R"({"type":"consistency","old_size":1,"new_size":2,"old_root":"zz",)"
                       R"("new_root":"zz","proof":[]})"),
       }) {
    EXPECT_EQ(CheckProofJson(bad).status().reason(), "proof_malformed") << bad;
  }
}

// ---- Verify ----

TEST_F(LogToolsTest, VerifyPassesOnAGoodLogComparingEverySnapshotWithTheReplay) {
  PlayStory();
  Close();
  std::set<std::string> stages;
  std::uint64_t last_replayed = 0;
  VerifyOptions options;
  options.progress = [&](std::string_view stage, std::uint64_t done, std::uint64_t total) {
    stages.insert(std::string(stage));
    EXPECT_EQ(total, size_);
    EXPECT_LE(done, total);
    if (stage == "replay") last_replayed = done;
  };
  options.trusted_checkpoints.push_back(Must(ReadCheckpoint(dir_.path())));
  VerifyReport report = Verify(options);
  EXPECT_TRUE(report.ok()) << report.problem << " at " << report.bad_seq << ": " << report.message;
  EXPECT_EQ(report.size, size_);
  EXPECT_EQ(report.snapshot_seqs, (std::vector<std::uint64_t>{mid_seq_, size_}));
  EXPECT_EQ(report.checkpoints_checked, 1u);
  EXPECT_EQ(stages, (std::set<std::string>{"integrity", "replay"}));
  EXPECT_EQ(last_replayed, size_);
}

TEST_F(LogToolsTest, VerifyNamesTheSeqOfAFlippedByteWhereverItIs) {
  PlayStory();
  Close();
  const std::uint64_t seq = 7;
  const std::size_t length = OpenLog()->Read(seq)->bytes().size();
  for (std::size_t offset : {std::size_t{0}, std::size_t{9}, length / 2, length - 1}) {
    ASSERT_TRUE(storage::tamper::FlipEventByte(dir_.path(), seq, offset).ok());
    VerifyReport report = Verify();
    EXPECT_FALSE(report.ok()) << "offset " << offset;
    EXPECT_EQ(report.bad_seq, seq) << "offset " << offset << ": " << report.message;
    EXPECT_TRUE(report.problem == "event_tampered" || report.problem == "event_undecodable")
        << report.problem;
    ASSERT_TRUE(storage::tamper::FlipEventByte(dir_.path(), seq, offset).ok());  // undo
    EXPECT_TRUE(Verify().ok()) << "offset " << offset << " restored";
  }
}

TEST_F(LogToolsTest, VerifyNamesTheSeqOfADeletedEvent) {
  PlayStory();
  Close();
  ASSERT_TRUE(storage::tamper::DeleteEvent(dir_.path(), 5).ok());
  VerifyReport report = Verify();
  EXPECT_EQ(report.problem, "event_missing") << report.message;
  EXPECT_EQ(report.bad_seq, 5u);
}

TEST_F(LogToolsTest, VerifyReportsALogWhoseLastEventIsGone) {
  PlayStory();
  Close();
  ASSERT_TRUE(storage::tamper::DeleteEvent(dir_.path(), size_).ok());
  VerifyReport report = Verify();
  EXPECT_EQ(report.problem, "log_damaged") << "the log refuses to open: " << report.message;
}

TEST_F(LogToolsTest, VerifyNamesTheFirstSeqOfASwappedPair) {
  PlayStory();
  Close();
  ASSERT_TRUE(storage::tamper::SwapEvents(dir_.path(), 4, 9).ok());
  VerifyReport report = Verify();
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(report.bad_seq, 4u) << report.problem << ": " << report.message;
}

TEST_F(LogToolsTest, VerifyCatchesATruncatedTailOnlyAgainstAKeptCheckpoint) {
  PlayStory();
  Close();
  LogCheckpoint kept = Must(ReadCheckpoint(dir_.path()));
  const std::uint64_t keep = size_ - 4;
  ASSERT_TRUE(storage::tamper::TruncateTail(dir_.path(), keep).ok());
  // Cut consistently, the log alone looks whole: only what an auditor kept shows the cut.
  VerifyReport alone = Verify();
  EXPECT_TRUE(alone.ok()) << alone.message;
  EXPECT_EQ(alone.size, keep);
  VerifyOptions options;
  options.trusted_checkpoints.push_back(kept);
  VerifyReport report = Verify(options);
  EXPECT_EQ(report.problem, "checkpoint_beyond_log") << report.message;
  EXPECT_EQ(report.bad_seq, keep + 1);
}

TEST_F(LogToolsTest, VerifyReportsAKeptCheckpointTheLogContradicts) {
  PlayStory();
  Close();
  LogCheckpoint kept = Must(ReadCheckpoint(dir_.path()));
  LogCheckpoint rewritten = kept;
  rewritten.root_hex[10] = rewritten.root_hex[10] == 'a' ? 'b' : 'a';
  VerifyOptions options;
  options.trusted_checkpoints = {kept, rewritten};
  VerifyReport report = Verify(options);
  EXPECT_EQ(report.problem, "checkpoint_root_mismatch") << report.message;
  EXPECT_EQ(report.checkpoints_checked, 1u) << "the first one held";

  LogCheckpoint retimed = kept;
  retimed.time_us -= 1;
  options.trusted_checkpoints = {retimed};
  EXPECT_EQ(Verify(options).problem, "checkpoint_time_mismatch");
}

TEST_F(LogToolsTest, VerifyChecksTheSignatureOfAKeptCheckpoint) {
  PlayStory();
  Close();
  TempDir keys;
  KeyFiles operator_key = MakeKeyFiles(keys, "operator");
  KeyFiles other_key = MakeKeyFiles(keys, "other");
  VerifyOptions options;
  options.trusted_checkpoints.push_back(
      Must(ReadCheckpoint(dir_.path(), operator_key.private_pem)));
  EXPECT_EQ(VerifyLog(dir_.path(), options).status().reason(), "public_key_required");
  options.public_key_file = operator_key.public_pem;
  EXPECT_TRUE(Verify(options).ok());
  options.public_key_file = other_key.public_pem;
  EXPECT_EQ(Verify(options).problem, "checkpoint_signature_invalid");
}

TEST_F(LogToolsTest, VerifyReportsASnapshotThatDoesNotMatchTheLog) {
  PlayStory();
  Close();
  {
    auto log = OpenLog(/*read_only=*/false);
    ASSERT_TRUE(log);
    auto loaded = internal::LoadState(*log, mid_seq_);
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    internal::State lying = std::move(loaded->state);
    internal::User* bob = &lying.users[lying.UserIdx("bob")];
    bob->two_factor_enabled = !bob->two_factor_enabled;
    ASSERT_TRUE(internal::StoreSnapshot(*log, internal::PrepareSnapshot(lying)).ok());
    // A snapshot of the empty state, before any event, is compared too and holds.
    ASSERT_TRUE(internal::StoreSnapshot(*log, internal::PrepareSnapshot(internal::State{})).ok());
  }
  VerifyReport report = Verify();
  EXPECT_EQ(report.snapshot_seqs.front(), 0u);
  EXPECT_EQ(report.problem, "snapshot_mismatch");
  EXPECT_EQ(report.bad_seq, mid_seq_);
  EXPECT_NE(report.message.find("user 'bob'"), std::string::npos) << report.message;
}

// Scoped answers fold only a token's last use, which is its latest only if uses were
// recorded in increasing order, as the engine records them.
TEST_F(LogToolsTest, VerifyReportsATokenUseEarlierThanOneRecordedBeforeIt) {
  PlayStory();
  Close();
  ASSERT_TRUE(Verify().ok());
  std::uint64_t before = 0;
  {
    auto log = OpenLog(/*read_only=*/false);
    ASSERT_TRUE(log);
    before = log->size();
    std::int64_t recorded = 0;
    Status scanned = log->Scan(1, log->size(), [&](const storage::DecodedEvent& e) {
      auto event = e.envelope().getEvent();
      if (event.isTokenUsed() &&
          std::string(event.getTokenUsed().getTokenPrefix().cStr()) == used_prefix_) {
        recorded = event.getTokenUsed().getLastUsedUs();
      }
      return true;
    });
    ASSERT_TRUE(scanned.ok()) << scanned.ToString();
    ASSERT_GT(recorded, 0);
    std::vector<storage::EventDraft> batch;
    for (std::int64_t used_us : {recorded, recorded - 1}) {  // the same time is no harm
      auto& draft = batch.emplace_back();
      auto envelope = draft.envelope();
      envelope.setTimeUs(log->last_time_us());
      envelope.initActor().setKind(schema::Actor::Kind::SYSTEM);
      auto use = envelope.getEvent().initTokenUsed();
      use.setTokenPrefix(used_prefix_);
      use.setOwnerUserId("alice");
      use.setLastUsedUs(used_us);
    }
    ASSERT_TRUE(log->Append(std::move(batch)).ok());
  }
  VerifyReport report = Verify();
  EXPECT_EQ(report.problem, "token_use_out_of_order") << report.message;
  EXPECT_EQ(report.bad_seq, before + 2);
  EXPECT_NE(report.message.find(used_prefix_), std::string::npos) << report.message;
}

TEST_F(LogToolsTest, VerifyReportsASnapshotStoredUnderAnotherSeq) {
  PlayStory();
  Close();
  {
    auto log = OpenLog(/*read_only=*/false);
    ASSERT_TRUE(log);
    auto early = internal::LoadState(*log, 3);
    ASSERT_TRUE(early.ok());
    internal::PreparedSnapshot misplaced = internal::PrepareSnapshot(early->state);
    misplaced.seq = 6;  // the state after 3 events, claimed to be the state after 6
    ASSERT_TRUE(internal::StoreSnapshot(*log, misplaced).ok());
  }
  VerifyReport report = Verify();
  EXPECT_EQ(report.problem, "snapshot_mismatch") << report.message;
  EXPECT_EQ(report.bad_seq, 6u);
}

TEST_F(LogToolsTest, VerifyDoesNotCountASnapshotOfAnotherFormatAsCompared) {
  PlayStory();
  Close();
  {
    // A header of a format this build does not read, stored at seq 6.
    capnp::MallocMessageBuilder builder;
    auto root = builder.initRoot<schema::Snapshot>();
    root.setFormatVersion(99);
    root.setRevision(6);
    kj::VectorOutputStream out;
    capnp::writePackedMessage(out, builder);
    auto bytes = out.getArray();
    auto log = OpenLog(/*read_only=*/false);
    ASSERT_TRUE(log);
    ASSERT_TRUE(
        log->PutSnapshot(6, {reinterpret_cast<const char*>(bytes.begin()), bytes.size()}).ok());
  }
  VerifyReport report = Verify();
  EXPECT_TRUE(report.ok()) << report.message;
  EXPECT_EQ(report.snapshots_unread, std::vector<std::uint64_t>{6});
  EXPECT_EQ(std::count(report.snapshot_seqs.begin(), report.snapshot_seqs.end(), 6u), 0);
  EXPECT_NE(VerifyReportToJson(report).find("\"snapshots_unread\":[6]"), std::string::npos);
}

// ---- Export ----

TEST_F(LogToolsTest, JsonLinesDecodeBackIntoExactlyTheStoredEvents) {
  PlayStory();
  Close();
  const std::vector<std::string> lines = Lines(Export(ExportFormat::kJsonLines));
  ASSERT_EQ(lines.size(), size_);
  auto log = OpenLog();
  capnp::JsonCodec codec;
  codec.handleByAnnotation<schema::Envelope>();
  for (std::uint64_t seq = 1; seq <= size_; ++seq) {
    const std::string& line = lines[seq - 1];
    capnp::MallocMessageBuilder message;
    auto decoded = message.initRoot<schema::Envelope>();
    codec.decode(kj::ArrayPtr<const char>(line.data(), line.size()), decoded);
    auto stored = log->Read(seq);
    ASSERT_TRUE(stored.ok());
    auto bytes = storage::CanonicalBytes(decoded.asReader());
    auto reencoded = storage::AsBytes(bytes);
    EXPECT_TRUE(std::equal(reencoded.begin(), reencoded.end(), stored->bytes().begin(),
                           stored->bytes().end()))
        << "seq " << seq << " does not decode to the stored event: " << line;
    EXPECT_EQ(decoded.getSeq(), seq);
    EXPECT_NE(line.find("\"seq\":\"" + std::to_string(seq) + "\""), std::string::npos)
        << "64-bit integers are JSON strings: " << line;
    EXPECT_NE(line.find("\"" + replay::EventTypeName(stored->envelope()) + "\":{"),
              std::string::npos)
        << line;
  }
  EXPECT_NE(lines[0].find(R"("event":{"organization_created":{"org_id":"acme")"), std::string::npos)
      << lines[0];
  const std::string all = Export(ExportFormat::kJsonLines);
  EXPECT_NE(all.find(R"("ip_allowlist":["10.0.0.0/8","2001:db8::/32"],"scopes":["read","write"])"),
            std::string::npos)
      << "lists as arrays, '/' unescaped";
  EXPECT_NE(all.find(R"("actor":{"kind":"admin","id":"admin1","ip":"198.51.100.1")"),
            std::string::npos);
}

TEST_F(LogToolsTest, CsvHasAQuotedRowPerEventWithItsSubjectsAndJson) {
  PlayStory();
  Close();
  const std::string text = Export(ExportFormat::kCsv);
  auto rows = ParseCsv(text);
  ASSERT_EQ(rows.size(), size_ + 1);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"seq", "time", "type", "actor_kind", "actor_id",
                                               "actor_ip", "cause", "org_id", "user_id",
                                               "token_prefix", "idp_id", "domain", "json"}));
  const std::vector<std::string> lines = Lines(Export(ExportFormat::kJsonLines));
  auto log = OpenLog();
  bool saw_description = false;
  for (std::uint64_t seq = 1; seq <= size_; ++seq) {
    const auto& row = rows[seq];
    ASSERT_EQ(row.size(), 13u) << "seq " << seq;
    auto event = log->Read(seq);
    ASSERT_TRUE(event.ok());
    auto e = event->envelope();
    EXPECT_EQ(row[0], std::to_string(seq));
    EXPECT_EQ(row[2], replay::EventTypeName(e));
    EXPECT_EQ(row[3], replay::ActorKindName(e.getActor().getKind()));
    EXPECT_EQ(row[4], e.getActor().getId().cStr());
    EXPECT_EQ(row[6], std::to_string(e.getCause()));
    EXPECT_EQ(row[12], lines[seq - 1]) << "the json column is the JSON line";
    saw_description |= row[12].find(R"(CI, \"deploy\"\nkey)") != std::string::npos;
  }
  EXPECT_TRUE(saw_description);
  EXPECT_EQ(rows[1][1], "2026-01-01T00:00:00.000000Z");
  EXPECT_EQ(rows[1][7], "acme");
  EXPECT_EQ(rows[2][11], "acme.com") << "domain_verified names its domain";
  EXPECT_EQ(rows[3][7], "acme");
  EXPECT_EQ(rows[3][10], "acme-sso");
  EXPECT_NE(text.find("\"partner\"\",\"\"name\"\":\"\"Partner, \\\"\"Ltd\\\"\"\"\""),
            std::string::npos)
      << "quotes inside the json column are doubled";
}

TEST_F(LogToolsTest, ExportKeepsToTheSeqRange) {
  PlayStory();
  Close();
  auto lines = Lines(Export(ExportFormat::kJsonLines, 3, 7));
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines.front().rfind(R"({"seq":"3",)", 0), 0u) << lines.front();
  EXPECT_EQ(lines.back().rfind(R"({"seq":"7",)", 0), 0u) << lines.back();
  EXPECT_EQ(Lines(Export(ExportFormat::kJsonLines, size_ - 1, size_ + 100)).size(), 2u);
  EXPECT_EQ(Lines(Export(ExportFormat::kJsonLines, size_ + 1)).size(), 0u);
  EXPECT_EQ(ParseCsv(Export(ExportFormat::kCsv, size_ + 1)).size(), 1u) << "the header only";
  std::ostringstream out;
  ExportOptions backwards;
  backwards.from_seq = 7;
  backwards.to_seq = 3;
  EXPECT_EQ(ExportEvents(dir_.path(), out, backwards).status().reason(), "seq_range_invalid");
}

TEST_F(LogToolsTest, ExportReportsAStreamThatFails) {
  PlayStory();
  Close();
  std::ostringstream out;
  out.setstate(std::ios::badbit);
  EXPECT_EQ(ExportEvents(dir_.path(), out).status().reason(), "export_write_failed");
}

TEST_F(LogToolsTest, NoSecretAppearsInTheExportsOrInAnyFileOfTheDataDirectory) {
  PlayStory();
  Close();
  ASSERT_EQ(secrets_.size(), 4u);
  const std::string jsonl = Export(ExportFormat::kJsonLines);
  const std::string csv = Export(ExportFormat::kCsv);
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir_.path())) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    files.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  ASSERT_GT(files.size(), 3u);
  for (const auto& secret : secrets_) {
    ASSERT_GT(secret.size(), 20u);
    // The public prefix is in the log by design; what follows it must be nowhere.
    const std::string hidden = secret.substr(15);
    EXPECT_EQ(jsonl.find(hidden), std::string::npos);
    EXPECT_EQ(csv.find(hidden), std::string::npos);
    EXPECT_NE(jsonl.find(secret.substr(0, 15)), std::string::npos) << "the prefix is exported";
    for (const auto& bytes : files) EXPECT_EQ(bytes.find(hidden), std::string::npos);
  }
}

TEST(LogToolsJson, ReportsEscapeWhatTheyQuote) {
  ProofCheck check{false, "inclusion", "proof_invalid", "a \"b\"\n\\\t"};
  EXPECT_EQ(ProofCheckToJson(check),
            R"({"valid":false,"type":"inclusion","reason":"proof_invalid",)"
            R"("message":"a \"b\"\n\\\t"})");
  VerifyReport report;
  report.size = 2;
  report.root_hex = "ab";
  report.snapshot_seqs = {1, 2};
  EXPECT_EQ(VerifyReportToJson(report),
            R"({"ok":true,"size":2,"root":"ab","checkpoints_checked":0,"snapshots":[1,2]})");
  report.problem = "event_tampered";
  report.bad_seq = 2;
  report.message = "event 2: \"x\"";
  EXPECT_EQ(VerifyReportToJson(report),
            R"({"ok":false,"size":2,"root":"ab","checkpoints_checked":0,"snapshots":[1,2],)"
            R"("problem":"event_tampered","bad_seq":2,"message":"event 2: \"x\""})");
}

TEST(EventJson, TypeAndActorKindNamesAreStable) {
  capnp::MallocMessageBuilder message;
  auto e = message.initRoot<schema::Envelope>();
  e.getEvent().initTokenRevoked().setTokenPrefix("alp_x");
  EXPECT_EQ(replay::EventTypeName(e), "token_revoked");
  e.getEvent().initIpAllowlistChanged();
  EXPECT_EQ(replay::EventTypeName(e), "ip_allowlist_changed");
  EXPECT_EQ(replay::ActorKindName(schema::Actor::Kind::API_KEY), "api_key");
  EXPECT_EQ(replay::ActorKindName(schema::Actor::Kind::SYSTEM), "system");
  e.initActor().setKind(schema::Actor::Kind::ADMIN);
  EXPECT_NE(replay::EventJson(e).find(R"("api_client_ip_allowlist_enabled":false)"),
            std::string::npos)
      << replay::EventJson(e);
}

}  // namespace
}  // namespace authledger::testing
