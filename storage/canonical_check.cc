#include "storage/canonical_check.h"

#include <bit>
#include <cstdint>
#include <cstring>

namespace authledger::storage {

namespace {

static_assert(std::endian::native == std::endian::little,
              "the check reads Cap'n Proto's little-endian words in place");

// Pointer kinds and list element sizes of the encoding.
constexpr std::uint32_t kStruct = 0;
constexpr std::uint32_t kList = 1;
constexpr std::uint32_t kVoid = 0;
constexpr std::uint32_t kPointerList = 6;
constexpr std::uint32_t kInlineComposite = 7;
constexpr std::uint64_t kBitsPerElement[] = {0, 1, 8, 16, 32, 64};

class Walk {
 public:
  Walk(std::span<const capnp::word> words, unsigned max_depth)
      : words_(reinterpret_cast<const unsigned char*>(words.data())),
        size_(words.size()),
        max_depth_(max_depth) {}

  bool Message() {
    if (size_ == 0 || Word(0) == 0) return false;
    std::uint64_t head = 1;
    return Pointer(0, head, 0) && head == size_;
  }

 private:
  std::uint64_t Word(std::uint64_t i) const {
    std::uint64_t w;
    std::memcpy(&w, words_ + i * 8, 8);
    return w;
  }
  // The word a positional pointer at `at` points to (may lie outside the message).
  static std::int64_t Target(std::uint64_t at, std::uint64_t pointer) {
    const auto offset = static_cast<std::int32_t>(static_cast<std::uint32_t>(pointer)) >> 2;
    return static_cast<std::int64_t>(at) + 1 + offset;
  }
  // Whether [from, from + count) lies in the message.
  bool Within(std::int64_t from, std::uint64_t count) const {
    return from >= 0 && static_cast<std::uint64_t>(from) <= size_ &&
           count <= size_ - static_cast<std::uint64_t>(from);
  }

  // The pointer at word `at`; `head` is where the next object must start.
  bool Pointer(std::uint64_t at, std::uint64_t& head, unsigned depth) {
    const std::uint64_t p = Word(at);
    if (p == 0) return true;
    if (depth >= max_depth_) return false;
    const std::uint32_t upper = static_cast<std::uint32_t>(p >> 32);
    const std::int64_t target = Target(at, p);
    switch (static_cast<std::uint32_t>(p) & 3) {
      case kStruct: {
        const std::uint64_t data = upper & 0xffff, pointers = upper >> 16;
        // An empty struct is pointed to as if it lay just before its pointer.
        if (data == 0 && pointers == 0) return target == static_cast<std::int64_t>(at);
        if (target != static_cast<std::int64_t>(head) || !Within(target, data + pointers)) {
          return false;
        }
        const auto start = static_cast<std::uint64_t>(target);
        if ((data > 0 && Word(start + data - 1) == 0) ||
            (pointers > 0 && Word(start + data + pointers - 1) == 0)) {
          return false;  // not truncated
        }
        head = start + data + pointers;
        for (std::uint64_t i = 0; i < pointers; ++i) {
          if (!Pointer(start + data + i, head, depth + 1)) return false;
        }
        return true;
      }
      case kList:
        return List(target, upper & 7, upper >> 3, head, depth);
      default:
        return false;  // far and capability pointers: never in a canonical message
    }
  }

  bool List(std::int64_t target, std::uint32_t size, std::uint64_t count, std::uint64_t& head,
            unsigned depth) {
    if (target != static_cast<std::int64_t>(head)) return false;
    const auto start = static_cast<std::uint64_t>(target);
    if (size == kInlineComposite) {
      // `count` is the words of the elements, after a tag word shaped as a struct pointer
      // whose offset field is the element count.
      if (!Within(target, 1 + count)) return false;
      const std::uint64_t tag = Word(start);
      if ((tag & 3) != kStruct) return false;
      const std::uint64_t elements = static_cast<std::uint32_t>(tag) >> 2;
      const std::uint64_t data = (tag >> 32) & 0xffff, pointers = tag >> 48;
      const std::uint64_t element_words = data + pointers;
      if (element_words * elements != count) return false;
      head = start + 1 + count;
      // Zero-sized elements: canonical when there are none (many make a read count each
      // one). Sized ones: the sizes are those of the largest element, so there is one.
      if (element_words == 0) return elements == 0;
      if (elements == 0) return false;
      bool data_truncated = data == 0, pointers_truncated = pointers == 0;
      for (std::uint64_t e = 0; e < elements; ++e) {
        const std::uint64_t element = start + 1 + e * element_words;
        if (data > 0 && Word(element + data - 1) != 0) data_truncated = true;
        if (pointers > 0 && Word(element + element_words - 1) != 0) pointers_truncated = true;
        for (std::uint64_t i = 0; i < pointers; ++i) {
          if (!Pointer(element + data + i, head, depth + 1)) return false;
        }
      }
      return data_truncated && pointers_truncated;
    }
    if (size == kPointerList) {
      if (!Within(target, count)) return false;
      head = start + count;
      for (std::uint64_t i = 0; i < count; ++i) {
        if (!Pointer(start + i, head, depth + 1)) return false;
      }
      return true;
    }
    if (size == kVoid) return count == 0;  // reads count per element
    const std::uint64_t bits = count * kBitsPerElement[size];
    const std::uint64_t words = (bits + 63) / 64;
    if (!Within(target, words)) return false;
    // The padding after the last element, up to the end of its word, is zero.
    const unsigned char* byte = words_ + start * 8 + bits / 8;
    const unsigned char* end = words_ + (start + words) * 8;
    if (bits % 8 != 0 && (*byte++ >> (bits % 8)) != 0) return false;
    for (; byte != end; ++byte) {
      if (*byte != 0) return false;
    }
    head = start + words;
    return true;
  }

  const unsigned char* words_;
  std::uint64_t size_;
  unsigned max_depth_;
};

}  // namespace

bool IsPlainCanonical(std::span<const capnp::word> words, unsigned max_depth) {
  return Walk(words, max_depth).Message();
}

}  // namespace authledger::storage
