// Merkle tree: published RFC 6962 vectors, agreement with a naive RFC 6962 §2.1
// implementation, adversarial rejection by the verifiers, and the writer's frontier.
#include "storage/merkle.h"

#include <gtest/gtest.h>

#include <cctype>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "storage/hash.h"

namespace authledger::storage {
namespace {

using Proof = std::vector<Hash>;

Hash H(std::string_view hex) {
  const std::optional<Hash> hash = HashFromHex(hex);
  EXPECT_TRUE(hash.has_value()) << hex;
  return hash.value_or(Hash{});
}

std::vector<std::uint8_t> Bytes(std::string_view hex) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

// ---- Published vectors ---------------------------------------------------------------
// Test vector data copied from google/certificate-transparency,
// cpp/merkletree/merkle_tree_test.cc (commit 0e901cacd1388fa16f78b184612f6cd16e5ceec1):
// kInputs, kSHA256Roots, kSHA256Paths, kSHA256Proofs. Leaf numbers in the paths are
// 1-based there, as published; the tests subtract one.
constexpr std::string_view kEmptyTreeHash =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr std::string_view kInputs[8] = {"",
                                         "00",
                                         "10",
                                         "2021",
                                         "3031",
                                         "40414243",
                                         "5051525354555657",
                                         "606162636465666768696a6b6c6d6e6f"};
constexpr std::string_view kRoots[8] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};
struct PublishedPath {
  std::uint64_t leaf_number;  // 1-based
  std::uint64_t tree_size;
  std::vector<std::string_view> path;
};
const PublishedPath kPaths[] = {
    {1, 1, {}},
    {1,
     8,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {6,
     8,
     {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {3, 3, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
    {2,
     5,
     {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}}};
struct PublishedConsistency {
  std::uint64_t old_size;
  std::uint64_t new_size;
  std::vector<std::string_view> proof;
};
const PublishedConsistency kConsistencies[] = {
    {1, 1, {}},
    {1,
     8,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {6,
     8,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2,
     5,
     {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}}};

Proof ToProof(const std::vector<std::string_view>& hexes) {
  Proof proof;
  for (std::string_view hex : hexes) proof.push_back(H(hex));
  return proof;
}

// ---- Naive RFC 6962 §2.1, straight from the definitions -------------------------------
using Leaves = std::span<const Hash>;

std::size_t LargestPowerOfTwoBelow(std::size_t n) {
  std::size_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

Hash NaiveMth(Leaves d) {
  if (d.empty()) return EmptyRoot();
  if (d.size() == 1) return d[0];
  const std::size_t k = LargestPowerOfTwoBelow(d.size());
  return NodeHash(NaiveMth(d.first(k)), NaiveMth(d.subspan(k)));
}

Proof NaivePath(std::size_t m, Leaves d) {
  if (d.size() <= 1) return {};
  const std::size_t k = LargestPowerOfTwoBelow(d.size());
  Proof path = m < k ? NaivePath(m, d.first(k)) : NaivePath(m - k, d.subspan(k));
  path.push_back(m < k ? NaiveMth(d.subspan(k)) : NaiveMth(d.first(k)));
  return path;
}

Proof NaiveSubproof(std::size_t m, Leaves d, bool b) {
  if (m == d.size()) return b ? Proof{} : Proof{NaiveMth(d)};
  const std::size_t k = LargestPowerOfTwoBelow(d.size());
  Proof proof =
      m <= k ? NaiveSubproof(m, d.first(k), b) : NaiveSubproof(m - k, d.subspan(k), false);
  proof.push_back(m <= k ? NaiveMth(d.subspan(k)) : NaiveMth(d.first(k)));
  return proof;
}

// ---- Node readers ----------------------------------------------------------------------
class MemoryNodeReader : public NodeReader {
 public:
  // Every perfect node over `leaves`, each computed naively.
  explicit MemoryNodeReader(Leaves leaves) {
    for (unsigned level = 0; (std::size_t{1} << level) <= leaves.size(); ++level) {
      const std::size_t width = std::size_t{1} << level;
      for (std::size_t i = 0; (i + 1) * width <= leaves.size(); ++i) {
        nodes_[{level, i}] = NaiveMth(leaves.subspan(i * width, width));
      }
    }
  }
  Result<Hash> PerfectNode(unsigned level, std::uint64_t index) const override {
    ++reads_;
    const auto it = nodes_.find({level, index});
    if (it == nodes_.end()) return Status::NotFound("merkle_node_missing", "no such node");
    return it->second;
  }
  const std::map<std::pair<unsigned, std::uint64_t>, Hash>& nodes() const { return nodes_; }
  int reads() const { return reads_; }

 private:
  std::map<std::pair<unsigned, std::uint64_t>, Hash> nodes_;
  mutable int reads_ = 0;
};

// A tree of up to 2^64 - 1 identical leaves: node (L, i) is the same for every i, so
// huge sizes can be exercised exactly.
class UniformNodeReader : public NodeReader {
 public:
  UniformNodeReader() {
    levels_[0] = LeafHash(Bytes("61"));
    for (unsigned l = 1; l < 64; ++l) levels_[l] = NodeHash(levels_[l - 1], levels_[l - 1]);
  }
  Result<Hash> PerfectNode(unsigned level, std::uint64_t /*index*/) const override {
    ++reads_;
    if (level >= 64) return Status::NotFound("merkle_node_missing", "no such level");
    return levels_[level];
  }
  int reads() const { return reads_; }

 private:
  std::array<Hash, 64> levels_;
  mutable int reads_ = 0;
};

std::vector<Hash> ReferenceLeaves() {
  std::vector<Hash> leaves;
  for (std::string_view input : kInputs) leaves.push_back(LeafHash(Bytes(input)));
  return leaves;
}

std::vector<Hash> RandomLeaves(std::size_t count, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Hash> leaves;
  for (std::size_t i = 0; i < count; ++i) {
    std::vector<std::uint8_t> data(rng() % 40);
    for (auto& byte : data) byte = static_cast<std::uint8_t>(rng());
    leaves.push_back(LeafHash(data));
  }
  return leaves;
}

// Fixed sizes at and around powers of two, plus random ones, all in 1..1000.
std::vector<std::size_t> TestSizes() {
  std::vector<std::size_t> sizes = {1,  2,  3,  4,   5,   7,   8,   9,   15,  16,  17,
                                    63, 64, 65, 255, 256, 257, 511, 512, 513, 999, 1000};
  std::mt19937_64 rng(6962);
  for (int i = 0; i < 40; ++i) sizes.push_back(1 + rng() % 1000);
  return sizes;
}

class MerkleRandom : public ::testing::Test {
 protected:
  MerkleRandom() : leaves_(RandomLeaves(1000, 9162)), reader_(leaves_) {}
  Leaves Prefix(std::size_t n) const { return Leaves(leaves_).first(n); }

  // Calls check(index, size, proof, root) for every leaf of every tree of size 1..48,
  // which covers sizes at and around powers of two.
  template <typename Check>
  void ForEachInclusion(Check check) const {
    for (std::size_t size = 1; size <= 48; ++size) {
      const Hash root = NaiveMth(Prefix(size));
      for (std::size_t index = 0; index < size; ++index) {
        check(index, size, NaivePath(index, Prefix(size)), root);
      }
    }
  }

  std::vector<Hash> leaves_;
  MemoryNodeReader reader_;
};

// ---- Hashing ---------------------------------------------------------------------------
TEST(Hash, Sha256MatchesNistVectorsAndHexRoundTrips) {
  EXPECT_EQ(ToHex(Sha256(std::string_view("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(ToHex(Sha256(std::string_view())), kEmptyTreeHash);
  // FIPS 180-2's two-block vector (56 bytes: the padding takes a second block), whole and
  // cut into parts at each byte.
  const std::string two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  const std::string two_blocks_digest =
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
  EXPECT_EQ(ToHex(Sha256(two_blocks)), two_blocks_digest);
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(two_blocks.data());
  for (std::size_t cut = 0; cut <= two_blocks.size(); ++cut) {
    EXPECT_EQ(ToHex(Sha256Parts(
                  {std::span(bytes, cut), std::span(bytes + cut, two_blocks.size() - cut)})),
              two_blocks_digest)
        << "cut at " << cut;
  }
  // A million 'a's: many blocks.
  EXPECT_EQ(ToHex(Sha256(std::string(1000000, 'a'))),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  const Hash h = Sha256(std::string_view("authledger"));
  EXPECT_EQ(HashFromHex(ToHex(h)), h);
  std::string upper = ToHex(h);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(HashFromHex(upper), h);
  EXPECT_FALSE(HashFromHex(ToHex(h).substr(1)).has_value());
  EXPECT_FALSE(HashFromHex(ToHex(h) + "0").has_value());
  std::string not_hex = ToHex(h);
  not_hex[7] = 'g';
  EXPECT_FALSE(HashFromHex(not_hex).has_value());
  EXPECT_EQ(ToHex(Bytes("00ff7f80")), "00ff7f80");
  const std::vector<std::uint8_t> a = Bytes("0102"), b = Bytes("030405");
  EXPECT_EQ(Sha256Parts({a, b}), Sha256(Bytes("0102030405")));
}

TEST(Hash, Sha256GivesTheSameDigestOnEveryThread) {
  const Hash expected = Sha256(std::string_view("same on every thread"));
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 1000; ++i) {
        mismatches[t] += Sha256(std::string_view("same on every thread")) != expected;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int count : mismatches) EXPECT_EQ(count, 0);
}

// ---- Published vectors -----------------------------------------------------------------
TEST(Merkle, EmptyTreeRootIsSha256OfTheEmptyString) {
  const MemoryNodeReader reader(Leaves{});
  EXPECT_EQ(EmptyRoot(), H(kEmptyTreeHash));
  EXPECT_EQ(RootAt(reader, 0).value(), H(kEmptyTreeHash));
  EXPECT_EQ(MerkleFrontier().Root(), H(kEmptyTreeHash));
}

TEST(Merkle, RootsOfTheReferenceTreeMatchPublishedVectors) {
  const std::vector<Hash> leaves = ReferenceLeaves();
  const MemoryNodeReader reader(leaves);
  MerkleFrontier frontier;
  for (std::size_t size = 1; size <= 8; ++size) {
    EXPECT_EQ(RootAt(reader, size).value(), H(kRoots[size - 1])) << size;
    frontier.Append(leaves[size - 1], nullptr);
    EXPECT_EQ(frontier.Root(), H(kRoots[size - 1])) << size;
  }
}

TEST(Merkle, InclusionProofsMatchPublishedVectorsAndVerify) {
  const std::vector<Hash> leaves = ReferenceLeaves();
  const MemoryNodeReader reader(leaves);
  for (const PublishedPath& v : kPaths) {
    const std::uint64_t index = v.leaf_number - 1;
    const Result<Proof> proof = InclusionProof(reader, index, v.tree_size);
    ASSERT_TRUE(proof.ok()) << proof.status().ToString();
    EXPECT_EQ(*proof, ToProof(v.path)) << index << " in " << v.tree_size;
    EXPECT_TRUE(
        VerifyInclusion(leaves[index], index, v.tree_size, *proof, H(kRoots[v.tree_size - 1])));
  }
}

TEST(Merkle, ConsistencyProofsMatchPublishedVectorsAndVerify) {
  const MemoryNodeReader reader(ReferenceLeaves());
  for (const PublishedConsistency& v : kConsistencies) {
    const Result<Proof> proof = ConsistencyProof(reader, v.old_size, v.new_size);
    ASSERT_TRUE(proof.ok()) << proof.status().ToString();
    EXPECT_EQ(*proof, ToProof(v.proof)) << v.old_size << " -> " << v.new_size;
    EXPECT_TRUE(VerifyConsistency(v.old_size, v.new_size, H(kRoots[v.old_size - 1]),
                                  H(kRoots[v.new_size - 1]), *proof));
  }
}

// ---- Agreement with the naive definitions ----------------------------------------------
TEST_F(MerkleRandom, RootsMatchTheNaiveDefinitionForRandomSizes) {
  for (std::size_t size : TestSizes()) {
    EXPECT_EQ(RootAt(reader_, size).value(), NaiveMth(Prefix(size))) << size;
  }
}

TEST_F(MerkleRandom, InclusionProofsMatchTheNaiveDefinitionAndVerify) {
  std::mt19937_64 rng(1);
  for (std::size_t size : TestSizes()) {
    const Hash root = NaiveMth(Prefix(size));
    for (std::size_t index : {std::size_t{0}, size - 1, size / 2, rng() % size, rng() % size}) {
      const Result<Proof> proof = InclusionProof(reader_, index, size);
      ASSERT_TRUE(proof.ok()) << proof.status().ToString();
      EXPECT_EQ(*proof, NaivePath(index, Prefix(size))) << index << " in " << size;
      EXPECT_TRUE(VerifyInclusion(leaves_[index], index, size, *proof, root)) << index;
    }
  }
}

TEST_F(MerkleRandom, ConsistencyProofsMatchTheNaiveDefinitionAndVerify) {
  std::mt19937_64 rng(2);
  for (std::size_t new_size : TestSizes()) {
    const Hash new_root = NaiveMth(Prefix(new_size));
    for (std::size_t old_size :
         {std::size_t{1}, new_size, new_size / 2 + 1, 1 + rng() % new_size, 1 + rng() % new_size}) {
      const Result<Proof> proof = ConsistencyProof(reader_, old_size, new_size);
      ASSERT_TRUE(proof.ok()) << proof.status().ToString();
      EXPECT_EQ(*proof, NaiveSubproof(old_size, Prefix(new_size), true))
          << old_size << " -> " << new_size;
      EXPECT_TRUE(
          VerifyConsistency(old_size, new_size, NaiveMth(Prefix(old_size)), new_root, *proof));
    }
  }
}

TEST_F(MerkleRandom, RootReadsOneNodePerSetBitOfTheSize) {
  const int before = reader_.reads();
  ASSERT_TRUE(RootAt(reader_, 0b1111101000).ok());  // 1000
  EXPECT_EQ(reader_.reads() - before, 6);
}

// At most one sibling of a proof is an incomplete right edge (after the path turns left
// every range is perfect), so a proof costs at most 63 + 64 reads however large the tree.
TEST(Merkle, ProofsOverHugeTreesVerifyWithBoundedReads) {
  const UniformNodeReader reader;
  const std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  const Hash max_root = RootAt(reader, kMax).value();
  EXPECT_EQ(reader.reads(), 64);
  for (std::uint64_t index : {std::uint64_t{0}, kMax / 3, kMax / 2, kMax - 1}) {
    const int before = reader.reads();
    const Proof proof = InclusionProof(reader, index, kMax).value();
    EXPECT_LE(reader.reads() - before, 127) << index;
    EXPECT_LE(proof.size(), 64u);
    EXPECT_TRUE(VerifyInclusion(reader.PerfectNode(0, 0).value(), index, kMax, proof, max_root));
  }
  for (std::uint64_t old_size : {std::uint64_t{1}, std::uint64_t{1} << 63, kMax / 3, kMax - 1}) {
    const int before = reader.reads();
    const Proof proof = ConsistencyProof(reader, old_size, kMax).value();
    EXPECT_LE(reader.reads() - before, 127) << old_size;
    EXPECT_TRUE(
        VerifyConsistency(old_size, kMax, RootAt(reader, old_size).value(), max_root, proof))
        << old_size;
  }
}

// ---- Provers refuse what they cannot answer --------------------------------------------
TEST_F(MerkleRandom, ProofsOutsideTheTreeAreRefusedAsOutOfRange) {
  EXPECT_EQ(InclusionProof(reader_, 5, 5).status().reason(), "proof_out_of_range");
  EXPECT_EQ(InclusionProof(reader_, 0, 0).status().reason(), "proof_out_of_range");
  EXPECT_EQ(ConsistencyProof(reader_, 0, 5).status().reason(), "proof_out_of_range");
  EXPECT_EQ(ConsistencyProof(reader_, 6, 5).status().reason(), "proof_out_of_range");
  EXPECT_EQ(ConsistencyProof(reader_, 6, 5).status().code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(ConsistencyProof(reader_, 5, 5).value().empty());
}

TEST_F(MerkleRandom, MissingNodesAreReportedNeverInvented) {
  EXPECT_EQ(RootAt(reader_, 1001).status().reason(), "merkle_node_missing");
  EXPECT_EQ(InclusionProof(reader_, 3, 1001).status().reason(), "merkle_node_missing");
  EXPECT_EQ(ConsistencyProof(reader_, 3, 1001).status().reason(), "merkle_node_missing");
  EXPECT_EQ(MerkleFrontier::Load(reader_, 1001).status().reason(), "merkle_node_missing");
}

TEST_F(MerkleRandom, SubtreeHashAcceptsOnlyProofShapedRanges) {
  EXPECT_EQ(SubtreeHash(reader_, 256, 512).value(), NaiveMth(Prefix(512).subspan(256)));
  EXPECT_EQ(SubtreeHash(reader_, 512, 1000).value(), NaiveMth(Prefix(1000).subspan(512)));
  EXPECT_EQ(SubtreeHash(reader_, 7, 7).value(), EmptyRoot());
  EXPECT_EQ(SubtreeHash(reader_, 1, 3).status().reason(), "subtree_range_unaligned");
  EXPECT_EQ(SubtreeHash(reader_, 4, 9).status().reason(), "subtree_range_unaligned");
  EXPECT_EQ(SubtreeHash(reader_, 9, 4).status().reason(), "subtree_range_invalid");
}

// ---- Verifiers reject anything wrong ---------------------------------------------------
TEST_F(MerkleRandom, InclusionProofForWrongLeafIsRejected) {
  ForEachInclusion([&](std::size_t index, std::size_t size, const Proof& p, const Hash& r) {
    EXPECT_FALSE(VerifyInclusion(leaves_[(index + 1) % 1000], index, size, p, r));
    if (size > 1) {
      EXPECT_FALSE(VerifyInclusion(r, index, size, p, r)) << "root passed off as a leaf";
    }
  });
}

TEST_F(MerkleRandom, InclusionProofAtWrongIndexIsRejected) {
  ForEachInclusion([&](std::size_t index, std::size_t size, const Proof& p, const Hash& r) {
    for (std::size_t other = 0; other < size + 2; ++other) {
      if (other == index) continue;
      EXPECT_FALSE(VerifyInclusion(leaves_[index], other, size, p, r)) << index << "/" << other;
    }
  });
}

TEST_F(MerkleRandom, InclusionProofForWrongTreeSizeIsRejected) {
  ForEachInclusion([&](std::size_t index, std::size_t size, const Proof& p, const Hash& r) {
    EXPECT_FALSE(VerifyInclusion(leaves_[index], index, size * 2, p, r));
    EXPECT_FALSE(VerifyInclusion(leaves_[index], index, size / 2, p, r));
    EXPECT_FALSE(VerifyInclusion(leaves_[index], index, index, p, r));
    EXPECT_FALSE(VerifyInclusion(leaves_[index], index, 0, p, r));
    if (!p.empty()) {
      EXPECT_FALSE(VerifyInclusion(leaves_[index], 0, 1, p, r)) << "as a one-leaf tree";
    }
  });
}

TEST_F(MerkleRandom, InclusionProofAgainstWrongRootIsRejected) {
  ForEachInclusion([&](std::size_t index, std::size_t size, const Proof& p, const Hash&) {
    EXPECT_FALSE(VerifyInclusion(leaves_[index], index, size, p, NaiveMth(Prefix(size + 1))));
    EXPECT_FALSE(VerifyInclusion(leaves_[index], index, size, p, EmptyRoot()));
  });
}

TEST_F(MerkleRandom, InclusionProofWithAFlippedBitIsRejected) {
  ForEachInclusion([&](std::size_t index, std::size_t size, const Proof& p, const Hash& r) {
    for (std::size_t i = 0; i < p.size(); ++i) {
      Proof bad = p;
      bad[i][i % 32] ^= 0x01;
      EXPECT_FALSE(VerifyInclusion(leaves_[index], index, size, bad, r));
    }
  });
}

TEST_F(MerkleRandom, TruncatedOrExtendedInclusionProofIsRejected) {
  ForEachInclusion([&](std::size_t index, std::size_t size, const Proof& p, const Hash& r) {
    if (!p.empty()) {
      EXPECT_FALSE(VerifyInclusion(leaves_[index], index, size, Proof(p.begin(), p.end() - 1), r));
      EXPECT_FALSE(VerifyInclusion(leaves_[index], index, size, Proof(p.begin() + 1, p.end()), r));
    }
    for (const Hash& extra : {Hash{}, r, leaves_[index]}) {
      Proof appended = p;
      appended.push_back(extra);
      EXPECT_FALSE(VerifyInclusion(leaves_[index], index, size, appended, r));
      Proof prepended = {extra};
      prepended.insert(prepended.end(), p.begin(), p.end());
      EXPECT_FALSE(VerifyInclusion(leaves_[index], index, size, prepended, r));
    }
  });
}

TEST_F(MerkleRandom, ConsistencyProofWithAnythingChangedIsRejected) {
  for (std::size_t n = 2; n <= 40; ++n) {
    const Hash rn = NaiveMth(Prefix(n));
    for (std::size_t m = 1; m < n; ++m) {
      const Hash rm = NaiveMth(Prefix(m));
      const Proof p = NaiveSubproof(m, Prefix(n), true);
      ASSERT_TRUE(VerifyConsistency(m, n, rm, rn, p));
      const std::string at = std::to_string(m) + " -> " + std::to_string(n);
      for (std::size_t other : {m - 1, m + 1, m ^ 2, n, n + 1}) {
        if (other == m) continue;
        EXPECT_FALSE(VerifyConsistency(other, n, rm, rn, p)) << at << " as " << other;
      }
      // Neighbouring sizes can share the proof's shape (the size is not hashed; a signed
      // checkpoint binds it to the root), so only sizes of a different shape are tried.
      for (std::size_t other : {n * 2, n / 2, std::size_t{0}}) {
        EXPECT_FALSE(VerifyConsistency(m, other, rm, rn, p)) << at << " as " << other;
      }
      EXPECT_FALSE(VerifyConsistency(m, n, rn, rm, p)) << at << " roots swapped";
      EXPECT_FALSE(VerifyConsistency(m, n, NaiveMth(Prefix(m + 1)), rn, p)) << at;
      EXPECT_FALSE(VerifyConsistency(m, n, rm, NaiveMth(Prefix(n + 1)), p)) << at;
      EXPECT_FALSE(VerifyConsistency(m, n, rm, rn, {})) << at << " empty proof";
      for (std::size_t i = 0; i < p.size(); ++i) {
        Proof bad = p;
        bad[i][31 - i % 32] ^= 0x80;
        EXPECT_FALSE(VerifyConsistency(m, n, rm, rn, bad)) << at << " flipped " << i;
      }
      EXPECT_FALSE(VerifyConsistency(m, n, rm, rn, Proof(p.begin(), p.end() - 1))) << at;
      EXPECT_FALSE(VerifyConsistency(m, n, rm, rn, Proof(p.begin() + 1, p.end()))) << at;
      for (const Hash& extra : {Hash{}, p.back(), p.front(), rm}) {
        Proof appended = p;
        appended.push_back(extra);
        EXPECT_FALSE(VerifyConsistency(m, n, rm, rn, appended)) << at;
        Proof prepended = {extra};
        prepended.insert(prepended.end(), p.begin(), p.end());
        EXPECT_FALSE(VerifyConsistency(m, n, rm, rn, prepended)) << at;
      }
    }
  }
}

TEST(Merkle, ConsistencyEdgeCasesFollowTheRfc) {
  const Hash a = Sha256(std::string_view("a")), b = Sha256(std::string_view("b"));
  EXPECT_TRUE(VerifyConsistency(0, 0, EmptyRoot(), EmptyRoot(), {}));
  EXPECT_TRUE(VerifyConsistency(0, 7, EmptyRoot(), a, {}));
  EXPECT_FALSE(VerifyConsistency(0, 0, EmptyRoot(), a, {}));
  EXPECT_FALSE(VerifyConsistency(0, 7, a, a, {})) << "size 0 with a non-empty root";
  EXPECT_FALSE(VerifyConsistency(0, 7, EmptyRoot(), a, Proof{a})) << "size 0 with a proof";
  EXPECT_TRUE(VerifyConsistency(7, 7, a, a, {}));
  EXPECT_FALSE(VerifyConsistency(7, 7, a, b, {}));
  EXPECT_FALSE(VerifyConsistency(7, 7, a, a, Proof{a}));
  EXPECT_FALSE(VerifyConsistency(8, 7, a, a, {}));
  EXPECT_FALSE(VerifyConsistency(8, 7, a, b, Proof{a, b}));
  // Hashes that line up do not make a larger tree a prefix of a smaller one.
  EXPECT_FALSE(VerifyConsistency(3, 2, a, NodeHash(a, b), Proof{a, b}));
  EXPECT_FALSE(VerifyInclusion(a, 0, 0, {}, a));
  EXPECT_FALSE(VerifyInclusion(a, 1, 1, {}, a));
  EXPECT_TRUE(VerifyInclusion(a, 0, 1, {}, a));
}

// ---- The writer's frontier -------------------------------------------------------------
TEST_F(MerkleRandom, FrontierRootMatchesTheNaiveRootAfterEveryAppend) {
  MerkleFrontier frontier;
  for (std::size_t i = 0; i < 300; ++i) {
    frontier.Append(leaves_[i], nullptr);
    EXPECT_EQ(frontier.size(), i + 1);
    EXPECT_EQ(frontier.Root(), NaiveMth(Prefix(i + 1))) << i + 1;
  }
}

TEST_F(MerkleRandom, FrontierWritesEveryPerfectNodeOnceWithItsNaiveHash) {
  MerkleFrontier frontier;
  std::map<std::pair<unsigned, std::uint64_t>, Hash> written;
  for (const Hash& leaf : leaves_) {
    std::vector<PerfectNodeWrite> writes;
    frontier.Append(leaf, &writes);
    ASSERT_FALSE(writes.empty());
    EXPECT_EQ(writes[0].level, 0u);
    for (std::size_t i = 0; i < writes.size(); ++i) {
      EXPECT_EQ(writes[i].level, i) << "lowest level first";
      EXPECT_TRUE(
          written.emplace(std::pair(writes[i].level, writes[i].index), writes[i].hash).second);
    }
  }
  EXPECT_EQ(written, reader_.nodes());
}

TEST_F(MerkleRandom, FrontierLoadedAtAnySizeContinuesIdentically) {
  MerkleFrontier whole;
  std::vector<std::vector<PerfectNodeWrite>> writes_at(leaves_.size());
  for (std::size_t i = 0; i < leaves_.size(); ++i) whole.Append(leaves_[i], &writes_at[i]);
  for (std::size_t size : {0, 1, 2, 3, 7, 8, 100, 255, 256, 511, 777, 999}) {
    Result<MerkleFrontier> loaded = MerkleFrontier::Load(reader_, size);
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    EXPECT_EQ(loaded->size(), size);
    EXPECT_EQ(loaded->Root(), NaiveMth(Prefix(size))) << size;
    for (std::size_t i = size; i < std::min<std::size_t>(size + 70, leaves_.size()); ++i) {
      std::vector<PerfectNodeWrite> writes;
      loaded->Append(leaves_[i], &writes);
      ASSERT_EQ(writes.size(), writes_at[i].size());
      for (std::size_t w = 0; w < writes.size(); ++w) {
        EXPECT_EQ(writes[w].level, writes_at[i][w].level);
        EXPECT_EQ(writes[w].index, writes_at[i][w].index);
        EXPECT_EQ(writes[w].hash, writes_at[i][w].hash);
      }
      EXPECT_EQ(loaded->Root(), NaiveMth(Prefix(i + 1)));
    }
  }
}

TEST(Merkle, FrontierLoadedNearTheLargestSizeMatchesRootAt) {
  const UniformNodeReader reader;
  const std::uint64_t start = std::numeric_limits<std::uint64_t>::max() - 5;
  MerkleFrontier frontier = MerkleFrontier::Load(reader, start).value();
  for (std::uint64_t size = start + 1; size != std::numeric_limits<std::uint64_t>::max(); ++size) {
    std::vector<PerfectNodeWrite> writes;
    frontier.Append(reader.PerfectNode(0, 0).value(), &writes);
    EXPECT_EQ(frontier.Root(), RootAt(reader, size).value());
    for (const PerfectNodeWrite& w : writes) {
      EXPECT_EQ(w.hash, reader.PerfectNode(w.level, w.index).value());
    }
  }
}

TEST(Merkle, NodeKeysAreLevelThenBigEndianIndex) {
  const std::array<std::uint8_t, 9> expected = {3, 1, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_EQ(MerkleNodeKey(3, 0x0102030405060708), expected);
  EXPECT_LT(MerkleNodeKey(0, 255), MerkleNodeKey(0, 256)) << "keys sort by index";
  EXPECT_LT(MerkleNodeKey(0, ~std::uint64_t{0}), MerkleNodeKey(1, 0)) << "then by level";
}

}  // namespace
}  // namespace authledger::storage
