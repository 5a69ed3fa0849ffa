// The RFC 6962 / RFC 9162 Merkle tree over the event log: hashing, proofs, verifiers.
//
// Leaf i is SHA-256(0x00 ‖ event i), an inner node SHA-256(0x01 ‖ left ‖ right). The log
// stores only "perfect" nodes: node (level L, index i) is the root of the complete
// subtree over leaves [i·2^L, (i+1)·2^L); level 0 holds the leaf hashes. Every other
// hash (the root of any size, the siblings in a proof) is folded from at most 64 of
// them, so the tree of every past size stays answerable without storing its root.
//
// Provers (RootAt, InclusionProof, ConsistencyProof) read perfect nodes through a
// NodeReader; verifiers (VerifyInclusion, VerifyConsistency) take only hashes and are
// what an auditor runs against a checkpoint it kept. The verifiers are the security
// boundary: they accept a proof only if it is exactly the one RFC 9162 defines.
//
// Thread-safety: the free functions are safe from any threads as long as the
// NodeReader they are given is. A MerkleFrontier is a value with no synchronization:
// one writer mutates it; copies may be read elsewhere.
#pragma once

#include <authledger/status.h>

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "storage/hash.h"

namespace authledger::storage {

// Hash of a leaf: SHA-256(0x00 ‖ data).
Hash LeafHash(std::span<const std::uint8_t> data);
// Hash of an inner node: SHA-256(0x01 ‖ left ‖ right).
Hash NodeHash(const Hash& left, const Hash& right);
// Root of the empty tree: SHA-256 of the empty string.
Hash EmptyRoot();

// Where perfect nodes are read from. The event log implements it over its `merkle`
// column family; tests implement it in memory. A node that was never written must
// yield a non-OK status (typically NotFound), never a made-up hash.
class NodeReader {
 public:
  virtual ~NodeReader() = default;
  virtual Result<Hash> PerfectNode(unsigned level, std::uint64_t index) const = 0;
};

// MTH of the first `size` leaves: one read per set bit of `size`. EmptyRoot() for 0.
Result<Hash> RootAt(const NodeReader& reader, std::uint64_t size);

// MTH of leaves [begin, end). The range must be one that RFC 6962 proofs use: `begin`
// a multiple of a power of two at least `end - begin` (a perfect aligned subtree, or
// the right edge of a tree). Other ranges are refused with InvalidArgument
// "subtree_range_unaligned" instead of being computed at unbounded cost.
Result<Hash> SubtreeHash(const NodeReader& reader, std::uint64_t begin, std::uint64_t end);

// The provers read at most 127 nodes: every sibling is a perfect node except at most
// one incomplete right edge.
//
// PATH(leaf_index, D[tree_size]) of RFC 6962 §2.1.1, leaf to root. InvalidArgument
// "proof_out_of_range" unless leaf_index < tree_size. The caller ensures tree_size
// does not exceed what the reader holds.
Result<std::vector<Hash>> InclusionProof(const NodeReader& reader, std::uint64_t leaf_index,
                                         std::uint64_t tree_size);

// PROOF(old_size, D[new_size]) of RFC 6962 §2.1.2. InvalidArgument "proof_out_of_range"
// unless 0 < old_size <= new_size; empty when old_size == new_size.
Result<std::vector<Hash>> ConsistencyProof(const NodeReader& reader, std::uint64_t old_size,
                                           std::uint64_t new_size);

// RFC 9162 §2.1.3.2: true iff `proof` proves that `leaf_hash` is leaf `leaf_index` of
// the tree of `tree_size` leaves whose root is `root`.
bool VerifyInclusion(const Hash& leaf_hash, std::uint64_t leaf_index, std::uint64_t tree_size,
                     std::span<const Hash> proof, const Hash& root);

// RFC 9162 §2.1.4.2: true iff `proof` proves that the tree of `old_size` leaves with
// root `old_root` is a prefix of the tree of `new_size` leaves with root `new_root`.
// Beyond the RFC's 0 < old_size < new_size: equal sizes need an empty proof and equal
// roots; old_size 0 needs an empty proof and old_root == EmptyRoot() (and new_root ==
// EmptyRoot() when new_size is 0 too); old_size > new_size is always false.
bool VerifyConsistency(std::uint64_t old_size, std::uint64_t new_size, const Hash& old_root,
                       const Hash& new_root, std::span<const Hash> proof);

// A perfect node completed by an append, to be stored under MerkleNodeKey(level, index).
struct PerfectNodeWrite {
  unsigned level;
  std::uint64_t index;
  Hash hash;
};

// The writer's incremental view of the tree: the roots of the perfect subtrees that
// make up the current size (one per set bit, largest first), enough to compute the
// root and every node the next leaf completes.
class MerkleFrontier {
 public:
  // The empty tree.
  MerkleFrontier() = default;

  // The frontier of the tree of `size` leaves, read from stored perfect nodes.
  static Result<MerkleFrontier> Load(const NodeReader& reader, std::uint64_t size);

  std::uint64_t size() const { return size_; }

  // MTH of every leaf appended so far; EmptyRoot() when there is none.
  Hash Root() const;

  // Appends leaf number size(). Adds to `out` (if not null) the leaf itself at level 0
  // and every parent it completes, lowest level first, so that the caller stores them
  // in the same batch as the event. REQUIRE: size() < 2^64 - 1.
  void Append(const Hash& leaf_hash, std::vector<PerfectNodeWrite>* out);

 private:
  std::uint64_t size_ = 0;
  std::vector<Hash> peaks_;  // largest subtree first
};

// Key of a perfect node in the `merkle` column family: the level in one byte, then the
// index as 8 bytes big-endian, so that a level's nodes sort by index. REQUIRE: level < 64.
std::array<std::uint8_t, 9> MerkleNodeKey(unsigned level, std::uint64_t index);

}  // namespace authledger::storage
