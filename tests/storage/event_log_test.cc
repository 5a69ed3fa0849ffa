// The event log's contract: what it opens and refuses, what an append guarantees, and
// how events are found again (by seq, by time, by subject), across reopening.
#include "storage/event_log.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>

#include "storage/merkle.h"
#include "storage/tamper.h"
#include "tests/storage/test_util.h"

namespace authledger::storage {
namespace {

using testing::MakeTokenDraft;
using testing::One;
using testing::TempDir;

std::unique_ptr<EventLog> OpenOrDie(const std::string& dir, EventLogOptions options = {}) {
  auto log = EventLog::Open(dir, options);
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  return log.ok() ? std::move(log).value() : nullptr;
}

// Appends `n` single-event batches; event i (1-based) is token "tok<i>" of "user<i % 3>"
// at time 1000 * i.
void AppendTokens(EventLog& log, int n) {
  std::uint64_t base = log.size();
  for (int i = 1; i <= n; ++i) {
    std::uint64_t seq = base + static_cast<std::uint64_t>(i);
    auto r = log.Append(
        One(MakeTokenDraft(static_cast<std::int64_t>(1000 * seq), "tok" + std::to_string(seq),
                           "user" + std::to_string(seq % 3))));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->first, seq);
  }
}

std::string PrefixOf(const DecodedEvent& e) {
  return e.envelope().getEvent().getTokenCreated().getTokenPrefix().cStr();
}

TEST(EventLogOpen, CreatesANewLogWithPrivatePermissions) {
  TempDir tmp;
  auto log = OpenOrDie(tmp.Sub("log"));
  ASSERT_TRUE(log);
  EXPECT_EQ(log->size(), 0u);
  EXPECT_EQ(log->next_seq(), 1u);
  struct stat st {};
  ASSERT_EQ(::stat(tmp.Sub("log").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  auto checkpoint = log->CurrentCheckpoint();
  ASSERT_TRUE(checkpoint.ok());
  EXPECT_EQ(checkpoint->root, EmptyRoot());
}

TEST(EventLogOpen, RefusesADirectoryThatIsNotALog) {
  TempDir tmp;
  std::ofstream(tmp.Sub("notes.txt")) << "hello";
  auto log = EventLog::Open(tmp.path(), {});
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().reason(), "not_an_event_log");
}

TEST(EventLogOpen, RefusesAMissingLogWhenNotAskedToCreate) {
  TempDir tmp;
  EventLogOptions options;
  options.create_if_missing = false;
  auto log = EventLog::Open(tmp.Sub("absent"), options);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().reason(), "log_not_found");
}

TEST(EventLogOpen, RefusesANewerFormat) {
  TempDir tmp;
  OpenOrDie(tmp.path()).reset();
  ASSERT_TRUE(tamper::SetFormatVersion(tmp.path(), schema::FORMAT_VERSION + 1).ok());
  auto log = EventLog::Open(tmp.path(), {});
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().reason(), "format_too_new");
}

TEST(EventLogOpen, RefusesALogMissingItsLastEvent) {
  TempDir tmp;
  {
    auto log = OpenOrDie(tmp.path());
    AppendTokens(*log, 5);
  }
  ASSERT_TRUE(tamper::DeleteEvent(tmp.path(), 5).ok());
  auto log = EventLog::Open(tmp.path(), {});
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().reason(), "log_damaged");
  EXPECT_NE(log.status().message().find("missing"), std::string_view::npos);
}

TEST(EventLogAppend, AssignsDenseSeqsFromOneAndReadsThemBack) {
  TempDir tmp;
  auto log = OpenOrDie(tmp.path());
  std::vector<EventDraft> batch;
  for (int i = 0; i < 3; ++i) batch.push_back(MakeTokenDraft(10 + i, "b" + std::to_string(i), "u"));
  auto r = log->Append(std::move(batch));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->first, 1u);
  EXPECT_EQ(r->last, 3u);
  auto r2 = log->Append(One(MakeTokenDraft(20, "c", "u")));
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->first, 4u);
  EXPECT_EQ(log->size(), 4u);
  auto e = log->Read(2);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->seq(), 2u);
  EXPECT_EQ(PrefixOf(*e), "b1");
  EXPECT_EQ(log->Read(5).status().reason(), "event_not_found");
  EXPECT_EQ(log->Read(0).status().reason(), "event_not_found");
}

