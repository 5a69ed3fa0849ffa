#include "storage/merkle.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <limits>
#include <string>

namespace authledger::storage {
namespace {

constexpr std::uint8_t kLeafPrefix = 0x00;
constexpr std::uint8_t kNodePrefix = 0x01;
constexpr unsigned kMaxLevels = 64;

// The largest power of two strictly below n: where RFC 6962 splits a tree of n >= 2.
std::uint64_t SplitPoint(std::uint64_t n) {
  assert(n >= 2);
  return std::bit_floor(n - 1);
}

bool IsOdd(std::uint64_t v) { return (v & 1) != 0; }

Status OutOfRange(const std::string& message) {
  return Status::InvalidArgument("proof_out_of_range", message);
}

}  // namespace

Hash LeafHash(std::span<const std::uint8_t> data) {
  const std::uint8_t prefix = kLeafPrefix;
  return Sha256Parts({std::span(&prefix, 1), data});
}

Hash NodeHash(const Hash& left, const Hash& right) {
  std::array<std::uint8_t, 1 + 2 * sizeof(Hash)> buffer;
  buffer[0] = kNodePrefix;
  std::copy(left.begin(), left.end(), buffer.begin() + 1);
  std::copy(right.begin(), right.end(), buffer.begin() + 1 + left.size());
  return Sha256(buffer);
}

Hash EmptyRoot() { return Sha256(std::span<const std::uint8_t>()); }

Result<Hash> SubtreeHash(const NodeReader& reader, std::uint64_t begin, std::uint64_t end) {
  if (begin > end) {
    return Status::InvalidArgument(
        "subtree_range_invalid",
        "subtree [" + std::to_string(begin) + ", " + std::to_string(end) + ") is reversed");
  }
  const std::uint64_t n = end - begin;
  if (n == 0) return EmptyRoot();
  constexpr std::uint64_t kTopBit = std::uint64_t{1} << 63;
  const bool aligned = n > kTopBit ? begin == 0 : begin % std::bit_ceil(n) == 0;
  if (!aligned) {
    return Status::InvalidArgument("subtree_range_unaligned", "subtree [" + std::to_string(begin) +
                                                                  ", " + std::to_string(end) +
                                                                  ") is not a proof subtree");
  }
  // Because begin is aligned to a power of two >= n, the binary decomposition of n
  // yields aligned perfect pieces, largest first, and MTH folds them right to left.
  std::array<Hash, kMaxLevels> pieces;
  unsigned count = 0;
  std::uint64_t offset = begin;
  for (unsigned level = kMaxLevels; level-- > 0;) {
    const std::uint64_t width = std::uint64_t{1} << level;
    if ((n & width) == 0) continue;
    Result<Hash> node = reader.PerfectNode(level, offset >> level);
    if (!node.ok()) return node.status();
    pieces[count++] = *node;
    offset += width;
  }
  Hash acc = pieces[count - 1];
  for (unsigned i = count - 1; i-- > 0;) acc = NodeHash(pieces[i], acc);
  return acc;
}

Result<Hash> RootAt(const NodeReader& reader, std::uint64_t size) {
  return SubtreeHash(reader, 0, size);
}

Result<std::vector<Hash>> InclusionProof(const NodeReader& reader, std::uint64_t leaf_index,
                                         std::uint64_t tree_size) {
  if (leaf_index >= tree_size) {
    return OutOfRange("inclusion proof of leaf " + std::to_string(leaf_index) +
                      " in a tree of size " + std::to_string(tree_size));
  }
  // Descend from the root towards the leaf, collecting the sibling at each split;
  // the RFC lists them leaf first.
  std::vector<Hash> path;
  std::uint64_t begin = 0;
  std::uint64_t end = tree_size;
  while (end - begin > 1) {
    const std::uint64_t mid = begin + SplitPoint(end - begin);
    Result<Hash> sibling =
        leaf_index < mid ? SubtreeHash(reader, mid, end) : SubtreeHash(reader, begin, mid);
    if (!sibling.ok()) return sibling.status();
    path.push_back(*sibling);
    if (leaf_index < mid) {
      end = mid;
    } else {
      begin = mid;
    }
  }
  std::reverse(path.begin(), path.end());
  return path;
}

Result<std::vector<Hash>> ConsistencyProof(const NodeReader& reader, std::uint64_t old_size,
                                           std::uint64_t new_size) {
  if (old_size == 0 || old_size > new_size) {
    return OutOfRange("consistency proof from size " + std::to_string(old_size) + " to size " +
                      std::to_string(new_size));
  }
  // SUBPROOF(m, D[begin:end], whole) unrolled: old_size stays in (begin, end].
  std::vector<Hash> proof;
  std::uint64_t begin = 0;
  std::uint64_t end = new_size;
  bool whole = true;  // the RFC's b: [begin, end) still starts at leaf 0
  while (old_size != end) {
    const std::uint64_t mid = begin + SplitPoint(end - begin);
    Result<Hash> sibling =
        old_size <= mid ? SubtreeHash(reader, mid, end) : SubtreeHash(reader, begin, mid);
    if (!sibling.ok()) return sibling.status();
    proof.push_back(*sibling);
    if (old_size <= mid) {
      end = mid;
    } else {
      begin = mid;
      whole = false;
    }
  }
  if (!whole) {
    Result<Hash> last = SubtreeHash(reader, begin, end);
    if (!last.ok()) return last.status();
    proof.push_back(*last);
  }
  std::reverse(proof.begin(), proof.end());
  return proof;
}

bool VerifyInclusion(const Hash& leaf_hash, std::uint64_t leaf_index, std::uint64_t tree_size,
                     std::span<const Hash> proof, const Hash& root) {
  if (leaf_index >= tree_size) return false;
  std::uint64_t fn = leaf_index;
  std::uint64_t sn = tree_size - 1;
  Hash r = leaf_hash;
  for (const Hash& p : proof) {
    if (sn == 0) return false;
    if (IsOdd(fn) || fn == sn) {
      r = NodeHash(p, r);
      while (!IsOdd(fn) && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = NodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}

bool VerifyConsistency(std::uint64_t old_size, std::uint64_t new_size, const Hash& old_root,
                       const Hash& new_root, std::span<const Hash> proof) {
  if (old_size > new_size) return false;
  if (old_size == 0) {
    return proof.empty() && old_root == EmptyRoot() && (new_size != 0 || new_root == EmptyRoot());
  }
  if (old_size == new_size) return proof.empty() && old_root == new_root;
  if (proof.empty()) return false;

  // A power-of-two old tree is itself a node of the new tree; the RFC omits it from
  // the proof and the verifier starts from old_root instead.
  const bool old_is_perfect = std::has_single_bit(old_size);
  std::size_t next = old_is_perfect ? 0 : 1;
  Hash fr = old_is_perfect ? old_root : proof[0];
  Hash sr = fr;
  std::uint64_t fn = old_size - 1;
  std::uint64_t sn = new_size - 1;
  while (IsOdd(fn)) {
    fn >>= 1;
    sn >>= 1;
  }
  for (; next < proof.size(); ++next) {
    const Hash& c = proof[next];
    if (sn == 0) return false;
    if (IsOdd(fn) || fn == sn) {
      fr = NodeHash(c, fr);
      sr = NodeHash(c, sr);
      while (!IsOdd(fn) && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = NodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && fr == old_root && sr == new_root;
}

Result<MerkleFrontier> MerkleFrontier::Load(const NodeReader& reader, std::uint64_t size) {
  MerkleFrontier frontier;
  std::uint64_t offset = 0;
  for (unsigned level = kMaxLevels; level-- > 0;) {
    const std::uint64_t width = std::uint64_t{1} << level;
    if ((size & width) == 0) continue;
    Result<Hash> node = reader.PerfectNode(level, offset >> level);
    if (!node.ok()) return node.status();
    frontier.peaks_.push_back(*node);
    offset += width;
  }
  frontier.size_ = size;
  return frontier;
}

Hash MerkleFrontier::Root() const {
  if (peaks_.empty()) return EmptyRoot();
  Hash acc = peaks_.back();
  for (std::size_t i = peaks_.size() - 1; i-- > 0;) acc = NodeHash(peaks_[i], acc);
  return acc;
}

void MerkleFrontier::Append(const Hash& leaf_hash, std::vector<PerfectNodeWrite>* out) {
  assert(size_ != std::numeric_limits<std::uint64_t>::max());
  const std::uint64_t leaf_index = size_;
  if (out != nullptr) out->push_back(PerfectNodeWrite{0, leaf_index, leaf_hash});
  // Like a binary increment: each set low bit of the old size is a peak of the same
  // width that the new node completes into a parent one level up.
  Hash carry = leaf_hash;
  unsigned level = 0;
  while (((leaf_index >> level) & 1) != 0) {
    carry = NodeHash(peaks_.back(), carry);
    peaks_.pop_back();
    ++level;
    if (out != nullptr) out->push_back(PerfectNodeWrite{level, leaf_index >> level, carry});
  }
  peaks_.push_back(carry);
  ++size_;
}

std::array<std::uint8_t, 9> MerkleNodeKey(unsigned level, std::uint64_t index) {
  assert(level < kMaxLevels);
  std::array<std::uint8_t, 9> key;
  key[0] = static_cast<std::uint8_t>(level);
  for (int i = 0; i < 8; ++i) key[1 + i] = static_cast<std::uint8_t>(index >> (56 - 8 * i));
  return key;
}

}  // namespace authledger::storage
