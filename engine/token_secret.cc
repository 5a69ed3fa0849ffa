#include "engine/token_secret.h"

#include <openssl/rand.h>

#include <array>

#include "storage/hash.h"

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

}  // namespace authledger::internal