TEST(EventLogAppend, RefusesTimeGoingBackwardsAndAppendsNothing) {
  TempDir tmp;
  auto log = OpenOrDie(tmp.path());
  ASSERT_TRUE(log->Append(One(MakeTokenDraft(100, "a", "u"))).ok());
  auto r = log->Append(One(MakeTokenDraft(99, "b", "u")));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), "time_decreased");
  std::vector<EventDraft> batch;
  batch.push_back(MakeTokenDraft(200, "c", "u"));
  batch.push_back(MakeTokenDraft(150, "d", "u"));
  EXPECT_EQ(log->Append(std::move(batch)).status().reason(), "time_decreased");
  EXPECT_EQ(log->size(), 1u);
  EXPECT_EQ(log->next_seq(), 2u);
  EXPECT_TRUE(log->Append(One(MakeTokenDraft(100, "e", "u"))).ok()) << "equal times are fine";
}

TEST(EventLogAppend, RefusesAnEmptyBatchAndIdsWithNul) {
  TempDir tmp;
  auto log = OpenOrDie(tmp.path());
  EXPECT_EQ(log->Append({}).status().reason(), "empty_batch");
  std::string bad("us\0er", 5);
  EventDraft draft = MakeTokenDraft(1, "t", "user");
  draft.envelope().getEvent().getTokenCreated().setOwnerUserId(
      capnp::Text::Reader(bad.data(), bad.size()));
  EXPECT_EQ(log->Append(One(std::move(draft))).status().reason(), "invalid_id");
  EXPECT_EQ(log->size(), 0u);
}

TEST(EventLogAppend, ReopeningKeepsEveryEventTheRootAndTheTime) {
  TempDir tmp;
  Hash root{};
  {
    auto log = OpenOrDie(tmp.path());
    AppendTokens(*log, 50);
    root = log->CurrentCheckpoint()->root;
  }
  auto log = OpenOrDie(tmp.path());
  EXPECT_EQ(log->size(), 50u);
  EXPECT_EQ(log->next_seq(), 51u);
  EXPECT_EQ(log->last_time_us(), 50000);
  EXPECT_EQ(log->CurrentCheckpoint()->root, root);
  int n = 0;
  ASSERT_TRUE(log->Scan(1, 50,
                        [&](const DecodedEvent& e) {
                          ++n;
                          EXPECT_EQ(PrefixOf(e), "tok" + std::to_string(e.seq()));
                          return true;
                        })
                  .ok());
  EXPECT_EQ(n, 50);
  EXPECT_EQ(log->Append(One(MakeTokenDraft(49999, "late", "u"))).status().reason(),
            "time_decreased");
  AppendTokens(*log, 1);
  EXPECT_EQ(log->size(), 51u);
}

TEST(EventLogRead, ScanCoversARangeAndStopsWhenAsked) {
  TempDir tmp;
  auto log = OpenOrDie(tmp.path());
  AppendTokens(*log, 20);
  std::vector<std::uint64_t> seqs;
  ASSERT_TRUE(log->Scan(5, 9,
                        [&](const DecodedEvent& e) {
                          seqs.push_back(e.seq());
                          return true;
                        })
                  .ok());
  EXPECT_EQ(seqs, (std::vector<std::uint64_t>{5, 6, 7, 8, 9}));
  seqs.clear();
  ASSERT_TRUE(log->Scan(1, 100,
                        [&](const DecodedEvent& e) {
                          seqs.push_back(e.seq());
                          return seqs.size() < 3;
                        })
                  .ok());
  EXPECT_EQ(seqs, (std::vector<std::uint64_t>{1, 2, 3}));
}

