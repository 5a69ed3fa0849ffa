#include "storage/hash.h"

#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>

namespace authledger::storage {
namespace {

// One digest context per thread, bound to an explicitly fetched SHA-256 so that a
// call neither allocates nor looks the algorithm up (EVP_sha256() does an implicit
// fetch on every init, which triples the cost of hashing 32 bytes).
class ThreadDigest {
 public:
  ThreadDigest() : md_(EVP_MD_fetch(nullptr, "SHA256", nullptr)), ctx_(EVP_MD_CTX_new()) {}
  ThreadDigest(const ThreadDigest&) = delete;
  ThreadDigest& operator=(const ThreadDigest&) = delete;
  ~ThreadDigest() {
    EVP_MD_CTX_free(ctx_);
    EVP_MD_free(md_);
  }

  Hash Digest(std::initializer_list<std::span<const std::uint8_t>> parts) {
    Hash out{};
    unsigned int len = 0;
    bool ok = md_ != nullptr && ctx_ != nullptr && EVP_DigestInit_ex2(ctx_, md_, nullptr) == 1;
    for (const auto& part : parts) {
      ok = ok && EVP_DigestUpdate(ctx_, part.data(), part.size()) == 1;
    }
    ok = ok && EVP_DigestFinal_ex(ctx_, out.data(), &len) == 1 && len == out.size();
    if (!ok) {
      // SHA-256 missing from the OpenSSL default provider leaves no way to keep the log
      // tamper-evident; this is a broken installation, not an expected failure.
      std::fputs("authledger: OpenSSL cannot compute SHA-256\n", stderr);
      std::abort();
    }
    return out;
  }

 private:
  EVP_MD* md_;
  EVP_MD_CTX* ctx_;
};

ThreadDigest& Digester() {
  thread_local ThreadDigest digest;
  return digest;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Hash Sha256(std::span<const std::uint8_t> data) { return Digester().Digest({data}); }

Hash Sha256(std::string_view data) {
  return Sha256(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(data.data()),
                                              data.size()));
}

Hash Sha256Parts(std::initializer_list<std::span<const std::uint8_t>> parts) {
  return Digester().Digest(parts);
}

std::string ToHex(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0x0f];
  }
  return out;
}

std::string ToHex(const Hash& hash) { return ToHex(std::span<const std::uint8_t>(hash)); }

std::optional<Hash> HashFromHex(std::string_view hex) {
  Hash out{};
  if (hex.size() != out.size() * 2) return std::nullopt;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int high = HexValue(hex[2 * i]);
    const int low = HexValue(hex[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    out[i] = static_cast<std::uint8_t>(high << 4 | low);
  }
  return out;
}

}  // namespace authledger::storage
