// IdIndex: where each element of a vector is, by its string id. The State finds its
// users and organizations with one each; the ids live in the elements, the index holds
// only positions.
//
// Open addressing over 8-byte slots, each an element's position and 32 bits of its id's
// hash (the tag), at most 3/4 full. A lookup reads the slots from the tag's home on and
// reads an element only where a tag matches, which is almost always the element looked
// for, and the caller reads it next anyway. A node-based map (std::unordered_map) takes
// three dependent cache misses instead (bucket, node, key) among 100k users. With no
// chain to follow, a fold can also prefetch the home slot some events ahead, then the
// element it names (PrefetchSlot, then PrefetchElement).
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "engine/token_table.h"

namespace authledger::internal {

// A hash for short ids (organizations, users, domains, methods), also usable by unordered
// maps keyed by std::string that are searched with a std::string_view.
//
// Inline, 8 bytes at a time, finishing with two overlapping loads: about 3 ns for an id
// like "org1234" against 8 ns for std::hash (libstdc++'s out-of-line _Hash_bytes), 13 ns
// less per lookup among 10k organizations (release build, here).
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    constexpr std::uint64_t kMul = 0x9ddfea08eb382d69ull;
    auto mix = [](std::uint64_t h, std::uint64_t w) {
      h = (h ^ w) * kMul;
      return h ^ (h >> 47);
    };
    const char* p = s.data();
    std::size_t n = s.size();
    std::uint64_t h = (n + 1) * kMul;
    for (; n > 8; p += 8, n -= 8) h = mix(h, Load<std::uint64_t>(p));
    // The last 1–8 bytes, each read at least once: for a given length the loads cover
    // every byte, so distinct tails give distinct words.
    std::uint64_t tail = 0;
    if (n >= 4) {
      tail = std::uint64_t{Load<std::uint32_t>(p)} << 32 | Load<std::uint32_t>(p + n - 4);
    } else if (n > 0) {
      tail = std::uint64_t{static_cast<unsigned char>(p[0])} << 16 |
             std::uint64_t{static_cast<unsigned char>(p[n / 2])} << 8 |
             static_cast<unsigned char>(p[n - 1]);
    }
    return static_cast<std::size_t>(mix(mix(h, tail), 0) * kMul);
  }

 private:
  template <typename T>
  static T Load(const char* p) {
    T v;
    std::memcpy(&v, p, sizeof(v));
    return v;
  }
};

class IdIndex {
 public:
  static std::uint32_t TagOf(std::string_view id) {
    return static_cast<std::uint32_t>(StringHash{}(id));
  }

  std::size_t size() const { return size_; }

  // The position of the element whose id is `id` (tag TagOf(id)), or kNoIdx; id_of(i)
  // is the id of element i.
  template <typename IdOf>
  Idx Find(std::string_view id, std::uint32_t tag, IdOf id_of) const {
    if (slots_.empty()) return kNoIdx;
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = tag & mask;; i = (i + 1) & mask) {
      const Slot& slot = slots_[i];
      if (slot.index == kNoIdx) return kNoIdx;
      if (slot.tag == tag && id_of(slot.index) == id) return slot.index;
    }
  }

  // Adds element `index`, whose id (tag `tag`) is not present.
  void Insert(std::uint32_t tag, Idx index) {
    if ((size_ + 1) * 4 > slots_.size() * 3) Grow();
    Place({index, tag});
    ++size_;
  }

  // Hints that change nothing, for a caller about to Find an id of tag `tag`: first its
  // home slot, then, once that has had time to arrive, the element the home slot names
  // (prefetch(i) is given its position). Always inlined (see TokenTable::PrefetchSlot).
  [[gnu::always_inline]] void PrefetchSlot(std::uint32_t tag) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[tag & (slots_.size() - 1)]);
  }
  template <typename Prefetch>
  [[gnu::always_inline]] void PrefetchElement(std::uint32_t tag, Prefetch prefetch) const {
    if (slots_.empty()) return;
    const Slot& home = slots_[tag & (slots_.size() - 1)];
    if (home.index != kNoIdx && home.tag == tag) prefetch(home.index);
  }

  // The same positions under the same tags, wherever the slots put them (an index is
  // derived from its vector: two equal vectors indexed in different orders compare
  // equal).
  friend bool operator==(const IdIndex& a, const IdIndex& b) {
    if (a.size_ != b.size_) return false;
    for (const Slot& s : a.slots_) {
      if (s.index != kNoIdx && !b.Holds(s)) return false;
    }
    return true;
  }

 private:
  struct Slot {
    Idx index = kNoIdx;
    std::uint32_t tag = 0;
  };

  bool Holds(const Slot& wanted) const {
    if (slots_.empty()) return false;
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = wanted.tag & mask;; i = (i + 1) & mask) {
      if (slots_[i].index == kNoIdx) return false;
      if (slots_[i].index == wanted.index) return slots_[i].tag == wanted.tag;
    }
  }
  void Place(Slot slot) {
    const std::size_t mask = slots_.size() - 1;
    std::size_t i = slot.tag & mask;
    while (slots_[i].index != kNoIdx) i = (i + 1) & mask;
    slots_[i] = slot;
  }
  void Grow() {
    std::vector<Slot> old(slots_.empty() ? 16 : slots_.size() * 2);
    old.swap(slots_);
    for (const Slot& s : old) {
      if (s.index != kNoIdx) Place(s);
    }
  }

  std::vector<Slot> slots_;
  std::size_t size_ = 0;
};

}  // namespace authledger::internal