TEST(EventLogRead, FindsTheFirstEventAtOrAfterATime) {
  TempDir tmp;
  auto log = OpenOrDie(tmp.path());
  AppendTokens(*log, 10);  // event i at 1000 * i
  EXPECT_EQ(*log->FirstSeqAtOrAfter(0), 1u);
  EXPECT_EQ(*log->FirstSeqAtOrAfter(1000), 1u);
  EXPECT_EQ(*log->FirstSeqAtOrAfter(1001), 2u);
  EXPECT_EQ(*log->FirstSeqAtOrAfter(7000), 7u);
  EXPECT_EQ(*log->FirstSeqAtOrAfter(10000), 10u);
  EXPECT_EQ(*log->FirstSeqAtOrAfter(10001), 11u);
}

TEST(EventLogRead, FindsTheFirstOfSeveralEventsWithTheSameTime) {
  TempDir tmp;
  auto log = OpenOrDie(tmp.path());
  for (int i = 0; i < 9; ++i) {
    ASSERT_TRUE(log->Append(One(MakeTokenDraft(100 * (i / 3), "t" + std::to_string(i), "u"))).ok());
  }
  EXPECT_EQ(*log->FirstSeqAtOrAfter(100), 4u);
  EXPECT_EQ(*log->FirstSeqAtOrAfter(200), 7u);
}

TEST(EventLogRead, ScansTheHistoryOfOneSubjectInOrder) {
  TempDir tmp;
  auto log = OpenOrDie(tmp.path());
  AppendTokens(*log, 30);  // owner user<seq % 3>
  std::vector<std::uint64_t> seqs;
  auto collect = [&](std::uint64_t seq) {
    seqs.push_back(seq);
    return true;
  };
  ASSERT_TRUE(log->ScanSubject({SubjectKind::kUser, "user1"}, 1, 30, collect).ok());
  std::vector<std::uint64_t> expected;
  for (std::uint64_t s = 1; s <= 30; ++s) {
    if (s % 3 == 1) expected.push_back(s);
  }
  EXPECT_EQ(seqs, expected);
  seqs.clear();
  ASSERT_TRUE(log->ScanSubject({SubjectKind::kUser, "user1"}, 10, 19, collect).ok());
  EXPECT_EQ(seqs, (std::vector<std::uint64_t>{10, 13, 16, 19}));
  seqs.clear();
  ASSERT_TRUE(log->ScanSubject({SubjectKind::kToken, "tok7"}, 1, 30, collect).ok());
  EXPECT_EQ(seqs, (std::vector<std::uint64_t>{7}));
  seqs.clear();
  // "user" is a prefix of every owner id but names no subject of its own.
  ASSERT_TRUE(log->ScanSubject({SubjectKind::kUser, "user"}, 1, 30, collect).ok());
  EXPECT_TRUE(seqs.empty());
}

TEST(EventLogSnapshots, ReturnsTheNearestSnapshotAtOrBeforeASeq) {
  TempDir tmp;
  auto log = OpenOrDie(tmp.path());
  AppendTokens(*log, 30);
  EXPECT_FALSE(log->NearestSnapshot(30)->has_value());
  ASSERT_TRUE(log->PutSnapshot(10, "state@10").ok());
  ASSERT_TRUE(log->PutSnapshot(20, "state@20").ok());
  EXPECT_FALSE(log->NearestSnapshot(9)->has_value());
  EXPECT_EQ((*log->NearestSnapshot(10))->bytes, "state@10");
  EXPECT_EQ((*log->NearestSnapshot(19))->seq, 10u);
  EXPECT_EQ((*log->NearestSnapshot(25))->bytes, "state@20");
  EXPECT_EQ(log->PutSnapshot(31, "ahead").reason(), "snapshot_ahead_of_log");
}

