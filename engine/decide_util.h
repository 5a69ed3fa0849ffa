// Building blocks of Decide (internal to engine/): event drafts stamped with the
// context, and validation of ids, domains and token limits.
//
// Thread-safety: pure.
#pragma once

#include <string>
#include <string_view>

#include "engine/decide.h"

namespace authledger::internal {

// A draft with the context's time and actor and the given cause.
storage::EventDraft NewEvent(const DecideContext& ctx, std::uint64_t cause = 0);

inline capnp::Text::Reader CapText(const std::string& s) { return {s.data(), s.size()}; }
void SetList(capnp::List<capnp::Text>::Builder list, const std::vector<std::string>& items);

Result<std::string> NormalizeDomain(const std::string& domain);
Result<std::string> NormalizeEmail(const std::string& email);
// Checks a token's limits; on success returns the normalized ip allowlist.
Result<std::vector<std::string>> ValidateTokenSpec(const TokenSpec& spec, std::int64_t now_us);
// The method's syntax: password, oauth:<provider>, saml:<idp>.
Status ValidateMethod(const std::string& method);

Status Refuse(std::string_view reason, const std::string& message);

}  // namespace authledger::internal

namespace authledger::internal {

// Carries out one command against a state (internal to engine/). One method per command,
// split over decide_org.cc (organizations, users) and decide_token.cc (tokens).
class Decider {
 public:
  Decider(const State& s, const DecideContext& ctx) : s_(s), ctx_(ctx) {}

  Status operator()(const CreateOrganizationCmd& c);
  Status operator()(const VerifyDomainCmd& c);
  Status operator()(const UnverifyDomainCmd& c);
  Status operator()(const AddIdpCmd& c);
  Status operator()(const RemoveIdpCmd& c);
  Status operator()(const RegisterUserCmd& c);
  Status operator()(const AddMemberCmd& c);
  Status operator()(const RemoveMemberCmd& c);
  Status operator()(const DeactivateUserCmd& c);
  Status operator()(const ReactivateUserCmd& c);
  Status operator()(const CreateApplicationUserCmd& c);
  Status operator()(const DeleteApplicationUserCmd& c);
  Status operator()(const SetTwoFactorCmd& c);
  Status operator()(const UpdatePolicyCmd& c);
  Status operator()(const UpdateIpAllowlistCmd& c);
  Status operator()(const RecordLoginCmd& c);
  Status operator()(const EndSessionCmd& c);
  Status operator()(const CreatePersonalTokenCmd& c);
  Status operator()(const CreateApplicationTokenCmd& c);
  Status operator()(const RevokeTokenCmd& c);
  Status operator()(const ExpireUserTokensCmd& c);
  Status operator()(const RecordTokenUseCmd& c);

  Decided& out() { return out_; }

 private:
  Result<const Organization*> Org(const std::string& org_id) const;
  Result<const User*> FindUser(const std::string& user_id) const;
  // The user, if `org_id` manages it (only the managing org deactivates or reactivates).
  Result<const User*> ManagedBy(const std::string& user_id, const std::string& org_id) const;
  // Seq the next event appended to out_ will get.
  std::uint64_t NextSeq() const { return ctx_.next_seq + out_.events.size(); }
  storage::EventDraft& Add(std::uint64_t cause = 0);
  // A user actor may act only on themselves (admins, API keys and the system on anyone).
  Status ActingForUser(const std::string& user_id) const;
  // Appends a TokenRevoked for `token`.
  void Revoke(const TokenRecord& token, schema::RevocationReason reason, const std::string& org_id,
              std::uint64_t cause);
  Status CreateToken(const NewTokenId& id, TokenKind kind, const User& owner,
                     const std::string& org_id, const std::string& method,
                     const std::string& session_prefix, bool two_factor_used,
                     const TokenSpec& spec);

  const State& s_;
  const DecideContext& ctx_;
  Decided out_;
};

}  // namespace authledger::internal
