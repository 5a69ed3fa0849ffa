// Checkpoints: Ed25519 signing and verification, and refusal of every key file that is
// not an unencrypted Ed25519 key.
#include "storage/checkpoint.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "storage/hash.h"
#include "storage/merkle.h"

namespace authledger::storage {
namespace {

struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

PkeyPtr GenerateEd25519() { return PkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")); }

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           ("authledger_checkpoint_" + std::to_string(::getpid()) + "_" + info->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  // Writes `key` as PEM: its private half (optionally passphrase-protected), or its
  // public half as `openssl pkey -pubout` does.
  std::string WriteKey(const std::string& name, EVP_PKEY* key, bool is_public,
                       const char* passphrase = nullptr) const {
    std::string path = Path(name);
    std::unique_ptr<BIO, BioDeleter> bio(BIO_new_file(path.c_str(), "w"));
    EXPECT_NE(bio, nullptr);
    int written = 0;
    if (is_public) {
      written = PEM_write_bio_PUBKEY(bio.get(), key);
    } else if (passphrase != nullptr) {
      written = PEM_write_bio_PKCS8PrivateKey(bio.get(), key, EVP_aes_256_cbc(), passphrase,
                                              static_cast<int>(std::strlen(passphrase)), nullptr,
                                              nullptr);
    } else {
      written = PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
    }
    EXPECT_EQ(written, 1);
    return path;
  }

  std::string WriteText(const std::string& name, const std::string& text) const {
    std::ofstream(Path(name), std::ios::binary) << text;
    return Path(name);
  }

  CheckpointSigner NewSigner() {
    key_ = GenerateEd25519();
    auto signer = CheckpointSigner::FromPrivateKeyFile(WriteKey("signer.pem", key_.get(), false));
    EXPECT_TRUE(signer.ok()) << signer.status().ToString();
    return std::move(signer).value();
  }

  static Checkpoint Sample() {
    Checkpoint checkpoint;
    checkpoint.size = 1234567;
    checkpoint.root = Sha256(std::string_view("root"));
    checkpoint.time_us = 1'700'000'000'123'456;
    return checkpoint;
  }

  std::filesystem::path dir_;
  PkeyPtr key_;
};

TEST_F(CheckpointTest, SignedTextIsCanonicalAndVersioned) {
  Checkpoint checkpoint = Sample();
  const std::string expected =
      "authledger-checkpoint-v1\n1234567\n" + ToHex(checkpoint.root) + "\n1700000000123456\n";
  EXPECT_EQ(CheckpointSignedText(checkpoint), expected);
  checkpoint.signature = {1, 2, 3};
  checkpoint.key_id = "0011223344556677";
  EXPECT_EQ(CheckpointSignedText(checkpoint), expected) << "signature and key id are not signed";
  checkpoint.time_us = -5;
  checkpoint.size = 0;
  checkpoint.root = EmptyRoot();
  EXPECT_EQ(CheckpointSignedText(checkpoint),
            "authledger-checkpoint-v1\n0\n" + ToHex(EmptyRoot()) + "\n-5\n");
}

TEST_F(CheckpointTest, SignedCheckpointVerifiesWithTheSignersPublicKey) {
  const CheckpointSigner signer = NewSigner();
  Checkpoint checkpoint = Sample();
  signer.Sign(&checkpoint);
  EXPECT_EQ(checkpoint.signature.size(), 64u);
  EXPECT_EQ(checkpoint.key_id, CheckpointKeyId(signer.PublicKey()));
  EXPECT_EQ(checkpoint.key_id.size(), 16u);
  EXPECT_EQ(checkpoint.key_id, ToHex(std::span(Sha256(signer.PublicKey()).data(), 8)));
  EXPECT_TRUE(VerifyCheckpointSignature(checkpoint, signer.PublicKey()));

  Checkpoint again = Sample();
  signer.Sign(&again);
  EXPECT_EQ(again.signature, checkpoint.signature) << "Ed25519 signatures are deterministic";
}

TEST_F(CheckpointTest, ChangedSizeRootOrTimeFailsVerification) {
  const CheckpointSigner signer = NewSigner();
  Checkpoint signed_checkpoint = Sample();
  signer.Sign(&signed_checkpoint);

  Checkpoint changed = signed_checkpoint;
  changed.size += 1;
  EXPECT_FALSE(VerifyCheckpointSignature(changed, signer.PublicKey()));
  changed = signed_checkpoint;
  changed.root[31] ^= 0x01;
  EXPECT_FALSE(VerifyCheckpointSignature(changed, signer.PublicKey()));
  changed = signed_checkpoint;
  changed.time_us -= 1;
  EXPECT_FALSE(VerifyCheckpointSignature(changed, signer.PublicKey()));
}

TEST_F(CheckpointTest, AnyFlippedSignatureBitFailsVerification) {
  const CheckpointSigner signer = NewSigner();
  Checkpoint checkpoint = Sample();
  signer.Sign(&checkpoint);
  for (std::size_t i = 0; i < checkpoint.signature.size(); ++i) {
    Checkpoint tampered = checkpoint;
    tampered.signature[i] ^= static_cast<std::uint8_t>(1u << (i % 8));
    EXPECT_FALSE(VerifyCheckpointSignature(tampered, signer.PublicKey())) << "byte " << i;
  }
}

TEST_F(CheckpointTest, MissingTruncatedOrExtendedSignatureFailsVerification) {
  const CheckpointSigner signer = NewSigner();
  Checkpoint checkpoint = Sample();
  EXPECT_FALSE(VerifyCheckpointSignature(checkpoint, signer.PublicKey())) << "unsigned";
  signer.Sign(&checkpoint);
  Checkpoint truncated = checkpoint;
  truncated.signature.pop_back();
  EXPECT_FALSE(VerifyCheckpointSignature(truncated, signer.PublicKey()));
  Checkpoint extended = checkpoint;
  extended.signature.push_back(0);
  EXPECT_FALSE(VerifyCheckpointSignature(extended, signer.PublicKey()));
}

TEST_F(CheckpointTest, SignatureDoesNotVerifyUnderAnotherKey) {
  const CheckpointSigner signer = NewSigner();
  Checkpoint checkpoint = Sample();
  signer.Sign(&checkpoint);
  const PkeyPtr other = GenerateEd25519();
  std::array<std::uint8_t, 32> other_public;
  std::size_t length = other_public.size();
  ASSERT_EQ(EVP_PKEY_get_raw_public_key(other.get(), other_public.data(), &length), 1);
  EXPECT_FALSE(VerifyCheckpointSignature(checkpoint, other_public));
  checkpoint.key_id.clear();
  EXPECT_FALSE(VerifyCheckpointSignature(checkpoint, other_public)) << "even without a key id";
}

TEST_F(CheckpointTest, KeyIdNamingAnotherKeyFailsVerification) {
  const CheckpointSigner signer = NewSigner();
  Checkpoint checkpoint = Sample();
  signer.Sign(&checkpoint);
  checkpoint.key_id = "0000000000000000";
  EXPECT_FALSE(VerifyCheckpointSignature(checkpoint, signer.PublicKey()));
  checkpoint.key_id.clear();
  EXPECT_TRUE(VerifyCheckpointSignature(checkpoint, signer.PublicKey()))
      << "the key id is only a hint";
}

TEST_F(CheckpointTest, PublicKeyFileLoadsTheSignersKey) {
  const CheckpointSigner signer = NewSigner();
  const auto loaded = LoadPublicKeyFile(WriteKey("public.pem", key_.get(), true));
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(*loaded, signer.PublicKey());
  Checkpoint checkpoint = Sample();
  signer.Sign(&checkpoint);
  EXPECT_TRUE(VerifyCheckpointSignature(checkpoint, *loaded));
}

TEST_F(CheckpointTest, MovedSignerKeepsSigning) {
  CheckpointSigner original = NewSigner();
  const std::array<std::uint8_t, 32> public_key = original.PublicKey();
  CheckpointSigner moved = std::move(original);
  Checkpoint checkpoint = Sample();
  moved.Sign(&checkpoint);
  EXPECT_TRUE(VerifyCheckpointSignature(checkpoint, public_key));
}

TEST_F(CheckpointTest, KeysOfOtherTypesAreRefusedAsNotEd25519) {
  const PkeyPtr rsa(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048}));
  const PkeyPtr ec(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  const PkeyPtr ed448(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED448"));
  for (const auto& [name, key] :
       {std::pair{"rsa", rsa.get()}, std::pair{"ec", ec.get()}, std::pair{"ed448", ed448.get()}}) {
    ASSERT_NE(key, nullptr) << name;
    const auto signer =
        CheckpointSigner::FromPrivateKeyFile(WriteKey(std::string(name) + ".pem", key, false));
    EXPECT_EQ(signer.status().code(), Status::Code::kInvalidArgument) << name;
    EXPECT_EQ(signer.status().reason(), "key_not_ed25519") << name;
    const auto public_key = LoadPublicKeyFile(WriteKey(std::string(name) + ".pub", key, true));
    EXPECT_EQ(public_key.status().reason(), "key_not_ed25519") << name;
  }
}

TEST_F(CheckpointTest, GarbageOrEmptyKeyFileIsRefusedAsMalformed) {
  for (const std::string& text :
       {std::string("not a key at all\n"), std::string(),
        std::string("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")}) {
    const std::string path = WriteText("garbage.pem", text);
    EXPECT_EQ(CheckpointSigner::FromPrivateKeyFile(path).status().reason(), "key_file_malformed");
    EXPECT_EQ(LoadPublicKeyFile(path).status().reason(), "key_file_malformed");
  }
}

TEST_F(CheckpointTest, PublicAndPrivateKeyFilesAreNotInterchangeable) {
  const PkeyPtr key = GenerateEd25519();
  const std::string public_path = WriteKey("public.pem", key.get(), true);
  const std::string private_path = WriteKey("private.pem", key.get(), false);
  EXPECT_EQ(CheckpointSigner::FromPrivateKeyFile(public_path).status().reason(),
            "key_file_malformed");
  EXPECT_EQ(LoadPublicKeyFile(private_path).status().reason(), "key_file_malformed");
}

TEST_F(CheckpointTest, MissingKeyFileIsRefusedAsUnreadable) {
  const auto signer = CheckpointSigner::FromPrivateKeyFile(Path("absent.pem"));
  EXPECT_EQ(signer.status().code(), Status::Code::kIoError);
  EXPECT_EQ(signer.status().reason(), "key_file_unreadable");
  EXPECT_EQ(LoadPublicKeyFile(Path("absent.pub")).status().reason(), "key_file_unreadable");
}

TEST_F(CheckpointTest, PassphraseProtectedKeyIsRefusedWithoutPrompting) {
  const PkeyPtr key = GenerateEd25519();
  const std::string path = WriteKey("encrypted.pem", key.get(), false, "correct horse");
  const auto signer = CheckpointSigner::FromPrivateKeyFile(path);
  EXPECT_EQ(signer.status().reason(), "key_file_encrypted");
}

TEST_F(CheckpointTest, RefusedKeyFileLeavesNoOpenSslErrorBehind) {
  ERR_clear_error();
  EXPECT_FALSE(CheckpointSigner::FromPrivateKeyFile(WriteText("junk.pem", "junk")).ok());
  EXPECT_FALSE(LoadPublicKeyFile(Path("absent.pub")).ok());
  EXPECT_EQ(ERR_peek_error(), 0u);
}

}  // namespace
}  // namespace authledger::storage