TEST(EventLogMerkle, ProofsFromTheLogVerifyWithTheFreeStandingVerifier) {
  TempDir tmp;
  auto log = OpenOrDie(tmp.path());
  AppendTokens(*log, 37);
  for (std::uint64_t size : {1u, 2u, 7u, 16u, 37u}) {
    auto root = log->RootAt(size);
    ASSERT_TRUE(root.ok());
    for (std::uint64_t seq = 1; seq <= size; seq += 3) {
      auto proof = log->InclusionProof(seq, size);
      ASSERT_TRUE(proof.ok()) << proof.status().ToString();
      auto event = log->Read(seq);
      EXPECT_TRUE(VerifyInclusion(LeafHash(event->bytes()), seq - 1, size, *proof, *root));
      if (size > 1) {
        EXPECT_FALSE(VerifyInclusion(LeafHash(event->bytes()), seq % size, size, *proof, *root));
      }
    }
    auto consistency = log->ConsistencyProof(size, 37);
    ASSERT_TRUE(consistency.ok());
    EXPECT_TRUE(VerifyConsistency(size, 37, *root, *log->RootAt(37), *consistency));
  }
  EXPECT_EQ(log->InclusionProof(38, 38).status().reason(), "proof_out_of_range");
  EXPECT_EQ(log->InclusionProof(5, 4).status().reason(), "proof_out_of_range");
}

TEST(EventLogReadOnly, ReadsBesideALiveWriterAndRefusesAppends) {
  TempDir tmp;
  auto writer = OpenOrDie(tmp.path());
  AppendTokens(*writer, 5);
  EventLogOptions options;
  options.read_only = true;
  auto reader = OpenOrDie(tmp.path(), options);
  ASSERT_TRUE(reader);
  EXPECT_EQ(reader->size(), 5u);
  EXPECT_EQ(PrefixOf(*reader->Read(3)), "tok3");
  EXPECT_EQ(reader->Append(One(MakeTokenDraft(999999, "x", "u"))).status().reason(),
            "log_read_only");
  EXPECT_EQ(writer->size(), 5u);
}

TEST(EventLogCheckpoint, IsSignedWithTheConfiguredKeyAndVerifiesWithItsPublicKey) {
  TempDir tmp;
  // An Ed25519 key as `openssl genpkey -algorithm ed25519` writes it.
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  ASSERT_NE(key, nullptr);
  std::string key_path = tmp.Sub("checkpoint.pem");
  FILE* f = std::fopen(key_path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr), 1);
  std::fclose(f);
  std::array<std::uint8_t, 32> public_key{};
  std::size_t len = public_key.size();
  ASSERT_EQ(EVP_PKEY_get_raw_public_key(key, public_key.data(), &len), 1);
  EVP_PKEY_free(key);

  EventLogOptions options;
  options.checkpoint_key_file = key_path;
  auto log = OpenOrDie(tmp.Sub("log"), options);
  ASSERT_TRUE(log);
  AppendTokens(*log, 9);
  auto checkpoint = log->CurrentCheckpoint();
  ASSERT_TRUE(checkpoint.ok());
  EXPECT_EQ(checkpoint->size, 9u);
  EXPECT_EQ(checkpoint->root, *log->RootAt(9));
  EXPECT_EQ(checkpoint->time_us, 9000);
  ASSERT_EQ(checkpoint->signature.size(), 64u);
  EXPECT_TRUE(VerifyCheckpointSignature(*checkpoint, public_key));
  Checkpoint altered = *checkpoint;
  altered.size = 8;
  EXPECT_FALSE(VerifyCheckpointSignature(altered, public_key));
}

TEST(EventLogCheckpoint, AnUnusableKeyFileIsRefusedAtOpen) {
  TempDir tmp;
  std::ofstream(tmp.Sub("garbage.pem")) << "not a key";
  EventLogOptions options;
  options.checkpoint_key_file = tmp.Sub("garbage.pem");
  auto log = EventLog::Open(tmp.Sub("log"), options);
  EXPECT_FALSE(log.ok());
  EXPECT_FALSE(std::filesystem::exists(tmp.Sub("log"))) << "nothing is created";
}

}  // namespace
}  // namespace authledger::storage
