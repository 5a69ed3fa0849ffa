// TokenTable: the engine's hot store of tokens — one compact record per token in a
// vector, found by public prefix through an open-addressing index of 4-byte slots.
//
// A check derives the prefix from the presented secret, finds the record here, and
// compares SHA-256(secret) with the stored digest in constant time, so one index
// serves both the public id and the secret. Records are never removed (revocation is a
// flag), so record indexes are stable for the life of the state.
//
// Snapshots store the records as their raw bytes and load them back by memcpy (see
// engine/snapshot.h), so TokenRecord has no implicit padding and a fixed layout.
//
// Thread-safety: a value; readers may share a const table, writers need exclusion.
// TokenTable::IndexBuilder::Add may run on several threads at once (see there).
#pragma once

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cassert>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "storage/hash.h"

namespace authledger::internal {

// The allocator of the token table's large arrays (records, index slots).
//
// Blocks of 2 MiB or more are 2 MiB-aligned and advised to use transparent huge pages:
// a check's random probe into a GiB of records then misses the TLB less, and filling
// the array (loading a snapshot) takes 512 times fewer page faults, which on a
// virtualized host cost more than the copy itself.
//
// Constructing an element without arguments leaves it uninitialized, so that
// `resize(n)` only allocates and the caller's memcpy is the first write to each page.
// Only for implicit-lifetime types whose every new element the caller overwrites.
template <typename T>
class BulkAllocator {
 public:
  using value_type = T;
  static constexpr std::size_t kHugePage = std::size_t{2} << 20;

  BulkAllocator() = default;
  template <typename U>
  BulkAllocator(const BulkAllocator<U>&) noexcept {}  // NOLINT(google-explicit-constructor)

  T* allocate(std::size_t n) {
    const std::size_t bytes = n * sizeof(T);
    if (bytes < kHugePage) return std::allocator<T>().allocate(n);
    const std::size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    void* p = std::aligned_alloc(kHugePage, rounded);
    if (p == nullptr) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    static_cast<void>(::madvise(p, rounded, MADV_HUGEPAGE));  // advice only
#endif
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t n) noexcept {
    if (n * sizeof(T) < kHugePage) {
      std::allocator<T>().deallocate(p, n);
    } else {
      std::free(p);
    }
  }

  template <typename U>
  void construct(U* /*p*/) noexcept {
    static_assert(std::is_trivially_copyable_v<U> && std::is_trivially_destructible_v<U>);
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }

  friend bool operator==(const BulkAllocator&, const BulkAllocator&) noexcept { return true; }
};

using Idx = std::uint32_t;
inline constexpr Idx kNoIdx = 0xffffffffu;

// A token prefix: at most 15 characters, stored inline and NUL-terminated.
class Prefix {
 public:
  static constexpr std::size_t kMax = 15;
  Prefix() = default;
  explicit Prefix(std::string_view s) {
    std::memcpy(chars_.data(), s.data(), s.size() < kMax ? s.size() : kMax);
  }
  std::string_view view() const { return {chars_.data(), std::strlen(chars_.data())}; }
  const char* c_str() const { return chars_.data(); }
  std::string str() const { return std::string(view()); }
  friend bool operator==(const Prefix& a, const Prefix& b) { return a.view() == b.view(); }

