// Commands: what callers ask the engine to do, as values `Decide` takes.
//
// The Engine facade builds them from its public methods (and makes the random parts —
// token secrets — before deciding, so that Decide stays pure).
//
// Thread-safety: values.
#pragma once

#include <authledger/engine.h>

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "storage/hash.h"

namespace authledger::internal {

struct CreateOrganizationCmd {
  std::string org_id, name;
};
struct VerifyDomainCmd {
  std::string org_id, domain;
};
struct UnverifyDomainCmd {
  std::string org_id, domain;
};
struct AddIdpCmd {
  std::string org_id;
  IdpSpec idp;
};
struct RemoveIdpCmd {
  std::string org_id, idp_id;
};
struct RegisterUserCmd {
  std::string user_id, email;
};
struct AddMemberCmd {
  std::string org_id, user_id;
};
struct RemoveMemberCmd {
  std::string org_id, user_id;
};
struct DeactivateUserCmd {
  std::string org_id, user_id;
};
struct ReactivateUserCmd {
  std::string org_id, user_id;
};
struct CreateApplicationUserCmd {
  std::string org_id, user_id, name;
};
struct DeleteApplicationUserCmd {
  std::string org_id, user_id;
};
struct SetTwoFactorCmd {
  std::string user_id;
  bool enable = true;
};
struct UpdatePolicyCmd {
  std::string org_id;
  PolicyUpdate update;
};
struct UpdateIpAllowlistCmd {
  std::string org_id;
  bool enabled = false;
  std::vector<std::string> cidrs;
};
// The new token's identity, made by the facade: public prefix and SHA-256 of the secret.
struct NewTokenId {
  std::string prefix;
  storage::Hash secret_hash{};
};
struct RecordLoginCmd {
  LoginRequest login;
  NewTokenId token;
};
struct EndSessionCmd {
  std::string session_prefix;
};
struct CreatePersonalTokenCmd {
  std::string session_prefix;
  TokenSpec spec;
  NewTokenId token;
};
struct CreateApplicationTokenCmd {
  std::string org_id, app_user_id;
  TokenSpec spec;
  NewTokenId token;
};
struct RevokeTokenCmd {
  std::string token_prefix, org_id;
};
struct ExpireUserTokensCmd {
  std::string user_id;
};
// Uses of tokens noticed by checks, recorded together (one batch, one fsync).
struct TokenUse {
  std::string token_prefix;
  std::int64_t used_us = 0;
  std::string ip;
};
struct RecordTokenUseCmd {
  std::vector<TokenUse> uses;
};

using Command =
    std::variant<CreateOrganizationCmd, VerifyDomainCmd, UnverifyDomainCmd, AddIdpCmd, RemoveIdpCmd,
                 RegisterUserCmd, AddMemberCmd, RemoveMemberCmd, DeactivateUserCmd,
                 ReactivateUserCmd, CreateApplicationUserCmd, DeleteApplicationUserCmd,
                 SetTwoFactorCmd, UpdatePolicyCmd, UpdateIpAllowlistCmd, RecordLoginCmd,
                 EndSessionCmd, CreatePersonalTokenCmd, CreateApplicationTokenCmd, RevokeTokenCmd,
                 ExpireUserTokensCmd, RecordTokenUseCmd>;

}  // namespace authledger::internal
