// The pieces of a check's token lookup: the prefix index (found by exactly the stored
// prefix, whatever the bytes after it), a new secret's digest and prefix, the
// constant-time digest comparison, and the hash of the state's string-keyed indexes.
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine/state.h"
#include "engine/token_secret.h"
#include "engine/token_table.h"
#include "storage/hash.h"

namespace authledger::internal {
namespace {

TokenRecord WithPrefix(std::string_view prefix) {
  TokenRecord r;
  r.prefix = Prefix(prefix);
  return r;
}

TEST(TokenTable, FindsEachPrefixOfEveryLengthAndNothingElse) {
  TokenTable table;
  std::vector<std::string> prefixes;
  for (std::size_t len = 0; len <= Prefix::kMax; ++len) {
    prefixes.push_back(std::string(len, 'a'));
    if (len > 0) prefixes.push_back(std::string(len - 1, 'a') + 'b');
  }
  for (const auto& p : prefixes) table.Add(WithPrefix(p));
  for (std::size_t i = 0; i < prefixes.size(); ++i) {
    EXPECT_EQ(table.Find(prefixes[i]), i) << "'" << prefixes[i] << "'";
  }
  EXPECT_EQ(table.Find(std::string(16, 'a')), kNoIdx) << "longer than any prefix";
  EXPECT_EQ(table.Find("c"), kNoIdx);
  EXPECT_EQ(table.Find("abb"), kNoIdx);
}

TEST(TokenTable, APrefixHoldingANulIsNeverFound) {
  TokenTable table;
  table.Add(WithPrefix("ab"));
  table.Add(WithPrefix("alp_0123456789a"));
  EXPECT_EQ(table.Find(std::string_view("ab\0", 3)), kNoIdx);
  EXPECT_EQ(table.Find(std::string_view("ab\0\0\0\0\0\0\0\0\0\0\0\0\0", 15)), kNoIdx);
  EXPECT_EQ(table.Find(std::string_view("alp_0123456789\0", 15)), kNoIdx);
  EXPECT_EQ(table.Find("ab"), 0u);
}

TEST(TokenTable, BytesAfterAStoredPrefixsNulDoNotMatter) {
  // A snapshot stores records as raw bytes and checks only the last one is NUL: what
  // follows an earlier NUL is no part of the prefix, for Find as for Prefix::view.
  TokenRecord r = WithPrefix("short");
  auto* bytes = reinterpret_cast<char*>(&r.prefix);
  for (std::size_t i = 6; i < Prefix::kMax; ++i) bytes[i] = 'x';
  TokenTable table;
  table.Add(r);
  EXPECT_EQ(r.prefix.view(), "short");
  EXPECT_EQ(table.Find("short"), 0u);
  EXPECT_EQ(table.Find(std::string_view("short\0xxxxxxxxx", 15)), kNoIdx);
}

TEST(TokenTable, ManyRandomPrefixesAreEachFoundOnce) {
  std::mt19937_64 random(7);
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  TokenTable table;
  std::vector<std::string> prefixes;
  for (int i = 0; i < 20000; ++i) {
    std::string p = "alp_";
    while (p.size() < Prefix::kMax) p += alphabet[random() % alphabet.size()];
    prefixes.push_back(p);
    table.Add(WithPrefix(p));
  }
  for (std::size_t i = 0; i < prefixes.size(); ++i) ASSERT_EQ(table.Find(prefixes[i]), i);
  EXPECT_EQ(table.Find("alp_00000000000"), kNoIdx);
}

TEST(GenerateSecret, CarriesItsDigestAndPrefix) {
  auto made = GenerateSecret(TokenKind::kPersonal);
  ASSERT_TRUE(made.ok());
  EXPECT_EQ(made->id.secret_hash, storage::Sha256(made->secret));
  EXPECT_EQ(made->id.prefix, made->secret.substr(0, Prefix::kMax));
}

TEST(SameDigest, TellsEveryDifferingByte) {
  const storage::Hash a = storage::Sha256("a");
  EXPECT_TRUE(SameDigest(a, a));
  for (std::size_t i = 0; i < a.size(); ++i) {
    for (std::uint8_t bit = 1; bit != 0; bit = static_cast<std::uint8_t>(bit << 1)) {
      storage::Hash b = a;
      b[i] ^= bit;
      EXPECT_FALSE(SameDigest(a, b)) << "byte " << i << " bit " << int{bit};
    }
  }
}

TEST(StringHash, SpreadsShortIdsThatDifferInOneCharacter) {
  // The state's indexes hash ids like "org1", "org2", …: equal hashes would still be
  // correct, but each would cost a probe.
  StringMap<Idx> index;
  std::vector<std::string> ids;
  for (int i = 0; i < 5000; ++i) ids.push_back("org" + std::to_string(i));
  for (int i = 0; i < 5000; ++i) ids.push_back("user-" + std::to_string(i) + "@example.org");
  for (std::size_t len = 0; len <= 24; ++len) ids.push_back(std::string(len, 'z'));
  for (std::size_t i = 0; i < ids.size(); ++i) index.emplace(ids[i], static_cast<Idx>(i));
  for (std::size_t i = 0; i < ids.size(); ++i)
    ASSERT_EQ(index.find(std::string_view(ids[i]))->second, i);
  EXPECT_EQ(index.find(std::string_view("org5000")), index.end());
  std::set<std::size_t> hashes;
  for (const auto& id : ids) hashes.insert(StringHash{}(id));
  EXPECT_EQ(hashes.size(), ids.size());
}

}  // namespace
TEST(IdIndex, FindsEveryIdThroughGrowthAndMissesTheRest) {
  std::vector<std::string> ids;
  IdIndex index;
  auto id_of = [&](Idx i) -> std::string_view { return ids[i]; };
  auto find = [&](std::string_view id) { return index.Find(id, IdIndex::TagOf(id), id_of); };
  for (int i = 0; i < 20000; ++i) {
    std::string id = "user" + std::to_string(i);
    ASSERT_EQ(find(id), kNoIdx) << id;
    ids.push_back(id);
    index.Insert(IdIndex::TagOf(id), static_cast<Idx>(i));
  }
  EXPECT_EQ(index.size(), ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) ASSERT_EQ(find(ids[i]), i) << ids[i];
  EXPECT_EQ(find("user20000"), kNoIdx);
  EXPECT_EQ(find(""), kNoIdx);
}

TEST(IdIndex, TellsApartIdsWhoseTagsCollide) {
  // Every id under one tag: found by comparing ids, in probe order.
  std::vector<std::string> ids = {"a", "b", "c", "d", "e"};
  IdIndex index;
  auto id_of = [&](Idx i) -> std::string_view { return ids[i]; };
  for (std::size_t i = 0; i < ids.size(); ++i) index.Insert(7, static_cast<Idx>(i));
  for (std::size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(index.Find(ids[i], 7, id_of), i);
  EXPECT_EQ(index.Find("f", 7, id_of), kNoIdx);
  EXPECT_EQ(index.Find("a", 8, id_of), kNoIdx);
}

TEST(IdIndex, EqualWhenItHoldsTheSamePositionsInAnyOrder) {
  std::vector<std::string> ids;
  for (int i = 0; i < 100; ++i) ids.push_back("org" + std::to_string(i));
  IdIndex forward, backward, fewer, moved;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    forward.Insert(IdIndex::TagOf(ids[i]), static_cast<Idx>(i));
    const std::size_t j = ids.size() - 1 - i;
    backward.Insert(IdIndex::TagOf(ids[j]), static_cast<Idx>(j));
    if (i > 0) fewer.Insert(IdIndex::TagOf(ids[i]), static_cast<Idx>(i));
    // "org0" and "org1" swapped: the same ids at other positions.
    const std::size_t k = i < 2 ? 1 - i : i;
    moved.Insert(IdIndex::TagOf(ids[i]), static_cast<Idx>(k));
  }
  EXPECT_EQ(forward, backward);
  EXPECT_NE(forward, fewer);
  EXPECT_NE(forward, moved);
}

TEST(IdxList, KeepsItsElementsInOrderInPlaceAndOnTheHeap) {
  // Against a std::vector doing the same inserts and erases: across the move from in
  // place to the heap, and through copies and moves of either kind.
  std::mt19937_64 rng(11);
  IdxList list;
  std::vector<Idx> want;
  auto same = [&](const IdxList& l) {
    return std::equal(l.begin(), l.end(), want.begin(), want.end()) && l.size() == want.size();
  };
  for (int step = 0; step < 2000; ++step) {
    if (want.empty() || rng() % 3 != 0) {
      const Idx value = static_cast<Idx>(rng() % 50);
      const std::size_t at = want.empty() ? 0 : rng() % (want.size() + 1);
      EXPECT_EQ(*list.insert(list.begin() + at, value), value);
      want.insert(want.begin() + static_cast<std::ptrdiff_t>(at), value);
    } else {
      const std::size_t at = rng() % want.size();
      list.erase(list.begin() + at);
      want.erase(want.begin() + static_cast<std::ptrdiff_t>(at));
    }
    ASSERT_TRUE(same(list)) << "step " << step << ", size " << want.size();
    if (step % 97 == 0) {
      IdxList copy = list;
      EXPECT_TRUE(same(copy));
      EXPECT_EQ(copy, list);
      IdxList moved = std::move(copy);
      EXPECT_TRUE(same(moved));
      EXPECT_TRUE(copy.empty());  // NOLINT(bugprone-use-after-move): specified empty
      copy = moved;
      moved = std::move(list);
      list = std::move(moved);
      EXPECT_TRUE(same(list));
      EXPECT_EQ(list, copy);
    }
    if (want.size() > 40) {
      list = {};
      want.clear();
    }
  }
  EXPECT_NE((IdxList{1, 2}), (IdxList{1, 2, 3}));
  EXPECT_NE((IdxList{1, 2, 4}), (IdxList{1, 2, 3}));
  EXPECT_EQ((IdxList{1, 2, 3, 4, 5, 6}), (IdxList{1, 2, 3, 4, 5, 6}));
  static_assert(sizeof(IdxList) == 24, "as small as the std::vector it replaces");
}

}  // namespace authledger::internal
