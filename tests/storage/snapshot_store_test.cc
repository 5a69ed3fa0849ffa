// Snapshots in the event log: a header plus chunks, written chunks first and header
// last, so that only complete snapshots are ever found, whichever way the chunks went
// to disk (memtable or ingested table file).
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "storage/event_log.h"
#include "tests/storage/test_util.h"

namespace authledger::storage {
namespace {

using testing::MakeTokenDraft;
using testing::One;
using testing::TempDir;

std::unique_ptr<EventLog> OpenLog(const std::string& dir, EventLogOptions options = {}) {
  auto log = EventLog::Open(dir, options);
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  return log.ok() ? std::move(log).value() : nullptr;
}

void AppendEvents(EventLog& log, int n) {
  for (int i = 1; i <= n; ++i) {
    auto r = log.Append(One(MakeTokenDraft(1000 * i, "tok" + std::to_string(i), "user1")));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
}

// The bytes of chunk `chunk` at `seq`, or the status of reading them.
Result<std::string> Chunk(const EventLog& log, std::uint64_t seq, std::uint32_t chunk) {
  std::string bytes;
  Status s = log.ReadSnapshotChunk(seq, chunk, [&](std::string_view b) {
    bytes = b;
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return bytes;
}

std::vector<std::string_view> Views(const std::vector<std::string>& chunks) {
  return {chunks.begin(), chunks.end()};
}

// Chunks of assorted sizes, one empty and one over a megabyte, of random bytes.
std::vector<std::string> SomeChunks(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::string> chunks;
  for (std::size_t size :
       {std::size_t{112}, std::size_t{0}, std::size_t{3} << 19, std::size_t{7}}) {
    std::string chunk(size, '\0');
    for (auto& c : chunk) c = static_cast<char>(rng());
    chunks.push_back(std::move(chunk));
  }
  return chunks;
}

TEST(EventLogSnapshotChunks, AreInvisibleUntilTheHeaderIsStored) {
  TempDir tmp;
  auto log = OpenLog(tmp.Sub("log"));
  AppendEvents(*log, 30);
  ASSERT_TRUE(log->PutSnapshot(10, "header@10").ok());
  ASSERT_TRUE(log->PutSnapshotChunks(10, Views({"a", "b"})).ok());
  // A snapshot at 20 cut short: its chunks were written, its header never was.
  ASSERT_TRUE(log->PutSnapshotChunks(20, Views({"c", "d", "e"})).ok());
  auto nearest = log->NearestSnapshot(30);
  ASSERT_TRUE(nearest.ok()) << nearest.status().ToString();
  ASSERT_TRUE(nearest->has_value());
  EXPECT_EQ((*nearest)->seq, 10u);
  EXPECT_EQ((*nearest)->bytes, "header@10");
  EXPECT_EQ((*log->NearestSnapshot(20))->seq, 10u);
  EXPECT_EQ(*log->SnapshotSeqs(), std::vector<std::uint64_t>{10});

  ASSERT_TRUE(log->PutSnapshot(20, "header@20").ok());
  EXPECT_EQ((*log->NearestSnapshot(30))->seq, 20u);
  EXPECT_EQ((*log->NearestSnapshot(19))->seq, 10u);
  EXPECT_EQ(*log->SnapshotSeqs(), (std::vector<std::uint64_t>{10, 20}));
  EXPECT_EQ(*Chunk(*log, 10, 1), "b");
  EXPECT_EQ(*Chunk(*log, 20, 2), "e");
}

TEST(EventLogSnapshotChunks, ReadBackExactlyAfterReopeningWrittenEitherWay) {
  // Through the memtable (below the threshold) and as an ingested table file (above).
  for (std::size_t file_bytes : {std::size_t{32} << 20, std::size_t{0}}) {
    SCOPED_TRACE("snapshot_file_bytes = " + std::to_string(file_bytes));
    TempDir tmp;
    EventLogOptions options;
    options.snapshot_file_bytes = file_bytes;
    const auto chunks = SomeChunks(file_bytes);
    {
      auto log = OpenLog(tmp.Sub("log"), options);
      AppendEvents(*log, 12);
      ASSERT_TRUE(log->PutSnapshotChunks(12, Views(chunks)).ok());
      ASSERT_TRUE(log->PutSnapshot(12, "header@12").ok());
    }
    for (const auto& entry : std::filesystem::directory_iterator(tmp.Sub("log"))) {
      EXPECT_NE(entry.path().extension(), ".tmp") << "left behind: " << entry.path();
    }
    auto log = OpenLog(tmp.Sub("log"), options);
    EXPECT_EQ((*log->NearestSnapshot(12))->bytes, "header@12");
    for (std::uint32_t c = 0; c < chunks.size(); ++c) {
      auto bytes = Chunk(*log, 12, c);
      ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
      EXPECT_TRUE(*bytes == chunks[c]) << "chunk " << c;
    }
    auto missing = Chunk(*log, 12, static_cast<std::uint32_t>(chunks.size()));
    EXPECT_EQ(missing.status().reason(), "snapshot_chunk_missing");
    EXPECT_EQ(Chunk(*log, 11, 0).status().reason(), "snapshot_chunk_missing");
  }
}

TEST(EventLogSnapshotChunks, RewritingASnapshotReplacesItsChunks) {
  for (std::size_t file_bytes : {std::size_t{32} << 20, std::size_t{0}}) {
    SCOPED_TRACE("snapshot_file_bytes = " + std::to_string(file_bytes));
    TempDir tmp;
    EventLogOptions options;
    options.snapshot_file_bytes = file_bytes;
    auto log = OpenLog(tmp.Sub("log"), options);
    AppendEvents(*log, 5);
    const auto first = SomeChunks(1);
    const auto second = SomeChunks(2);
    ASSERT_TRUE(log->PutSnapshotChunks(5, Views(first)).ok());
    ASSERT_TRUE(log->PutSnapshot(5, "first").ok());
    ASSERT_TRUE(log->PutSnapshotChunks(5, Views(second)).ok());
    ASSERT_TRUE(log->PutSnapshot(5, "second").ok());
    EXPECT_EQ((*log->NearestSnapshot(5))->bytes, "second");
    EXPECT_TRUE(*Chunk(*log, 5, 2) == second[2]);
  }
}

TEST(EventLogSnapshotChunks, AreRefusedAheadOfTheLogAndOnAReadOnlyLog) {
  TempDir tmp;
  {
    auto log = OpenLog(tmp.Sub("log"));
    AppendEvents(*log, 3);
    EXPECT_EQ(log->PutSnapshotChunks(4, Views({"x"})).reason(), "snapshot_ahead_of_log");
  }
  EventLogOptions read_only;
  read_only.read_only = true;
  auto log = OpenLog(tmp.Sub("log"), read_only);
  EXPECT_FALSE(log->PutSnapshotChunks(3, Views({"x"})).ok());
  EXPECT_FALSE(log->PutSnapshot(3, "header").ok());
}

}  // namespace
}  // namespace authledger::storage