 private:
  friend class PrefixKey;
  std::array<char, kMax + 1> chars_{};
};

// A prefix to look up, as two words, hashed and compared without strlen or memcmp.
//
// A record's prefix equals the key's n characters exactly when its first n + 1 bytes
// are those characters and its terminating NUL; whatever follows that NUL is not looked
// at. The words hold the characters and zeros after them, and the mask covers n + 1
// bytes, so one masked comparison of two words decides.
class PrefixKey {
 public:
  // A key for `prefix`, or an invalid one if no prefix can equal it (longer than
  // Prefix::kMax, or holding a NUL).
  explicit PrefixKey(std::string_view prefix) {
    static_assert(std::endian::native == std::endian::little, "byte i is bits 8i.. of a word");
    const std::size_t n = prefix.size();
    if (n > Prefix::kMax) return;
    std::uint64_t words[2] = {};
    if (n == Prefix::kMax) {
      // The usual case (a secret's prefix): two overlapping loads, the second shifted so
      // that it holds characters 8–14 and a zero.
      std::memcpy(&words[0], prefix.data(), 8);
      std::memcpy(&words[1], prefix.data() + 7, 8);
      words[1] >>= 8;
    } else {
      std::memcpy(words, prefix.data(), n);
    }
    // A NUL among the n characters: with the bytes after them set to 0xff, some byte of a
    // word is zero exactly when (x - 0x01…) & ~x & 0x80… is not.
    constexpr std::uint64_t kOnes = 0x0101010101010101ull;
    constexpr std::uint64_t kHighs = 0x8080808080808080ull;
    const std::uint64_t x0 = words[0] | ~FirstBytes(n);
    const std::uint64_t x1 = words[1] | ~FirstBytes(n - std::min<std::size_t>(n, 8));
    if ((((x0 - kOnes) & ~x0) | ((x1 - kOnes) & ~x1)) & kHighs) return;
    words_[0] = words[0];
    words_[1] = words[1];
    mask_[0] = FirstBytes(n + 1);
    mask_[1] = FirstBytes(n + 1 - std::min<std::size_t>(n + 1, 8));
  }
  // The key of a stored prefix (its bytes after the NUL ignored, as everywhere).
  explicit PrefixKey(const Prefix& prefix) : PrefixKey(prefix.view()) {}
  // An invalid key (Find finds nothing with it).
  PrefixKey() = default;

  bool valid() const { return mask_[0] != 0; }

  // The hash that places the prefix in the index (CityHash's 128-to-64 bit mix: prefixes
  // are mostly random, but all share "al?_" and test and benchmark ones are sequential).
  std::uint64_t Hash() const {
    constexpr std::uint64_t kMul = 0x9ddfea08eb382d69ull;
    std::uint64_t a = (words_[0] ^ words_[1]) * kMul;
    a ^= a >> 47;
    std::uint64_t b = (words_[1] ^ a) * kMul;
    b ^= b >> 47;
    return b * kMul;
  }

  bool Matches(const Prefix& p) const {
    std::uint64_t stored[2];
    std::memcpy(stored, p.chars_.data(), sizeof(stored));
    return (((stored[0] ^ words_[0]) & mask_[0]) | ((stored[1] ^ words_[1]) & mask_[1])) == 0;
  }

 private:
  // A word's first `n` bytes (all of them from 8 on).
  static constexpr std::uint64_t FirstBytes(std::size_t n) {
    return n >= 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8 * n)) - 1;
  }

  std::uint64_t words_[2] = {};
  std::uint64_t mask_[2] = {};  // all zero: invalid
};

enum class TokenKind : std::uint8_t { kSession, kPersonal, kApplication };

struct TokenRecord {
  storage::Hash secret_hash{};
  Prefix prefix;
  TokenKind kind = TokenKind::kSession;
  bool two_factor_used = false;
  bool extend_when_used = false;
  bool revoked = false;
  std::array<std::uint8_t, 4> padding{};  // explicit and zero: every stored byte is defined
  std::int64_t created_us = 0;
  std::int64_t expiry_time_us = 0;  // 0 = none
  std::int64_t last_used_us = 0;
  std::uint64_t created_seq = 0;
  Idx owner = kNoIdx;                 // user index
  Idx org = kNoIdx;                   // application tokens: org index
  Idx method = kNoIdx;                // interned method
  Idx ip_allowlist = 0;               // interned CIDR list; 0 = any address
  std::uint32_t max_age_seconds = 0;  // 0 = none
  Idx next_of_owner = kNoIdx;         // the owner's previous token (a list through records)

  friend bool operator==(const TokenRecord&, const TokenRecord&) = default;
};

using RecordVector = std::vector<TokenRecord, BulkAllocator<TokenRecord>>;

class TokenTable {
 public:
  class IndexBuilder;

  std::size_t size() const { return records_.size(); }
  const TokenRecord& at(Idx i) const { return records_[i]; }
  TokenRecord& at(Idx i) { return records_[i]; }
  const RecordVector& records() const { return records_; }

