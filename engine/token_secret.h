// Token secrets: made with OpenSSL's CSPRNG, handed to the caller once, never stored.
//
// A secret is "al" + kind letter + "_" + 43 characters of base64url (256 random bits).
// Its first 15 characters are the token's public prefix (66 random bits), the id under
// which the log and audits know it. Only SHA-256(secret) is kept.
//
// Thread-safety: safe from any thread.
#pragma once

#include <authledger/status.h>

#include <string>
#include <string_view>

#include "engine/commands.h"
#include "engine/state.h"
#include "storage/hash.h"

namespace authledger::internal {

struct NewSecret {
  NewTokenId id;
  std::string secret;
};

Result<NewSecret> GenerateSecret(TokenKind kind);

// The public prefix of a secret (what logs and audits may show of it).
std::string_view PrefixOfSecret(std::string_view secret);

// Whether two digests are equal, in time independent of where they differ.
bool SameDigest(const storage::Hash& a, const storage::Hash& b);

}  // namespace authledger::internal
