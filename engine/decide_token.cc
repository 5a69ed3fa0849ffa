// Decide for 2FA, logins, sessions and tokens.
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/decide_util.h"
#include "engine/rules.h"

namespace authledger::internal {

namespace {

schema::TokenKind KindToSchema(TokenKind k) {
  switch (k) {
    case TokenKind::kSession:
      return schema::TokenKind::SESSION;
    case TokenKind::kPersonal:
      return schema::TokenKind::PERSONAL;
    case TokenKind::kApplication:
      return schema::TokenKind::APPLICATION;
  }
  return schema::TokenKind::SESSION;
}

}  // namespace

Status Decider::ActingForUser(const std::string& user_id) const {
  if (ctx_.actor.kind == Actor::Kind::kUser && ctx_.actor.id != user_id) {
    return Status::PermissionDenied("permission_denied",
                                    "a user may change only their own credentials");
  }
  return Status::Ok();
}

void Decider::Revoke(const TokenRecord& token, schema::RevocationReason reason,
                     const std::string& org_id, std::uint64_t cause) {
  auto e = Add(cause).envelope().getEvent().initTokenRevoked();
  e.setTokenPrefix(CapText(token.prefix.str()));
  e.setOwnerUserId(CapText(s_.OwnerOf(token).id));
  e.setReason(reason);
  e.setOrgId(CapText(org_id));
}

Status Decider::CreateToken(const NewTokenId& id, TokenKind kind, const User& owner,
                            const std::string& org_id, const std::string& method,
                            const std::string& session_prefix, bool two_factor_used,
                            const TokenSpec& spec) {
  if (s_.FindToken(id.prefix) != nullptr) {
    return Status::Conflict("token_prefix_taken", "token prefix collision; retry");
  }
  auto ip_allowlist = ValidateTokenSpec(spec, ctx_.now_us);
  if (!ip_allowlist.ok()) return ip_allowlist.status();
  auto e = Add().envelope().getEvent().initTokenCreated();
  e.setTokenPrefix(CapText(id.prefix));
  e.setSecretHash(capnp::Data::Reader(id.secret_hash.data(), id.secret_hash.size()));
  e.setKind(KindToSchema(kind));
  e.setOwnerUserId(CapText(owner.id));
  e.setOrgId(CapText(org_id));
  e.setMethod(CapText(method));
  e.setSessionPrefix(CapText(session_prefix));
  e.setTwoFactorUsed(two_factor_used);
  e.setDescription(CapText(spec.description));
  e.setExpiryTimeUs(spec.expiry_time_us);
  e.setMaxAgeSeconds(spec.max_age_seconds);
  e.setExtendWhenUsed(spec.extend_when_used);
  SetList(e.initIpAllowlist(static_cast<unsigned>(ip_allowlist->size())), *ip_allowlist);
  SetList(e.initScopes(static_cast<unsigned>(spec.scopes.size())), spec.scopes);
  return Status::Ok();
}

Status Decider::operator()(const SetTwoFactorCmd& c) {
  if (Status a = ActingForUser(c.user_id); !a.ok()) return a;
  auto user = FindUser(c.user_id);
  if (!user.ok()) return user.status();
  if ((*user)->application) {
    return Status::InvalidArgument("application_user", "application users have no 2FA");
  }
  if ((*user)->two_factor_enabled == c.enable) {
    return Status::Conflict(c.enable ? "two_factor_already_enabled" : "two_factor_already_disabled",
                            "2FA is already " + std::string(c.enable ? "enabled" : "disabled"));
  }
  std::uint64_t cause = NextSeq();
  auto& event = Add();
  if (c.enable) {
    event.envelope().getEvent().initTwoFactorEnabled().setUserId(CapText(c.user_id));
  } else {
    event.envelope().getEvent().initTwoFactorDisabled().setUserId(CapText(c.user_id));
  }
  // Every live password-created personal token and password session goes, for good.
  // Oldest first, so the revocations read in creation order.
  std::vector<const TokenRecord*> doomed;
  s_.ForEachTokenOf(**user, [&](Idx, const TokenRecord& t) {
    bool password_made = s_.Method(t) == "password" &&
                         (t.kind == TokenKind::kPersonal || t.kind == TokenKind::kSession);
    if (password_made && !t.revoked) doomed.push_back(&t);
  });
  for (auto it = doomed.rbegin(); it != doomed.rend(); ++it) {
    Revoke(**it, schema::RevocationReason::TWO_FACTOR_CHANGED, {}, cause);
  }
  return Status::Ok();
}

Status Decider::operator()(const RecordLoginCmd& c) {
  auto user = FindUser(c.login.user_id);
  if (!user.ok()) return user.status();
  if ((*user)->application) {
    return Status::InvalidArgument("application_user_cannot_log_in",
                                   "application users have only application tokens");
  }
  if (Status v = ValidateMethod(c.login.method); !v.ok()) return v;
  std::string_view verdict = LoginRule(s_, **user, c.login.method);
  if (verdict != kOk) {
    const Organization* managing = s_.ManagingOrg(**user);
    auto e = Add().envelope().getEvent().initLoginRejected();
    e.setUserId(CapText(c.login.user_id));
    e.setMethod(CapText(c.login.method));
    e.setReason(capnp::Text::Reader(verdict.data(), verdict.size()));
    if (managing) e.setOrgId(CapText(managing->id));
    e.setTwoFactorUsed(c.login.two_factor_used);
    out_.rejection = Status::Denied(
        verdict, "login of " + c.login.user_id + " with " + c.login.method + " refused");
    return Status::Ok();
  }
  TokenSpec session;
  session.max_age_seconds = ctx_.session_max_age_seconds;
  session.extend_when_used = true;
  if (c.login.method.rfind("saml:", 0) == 0) {
    const IdentityProvider& idp = s_.idps.at(c.login.method.substr(5));
    session.max_age_seconds = idp.max_age_seconds;
    session.extend_when_used = idp.extend_when_used;
  }
  return CreateToken(c.token, TokenKind::kSession, **user, {}, c.login.method, {},
                     c.login.two_factor_used, session);
}

Status Decider::operator()(const EndSessionCmd& c) {
  const TokenRecord* t = s_.FindToken(c.session_prefix);
  if (t == nullptr || t->kind != TokenKind::kSession) {
    return Status::NotFound("unknown_token", "no session '" + c.session_prefix + "'");
  }
  if (ctx_.actor.kind == Actor::Kind::kUser && ctx_.actor.id != s_.OwnerOf(*t).id) {
    return Status::PermissionDenied("not_token_owner", "only its owner ends a session");
  }
  if (t->revoked) return Status::Conflict("token_revoked", "the session has ended already");
  Revoke(*t, schema::RevocationReason::LOGOUT, {}, 0);
  return Status::Ok();
}

Status Decider::operator()(const CreatePersonalTokenCmd& c) {
  const TokenRecord* session = s_.FindToken(c.session_prefix);
  if (session == nullptr) {
    return Status::NotFound("unknown_token", "no session '" + c.session_prefix + "'");
  }
  if (session->kind != TokenKind::kSession) {
    return Status::InvalidArgument("not_a_session",
                                   "'" + c.session_prefix + "' is not a session token");
  }
  if (ctx_.actor.kind == Actor::Kind::kUser && ctx_.actor.id != s_.OwnerOf(*session).id) {
    return Status::PermissionDenied("not_token_owner",
                                    "only the session's user creates tokens in it");
  }
  auto user = FindUser(s_.OwnerOf(*session).id);
  if (!user.ok()) return user.status();
  std::string_view verdict = CreatePersonalTokenRule(s_, **user, *session, ctx_.now_us);
  if (verdict != kOk) {
    return Refuse(verdict, "personal token for " + (*user)->id + " refused");
  }
  return CreateToken(c.token, TokenKind::kPersonal, **user, {}, std::string(s_.Method(*session)),
                     session->prefix.str(), session->two_factor_used, c.spec);
}

Status Decider::operator()(const CreateApplicationTokenCmd& c) {
  auto org = Org(c.org_id);
  if (!org.ok()) return org.status();
  if (!(*org)->application_users.contains(s_.UserIdx(c.app_user_id))) {
    return Status::NotFound("unknown_application_user",
                            c.org_id + " has no application user '" + c.app_user_id + "'");
  }
  return CreateToken(c.token, TokenKind::kApplication, *s_.FindUser(c.app_user_id), c.org_id,
                     "application", {}, false, c.spec);
}

Status Decider::operator()(const RevokeTokenCmd& c) {
  const TokenRecord* t = s_.FindToken(c.token_prefix);
  if (t == nullptr) return Status::NotFound("unknown_token", "no token '" + c.token_prefix + "'");
  if (t->revoked) return Status::Conflict("token_revoked", "the token is already revoked");
  if (!c.org_id.empty()) {
    if (ctx_.actor.kind == Actor::Kind::kUser) {
      return Status::PermissionDenied("permission_denied",
                                      "revoking as an organization needs an admin, not a user");
    }
    auto org = Org(c.org_id);
    if (!org.ok()) return org.status();
    bool belongs =
        (*org)->members.contains(t->owner) || (*org)->application_users.contains(t->owner);
    if (!belongs) {
      return Status::PermissionDenied("not_a_member",
                                      "the token's owner is not a member of " + c.org_id);
    }
    Revoke(*t, schema::RevocationReason::REVOKED_BY_ADMIN, c.org_id, 0);
    return Status::Ok();
  }
  if (ctx_.actor.kind == Actor::Kind::kUser && ctx_.actor.id != s_.OwnerOf(*t).id) {
    return Status::PermissionDenied("not_token_owner",
                                    "only its owner or an org admin revokes a token");
  }
  Revoke(*t, schema::RevocationReason::REVOKED_BY_OWNER, {}, 0);
  return Status::Ok();
}

Status Decider::operator()(const ExpireUserTokensCmd& c) {
  if (Status a = ActingForUser(c.user_id); !a.ok()) return a;
  auto user = FindUser(c.user_id);
  if (!user.ok()) return user.status();
  auto e = Add().envelope().getEvent().initUserTokensExpired();
  e.setUserId(CapText(c.user_id));
  e.setValidityBeginUs(ctx_.now_us);
  return Status::Ok();
}

Status Decider::operator()(const RecordTokenUseCmd& c) {
  // Uses of tokens revoked or unknown meanwhile, or not later than the recorded one, are
  // dropped, and of several uses of one token only the latest is kept: use only ever
  // extends a live token, and a token's recorded uses strictly increase in seq order
  // (scoped replay folds only the last one: replay/scope.h).
  std::vector<const TokenUse*> latest;  // in the order of each token's first use
  std::unordered_map<std::string_view, std::size_t> index;
  for (const TokenUse& use : c.uses) {
    auto [it, first] = index.try_emplace(use.token_prefix, latest.size());
    if (first) {
      latest.push_back(&use);
    } else if (use.used_us > latest[it->second]->used_us) {
      latest[it->second] = &use;
    }
  }
  for (const TokenUse* kept : latest) {
    const TokenUse& use = *kept;
    const TokenRecord* t = s_.FindToken(use.token_prefix);
    if (t == nullptr || t->revoked || use.used_us <= t->last_used_us) continue;
    auto e = Add().envelope().getEvent().initTokenUsed();
    e.setTokenPrefix(CapText(use.token_prefix));
    e.setOwnerUserId(CapText(s_.OwnerOf(*t).id));
    e.setLastUsedUs(use.used_us);
    e.setLastIp(CapText(use.ip));
  }
  if (out_.events.empty()) {
    return Status::Conflict("token_use_recorded", "no use left to record");
  }
  return Status::Ok();
}

}  // namespace authledger::internal
