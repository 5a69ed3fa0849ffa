#include "storage/checkpoint.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace authledger::storage {
namespace {

constexpr std::size_t kSignatureSize = 64;
constexpr std::string_view kSignedTextHeader = "authledger-checkpoint-v1\n";
constexpr std::string_view kKeyCheckMessage = "authledger checkpoint key check";

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

std::span<const std::uint8_t> Bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// Takes the newest OpenSSL error as text and empties the thread's error queue, so
// that a refused key file leaves nothing behind for unrelated OpenSSL callers.
std::string TakeOpenSslError() {
  const unsigned long code = ERR_peek_last_error();
  std::string text = "unknown OpenSSL error";
  if (code != 0) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    text = buffer;
  }
  ERR_clear_error();
  return text;
}

// Passphrase callback that refuses: a server must never stop to prompt on a terminal.
int RefusePassphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* asked) {
  *static_cast<bool*>(asked) = true;
  return -1;
}

enum class KeyKind { kPrivate, kPublic };

Result<PkeyPtr> ReadEd25519Pem(const std::string& pem_path, KeyKind kind) {
  BioPtr bio(BIO_new_file(pem_path.c_str(), "r"));
  if (bio == nullptr) {
    return Status::IoError("key_file_unreadable", pem_path + ": " + TakeOpenSslError());
  }
  bool asked_for_passphrase = false;
  PkeyPtr key(
      kind == KeyKind::kPrivate
          ? PEM_read_bio_PrivateKey(bio.get(), nullptr, RefusePassphrase, &asked_for_passphrase)
          : PEM_read_bio_PUBKEY(bio.get(), nullptr, RefusePassphrase, &asked_for_passphrase));
  if (key == nullptr) {
    const std::string detail = TakeOpenSslError();
    if (asked_for_passphrase) {
      return Status::InvalidArgument("key_file_encrypted",
                                     pem_path + ": passphrase-protected keys are not supported");
    }
    const char* expected = kind == KeyKind::kPrivate ? "a PEM private key" : "a PEM public key";
    return Status::InvalidArgument("key_file_malformed",
                                   pem_path + " does not hold " + expected + ": " + detail);
  }
  if (EVP_PKEY_is_a(key.get(), "ED25519") != 1) {
    const char* type = EVP_PKEY_get0_type_name(key.get());
    return Status::InvalidArgument(
        "key_not_ed25519",
        pem_path + " holds a " + (type ? type : "non-Ed25519") + " key; checkpoints need Ed25519");
  }
  return key;
}

std::optional<std::array<std::uint8_t, 32>> RawPublicKey(const EVP_PKEY* key) {
  std::array<std::uint8_t, 32> raw;
  std::size_t length = raw.size();
  if (EVP_PKEY_get_raw_public_key(key, raw.data(), &length) != 1 || length != raw.size()) {
    ERR_clear_error();
    return std::nullopt;
  }
  return raw;
}

// Ed25519 signs the whole message in one call, with no separate digest (NULL md).
std::optional<std::vector<std::uint8_t>> SignBytes(EVP_PKEY* key,
                                                   std::span<const std::uint8_t> message) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  std::vector<std::uint8_t> signature(kSignatureSize);
  std::size_t length = signature.size();
  if (ctx == nullptr || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), signature.data(), &length, message.data(), message.size()) != 1 ||
      length != kSignatureSize) {
    ERR_clear_error();
    return std::nullopt;
  }
  return signature;
}

bool VerifyBytes(std::span<const std::uint8_t, 32> public_key,
                 std::span<const std::uint8_t> message, std::span<const std::uint8_t> signature) {
  if (signature.size() != kSignatureSize) return false;
  PkeyPtr key(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, public_key.data(), public_key.size()));
  MdCtxPtr ctx(EVP_MD_CTX_new());
  const bool valid = key != nullptr && ctx != nullptr &&
                     EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) == 1 &&
                     EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(),
                                      message.size()) == 1;
  ERR_clear_error();
  return valid;
}

}  // namespace

std::string CheckpointSignedText(const Checkpoint& checkpoint) {
  std::string text(kSignedTextHeader);
  text += std::to_string(checkpoint.size);
  text += '\n';
  text += ToHex(checkpoint.root);
  text += '\n';
  text += std::to_string(checkpoint.time_us);
  text += '\n';
  return text;
}

std::string CheckpointKeyId(std::span<const std::uint8_t, 32> public_key) {
  const Hash digest = Sha256(public_key);
  return ToHex(std::span<const std::uint8_t>(digest.data(), 8));
}

void CheckpointSigner::KeyDeleter::operator()(evp_pkey_st* key) const { EVP_PKEY_free(key); }

CheckpointSigner::CheckpointSigner(std::unique_ptr<evp_pkey_st, KeyDeleter> key,
                                   const std::array<std::uint8_t, 32>& public_key)
    : key_(std::move(key)), public_key_(public_key), key_id_(CheckpointKeyId(public_key_)) {}

CheckpointSigner::CheckpointSigner(CheckpointSigner&&) noexcept = default;
CheckpointSigner& CheckpointSigner::operator=(CheckpointSigner&&) noexcept = default;
CheckpointSigner::~CheckpointSigner() = default;

Result<CheckpointSigner> CheckpointSigner::FromPrivateKeyFile(const std::string& pem_path) {
  Result<PkeyPtr> key = ReadEd25519Pem(pem_path, KeyKind::kPrivate);
  if (!key.ok()) return key.status();
  const std::optional<std::array<std::uint8_t, 32>> public_key = RawPublicKey(key->get());
  // Sign once now so that Sign can promise not to fail for any reason but memory.
  const auto message = Bytes(kKeyCheckMessage);
  const std::optional<std::vector<std::uint8_t>> probe =
      public_key ? SignBytes(key->get(), message) : std::nullopt;
  if (!probe || !VerifyBytes(*public_key, message, *probe)) {
    return Status::InvalidArgument("key_unusable",
                                   pem_path + ": OpenSSL cannot sign with this Ed25519 key");
  }
  return CheckpointSigner(std::unique_ptr<evp_pkey_st, KeyDeleter>(key->release()), *public_key);
}

void CheckpointSigner::Sign(Checkpoint* checkpoint) const {
  const std::string text = CheckpointSignedText(*checkpoint);
  std::optional<std::vector<std::uint8_t>> signature = SignBytes(key_.get(), Bytes(text));
  if (!signature) throw std::bad_alloc();
  checkpoint->signature = std::move(*signature);
  checkpoint->key_id = key_id_;
}

bool VerifyCheckpointSignature(const Checkpoint& checkpoint,
                               std::span<const std::uint8_t, 32> public_key) {
  if (!checkpoint.key_id.empty() && checkpoint.key_id != CheckpointKeyId(public_key)) {
    return false;
  }
  const std::string text = CheckpointSignedText(checkpoint);
  return VerifyBytes(public_key, Bytes(text), checkpoint.signature);
}

Result<std::array<std::uint8_t, 32>> LoadPublicKeyFile(const std::string& pem_path) {
  Result<PkeyPtr> key = ReadEd25519Pem(pem_path, KeyKind::kPublic);
  if (!key.ok()) return key.status();
  const std::optional<std::array<std::uint8_t, 32>> raw = RawPublicKey(key->get());
  if (!raw) {
    return Status::InvalidArgument("key_file_malformed",
                                   pem_path + ": cannot read the raw Ed25519 public key");
  }
  return *raw;
}

}  // namespace authledger::storage