  Idx Find(std::string_view prefix) const { return Find(PrefixKey(prefix)); }
  Idx Find(const PrefixKey& key) const { return Find(key, key.Hash()); }
  // As Find(key), given `hash` == key.Hash() (a caller that prefetched has it already).
  Idx Find(const PrefixKey& key, std::uint64_t hash) const {
    if (slots_.empty() || !key.valid()) return kNoIdx;
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
      const Idx r = slots_[i];
      if (r == kNoIdx) return kNoIdx;
      if (key.Matches(records_[r].prefix)) return r;
    }
  }

  // Hints for a caller about to Find a key whose PrefixKey::Hash() is `hash`, which
  // change nothing: first the key's home slot, then, once that has had time to arrive,
  // the records of the home slot and the next (at most load 3/4, a Find compares one or
  // two records in most cases): the line of each one's prefix, which Find compares, and
  // of the first one's times, which a token use updates (a record spans two lines or
  // three). Always inlined: GCC takes a function that only loads and prefetches for a
  // pure one, and drops calls to it as results unused.
  [[gnu::always_inline]] void PrefetchSlot(std::uint64_t hash) const {
    if (slots_.empty()) return;
    __builtin_prefetch(&slots_[hash & (slots_.size() - 1)]);
  }
  [[gnu::always_inline]] void PrefetchRecord(std::uint64_t hash) const {
    if (slots_.empty()) return;
    const std::size_t mask = slots_.size() - 1;
    const std::size_t home = hash & mask;
    const Idx r = slots_[home];
    if (r == kNoIdx) return;
    __builtin_prefetch(&records_[r].prefix);
    __builtin_prefetch(&records_[r].last_used_us, 1);
    const Idx next = slots_[(home + 1) & mask];
    if (next != kNoIdx) __builtin_prefetch(&records_[next].prefix);
  }

  // Adds a record whose prefix is not present; returns its index.
  Idx Add(const TokenRecord& record) {
    if ((records_.size() + 1) * 4 > slots_.size() * 3) Grow();
    Idx index = static_cast<Idx>(records_.size());
    records_.push_back(record);
    Insert(index);
    return index;
  }

  void Reserve(std::size_t n) {
    records_.reserve(n);
    while (n * 4 > slots_.size() * 3) Grow();
  }

  // Replaces the table's contents with `records`, found through `index`, which was built
  // over exactly these records (a snapshot load; see IndexBuilder).
  void Adopt(RecordVector records, IndexBuilder index);

  friend bool operator==(const TokenTable& a, const TokenTable& b) {
    return a.records_ == b.records_;
  }

 private:
  static std::uint64_t HashOf(const Prefix& p) { return PrefixKey(p).Hash(); }
  static std::size_t SlotsFor(std::size_t n) {
    std::size_t slots = 16;
    while (n * 4 > slots * 3) slots *= 2;
    return slots;
  }
  void Insert(Idx index) {
    std::size_t mask = slots_.size() - 1;
    for (std::size_t i = HashOf(records_[index].prefix) & mask;; i = (i + 1) & mask) {
      if (slots_[i] == kNoIdx) {
        slots_[i] = index;
        return;
      }
    }
  }
  void Grow() {
    slots_.assign(slots_.empty() ? 16 : slots_.size() * 2, kNoIdx);
    for (Idx i = 0; i < records_.size(); ++i) Insert(i);
  }

  RecordVector records_;
  std::vector<Idx, BulkAllocator<Idx>> slots_;  // power-of-two size, load ≤ 3/4
};

