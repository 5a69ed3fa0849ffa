// Checkpoints: (size, root, time) statements about the Merkle tree, optionally signed.
//
// A checkpoint says "the log held `size` events and their RFC 6962 root was `root` at
// `time_us`". An auditor keeps one, later asks for a consistency proof to a newer one,
// and so learns whether anything before it was rewritten. Signing with an Ed25519 key
// the operator provides lets a third party trust a checkpoint it did not compute. The
// signature covers CheckpointSignedText, a canonical versioned text; the key id is a
// hint naming the key and is not signed.
//
// Thread-safety: Checkpoint is a plain value. A CheckpointSigner is immutable once
// loaded, so Sign and PublicKey may be called from any number of threads at once. The
// free functions are safe from any threads.
#pragma once

#include <authledger/status.h>

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "storage/hash.h"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY, kept out of this header

namespace authledger::storage {

struct Checkpoint {
  std::uint64_t size = 0;
  Hash root{};
  std::int64_t time_us = 0;
  std::vector<std::uint8_t> signature;  // 64-byte Ed25519 signature; empty if unsigned
  std::string key_id;                   // CheckpointKeyId of the signer; empty if unsigned
};

// The exact bytes that are signed:
// "authledger-checkpoint-v1\n<size>\n<root, lowercase hex>\n<time_us>\n".
std::string CheckpointSignedText(const Checkpoint& checkpoint);

// Hex of the first 8 bytes of SHA-256 of the raw 32-byte Ed25519 public key.
std::string CheckpointKeyId(std::span<const std::uint8_t, 32> public_key);

// Signs checkpoints with an Ed25519 private key.
class CheckpointSigner {
 public:
  // Loads an unencrypted PEM private key as written by `openssl genpkey -algorithm
  // ed25519`. Refuses with IoError "key_file_unreadable" if the file cannot be opened,
  // InvalidArgument "key_file_encrypted" if it needs a passphrase, "key_file_malformed"
  // if it holds no PEM private key, "key_not_ed25519" for any other key type, and
  // "key_unusable" if OpenSSL cannot sign with it (checked by a test signature).
  static Result<CheckpointSigner> FromPrivateKeyFile(const std::string& pem_path);

  CheckpointSigner(CheckpointSigner&&) noexcept;
  CheckpointSigner& operator=(CheckpointSigner&&) noexcept;
  CheckpointSigner(const CheckpointSigner&) = delete;
  CheckpointSigner& operator=(const CheckpointSigner&) = delete;
  ~CheckpointSigner();  // frees the key; OpenSSL wipes its private bytes

  // Sets checkpoint->signature over CheckpointSignedText and checkpoint->key_id. The
  // key was proven to sign when loaded, so the only possible failure is OpenSSL
  // running out of memory, reported as std::bad_alloc like any allocation.
  // REQUIRE: *this was not moved from.
  void Sign(Checkpoint* checkpoint) const;

  // The raw 32-byte Ed25519 public key.
  std::array<std::uint8_t, 32> PublicKey() const { return public_key_; }
  const std::string& key_id() const { return key_id_; }

 private:
  struct KeyDeleter {
    void operator()(evp_pkey_st* key) const;
  };
  CheckpointSigner(std::unique_ptr<evp_pkey_st, KeyDeleter> key,
                   const std::array<std::uint8_t, 32>& public_key);

  std::unique_ptr<evp_pkey_st, KeyDeleter> key_;
  std::array<std::uint8_t, 32> public_key_;
  std::string key_id_;
};

// True iff `checkpoint` carries a valid Ed25519 signature by `public_key` over its
// signed text, and its key_id, when not empty, names that key.
bool VerifyCheckpointSignature(const Checkpoint& checkpoint,
                               std::span<const std::uint8_t, 32> public_key);

// Loads a PEM public key as written by `openssl pkey -pubout`, for auditors. Same
// reason codes as CheckpointSigner::FromPrivateKeyFile.
Result<std::array<std::uint8_t, 32>> LoadPublicKeyFile(const std::string& pem_path);

}  // namespace authledger::storage
