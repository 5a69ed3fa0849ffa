// IdxList: a short list of indexes (a user's organizations) whose first four are held in
// place, in the 24 bytes a std::vector takes, and the rest on the heap.
//
// A check reads a user's memberships right after the user: in place, they arrive with
// the user's own cache line, where a vector's elements would be one more cache miss
// (among 100k users, most members of one to three organizations).
//
// Thread-safety: a value.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>

#include "engine/token_table.h"

namespace authledger::internal {

class IdxList {
 public:
  static constexpr std::uint32_t kInPlace = 4;

  IdxList() = default;
  IdxList(std::initializer_list<Idx> items) {
    for (Idx i : items) push_back(i);
  }
  IdxList(const IdxList& other) { CopyFrom(other); }
  IdxList& operator=(const IdxList& other) {
    if (this != &other) {
      Free();
      CopyFrom(other);
    }
    return *this;
  }
  IdxList(IdxList&& other) noexcept { TakeFrom(other); }
  IdxList& operator=(IdxList&& other) noexcept {
    if (this != &other) {
      Free();
      TakeFrom(other);
    }
    return *this;
  }
  ~IdxList() { Free(); }

  const Idx* begin() const { return data(); }
  const Idx* end() const { return data() + size_; }
  Idx* begin() { return data(); }
  Idx* end() { return data() + size_; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  Idx operator[](std::size_t i) const { return data()[i]; }

  void push_back(Idx value) { insert(end(), value); }
  // Inserts `value` before `pos` (a pointer into this list); returns where it went.
  Idx* insert(const Idx* pos, Idx value) {
    const std::size_t at = static_cast<std::size_t>(pos - begin());
    if (size_ == capacity_) Grow();
    Idx* items = data();
    std::memmove(items + at + 1, items + at, (size_ - at) * sizeof(Idx));
    items[at] = value;
    ++size_;
    return items + at;
  }
  // Removes the element at `pos`; returns what follows it.
  Idx* erase(const Idx* pos) {
    const std::size_t at = static_cast<std::size_t>(pos - begin());
    Idx* items = data();
    std::memmove(items + at, items + at + 1, (size_ - at - 1) * sizeof(Idx));
    --size_;
    return items + at;
  }

  friend bool operator==(const IdxList& a, const IdxList& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }

 private:
  bool OnHeap() const { return capacity_ > kInPlace; }
  const Idx* data() const { return OnHeap() ? heap_ : in_place_; }
  Idx* data() { return OnHeap() ? heap_ : in_place_; }

  void Grow() {
    const std::uint32_t capacity = capacity_ * 2;
    auto items = std::make_unique<Idx[]>(capacity);
    std::copy(begin(), end(), items.get());
    Free();
    heap_ = items.release();
    capacity_ = capacity;
  }
  void Free() {
    if (OnHeap()) delete[] heap_;
    capacity_ = kInPlace;
  }
  void CopyFrom(const IdxList& other) {
    size_ = 0;
    if (other.OnHeap()) {
      heap_ = new Idx[other.capacity_];
      capacity_ = other.capacity_;
    }
    std::copy(other.begin(), other.end(), data());
    size_ = other.size_;
  }
  void TakeFrom(IdxList& other) {
    size_ = other.size_;
    capacity_ = other.capacity_;
    if (other.OnHeap()) {
      heap_ = other.heap_;
    } else {
      std::copy(other.in_place_, other.in_place_ + other.size_, in_place_);
    }
    other.size_ = 0;
    other.capacity_ = kInPlace;
  }

  std::uint32_t size_ = 0;
  std::uint32_t capacity_ = kInPlace;
  union {
    Idx in_place_[kInPlace] = {};
    Idx* heap_;
  };
};

}  // namespace authledger::internal