// Builds the index of a whole vector of records on several threads at once, for loading
// a snapshot: rebuilding it (about one cache miss per record) costs no more than
// proving a stored index right would, and it finds duplicate prefixes on the way.
//
// Slots are claimed by compare-and-swap, so threads may insert disjoint ranges of
// records concurrently. While building, the high bits of a slot that record indexes do
// not need (8 of 32 at 10M records) hold bits of the record's hash, so that probing
// past other records reads them only when those bits match; Adopt clears them. Homes
// are prefetched a batch ahead, so that a thread waits for several cache misses at once.
// The result is a valid linear-probing index (a record's slot may differ from a
// one-thread build's, but Find answers the same).
//
// Thread-safety: Clear and then Add may each be called from several threads at once,
// for disjoint parts; every Clear must finish before any Add starts. A record must be
// written before the Add that indexes it (by the same thread, or one that synchronized
// with it), and not change afterwards: other threads read it once it is indexed.
class TokenTable::IndexBuilder {
 public:
  // `records` are indexed by reference and must outlive the builder; fewer than kNoIdx
  // of them, each prefix NUL-terminated (the caller validated them).
  explicit IndexBuilder(const RecordVector& records)
      : records_(records.data()),
        size_(records.size()),
        index_mask_(IndexMask(records.size())),
        slots_(records.empty() ? 0 : SlotsFor(records.size())) {}  // uninitialized until Clear

  // Empties part `part` of `parts` equal parts of the index (each thread its own, so
  // that the first writes to the new memory are shared).
  void Clear(unsigned part, unsigned parts) {
    std::fill(slots_.data() + slots_.size() * part / parts,
              slots_.data() + slots_.size() * (part + 1) / parts, kNoIdx);
  }

  // Indexes records [first, last). False if one of them has the prefix of a record
  // already indexed (by any thread): the records are then no valid table.
  bool Add(Idx first, Idx last) {
    constexpr Idx kBatch = 16;
    const std::size_t mask = slots_.size() - 1;
    std::size_t homes[kBatch];
    Idx entries[kBatch];
    for (std::uint64_t base = first; base < last; base += kBatch) {
      const auto count = static_cast<Idx>(std::min<std::uint64_t>(kBatch, last - base));
      for (Idx k = 0; k < count; ++k) {
        const auto r = static_cast<Idx>(base + k);
        const std::uint64_t h = HashOf(records_[r].prefix);
        homes[k] = static_cast<std::size_t>(h & mask);
        entries[k] = (static_cast<Idx>(h >> 32) & ~index_mask_) | r;
        __builtin_prefetch(&slots_[homes[k]], 1);
      }
      for (Idx k = 0; k < count; ++k) {
        if (!Insert(entries[k], homes[k])) return false;
      }
    }
    return true;
  }

 private:
  friend class TokenTable;

  // The bits that hold indexes 0..n-1. Their pattern for n-1 is never all ones, so
  // neither is an entry: none is taken for kNoIdx.
  static Idx IndexMask(std::size_t n) {
    const auto bits = static_cast<unsigned>(std::bit_width(n));
    return bits >= 32 ? kNoIdx : (Idx{1} << bits) - 1;
  }

  bool Insert(Idx entry, std::size_t home) {
    const std::size_t mask = slots_.size() - 1;
    const std::string_view prefix = records_[entry & index_mask_].prefix.view();
    for (std::size_t i = home;; i = (i + 1) & mask) {
      std::atomic_ref<Idx> slot(slots_[i]);
      // Acquire and release pair each record's bytes with its slot, for the threads
      // that compare prefixes while other threads are still copying records in.
      Idx seen = slot.load(std::memory_order_acquire);
      // On a lost race `seen` becomes the winner, compared like any other occupant.
      if (seen == kNoIdx && slot.compare_exchange_strong(seen, entry, std::memory_order_acq_rel,
                                                         std::memory_order_acquire)) {
        return true;
      }
      if (((seen ^ entry) & ~index_mask_) == 0 &&
          records_[seen & index_mask_].prefix.view() == prefix) {
        return false;
      }
    }
  }

  const TokenRecord* records_;
  std::size_t size_;
  Idx index_mask_;
  std::vector<Idx, BulkAllocator<Idx>> slots_;  // hash bits | record, or kNoIdx
};

inline void TokenTable::Adopt(RecordVector records, IndexBuilder index) {
  assert(index.records_ == records.data() && index.size_ == records.size());
  for (Idx& slot : index.slots_) {
    if (slot != kNoIdx) slot &= index.index_mask_;
  }
  records_ = std::move(records);
  slots_ = std::move(index.slots_);
}

}  // namespace authledger::internal
