#include "engine/token_secret.h"

#include <openssl/rand.h>

#include <array>
#include <cstdint>
#include <cstring>

namespace authledger::internal {

namespace {

constexpr std::size_t kPrefixLength = Prefix::kMax;
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Base64Url(const std::array<unsigned char, 32>& bytes) {
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (unsigned char b : bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 0x3f]);
  return out;
}

}  // namespace

Result<NewSecret> GenerateSecret(TokenKind kind) {
  std::array<unsigned char, 32> random{};
  if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
    return Status::Unavailable("random_unavailable", "the CSPRNG could not provide random bytes");
  }
  char letter = kind == TokenKind::kSession ? 's' : kind == TokenKind::kPersonal ? 'p' : 'a';
  NewSecret out;
  out.secret = std::string("al") + letter + "_" + Base64Url(random);
  out.id.prefix = std::string(PrefixOfSecret(out.secret));
  out.id.secret_hash = storage::Sha256(out.secret);
  return out;
}

std::string_view PrefixOfSecret(std::string_view secret) { return secret.substr(0, kPrefixLength); }

bool SameDigest(const storage::Hash& a, const storage::Hash& b) {
  // Word-wise XOR, OR-ed together: no branch depends on the bytes. The empty asm keeps
  // the compiler from turning the OR chain back into early exits (CRYPTO_memcmp does the
  // same a byte at a time, at ten times the cost).
  std::uint64_t diff = 0;
  for (std::size_t i = 0; i < a.size(); i += sizeof(std::uint64_t)) {
    std::uint64_t x = 0;
    std::uint64_t y = 0;
    std::memcpy(&x, a.data() + i, sizeof(x));
    std::memcpy(&y, b.data() + i, sizeof(y));
    diff |= x ^ y;
#if defined(__GNUC__)
    __asm__("" : "+r"(diff));
#endif
  }
  return diff == 0;
}

}  // namespace authledger::internal
