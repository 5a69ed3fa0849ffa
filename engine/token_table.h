// TokenTable: the engine's hot store of tokens — one compact record per token in a
// vector, found by public prefix through an open-addressing index of 4-byte slots.
//
// A check derives the prefix from the presented secret, finds the record here, and
// compares SHA-256(secret) with the stored digest in constant time, so one index
// serves both the public id and the secret. Records are never removed (revocation is a
// flag), so record indexes are stable for the life of the state.
//
// Thread-safety: a value; readers may share a const table, writers need exclusion.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "storage/hash.h"

namespace authledger::internal {

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
  std::array<char, kMax + 1> chars_{};
};

enum class TokenKind : std::uint8_t { kSession, kPersonal, kApplication };

struct TokenRecord {
  storage::Hash secret_hash{};
  Prefix prefix;
  TokenKind kind = TokenKind::kSession;
  bool two_factor_used = false;
  bool extend_when_used = false;
  bool revoked = false;
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

class TokenTable {
 public:
  std::size_t size() const { return records_.size(); }
  const TokenRecord& at(Idx i) const { return records_[i]; }
  TokenRecord& at(Idx i) { return records_[i]; }
  const std::vector<TokenRecord>& records() const { return records_; }

  Idx Find(std::string_view prefix) const {
    if (slots_.empty()) return kNoIdx;
    std::size_t mask = slots_.size() - 1;
    for (std::size_t i = HashOf(prefix) & mask;; i = (i + 1) & mask) {
      Idx r = slots_[i];
      if (r == kNoIdx) return kNoIdx;
      if (records_[r].prefix.view() == prefix) return r;
    }
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

  friend bool operator==(const TokenTable& a, const TokenTable& b) {
    return a.records_ == b.records_;
  }

 private:
  static std::size_t HashOf(std::string_view s) {
    // FNV-1a: prefixes are random, so any decent mix spreads them.
    std::uint64_t h = 1469598103934665603ull;
    for (char c : s) h = (h ^ static_cast<std::uint8_t>(c)) * 1099511628211ull;
    return static_cast<std::size_t>(h ^ (h >> 29));
  }
  void Insert(Idx index) {
    std::size_t mask = slots_.size() - 1;
    for (std::size_t i = HashOf(records_[index].prefix.view()) & mask;; i = (i + 1) & mask) {
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

  std::vector<TokenRecord> records_;
  std::vector<Idx> slots_;  // power-of-two size, load ≤ 3/4
};

}  // namespace authledger::internal
