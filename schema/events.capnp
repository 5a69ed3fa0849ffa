# The authledger event log: one Envelope per event, stored under its seq in the
# `events` column family as canonical Cap'n Proto bytes (the bytes the Merkle tree
# hashes). Every fact behind a decision is an event here; the engine's state is a fold
# of `evolve` over them.
#
# Rules of evolution (a log written today must be readable by every later version):
# - never renumber, retype or remove a field or a union member; add new ones at the end
#   with the next ordinal;
# - a new field's default must mean "what older writers meant" when it is absent;
# - readers must treat an unknown union member (`which()` beyond the known ones) as an
#   event they cannot interpret, never as corruption;
# - every event carries the ids of all the subjects it touches (org, user, token, IdP),
#   so the subject index can be derived from the event alone.
#
# Events never hold a secret: tokens appear only by their public prefix and the
# SHA-256 of their secret.
#
# JSON names ($Json.name) are the stable field names of `export` and of the HTTP API;
# policy fields use the names of Aiven's organization authentication policy API.

@0xf6e65190d272c7cb;

using Cxx = import "/capnp/c++.capnp";
using Json = import "/capnp/compat/json.capnp";
$Cxx.namespace("authledger::schema");

const formatVersion :UInt32 = 1;
# Version of the on-disk layout (key encodings, column families, envelope). Stored in
# the `meta` family; a log with a higher version is refused.

struct Actor {
  # Who caused an event. Events written by the engine itself (consequences such as
  # revocations on a 2FA change) carry the actor of the command that caused them.

  kind @0 :Kind $Json.name("kind");
  enum Kind {
    # In JSON, enumerants are snake_case like every other name.
    system @0;                        # the engine itself (background token-use recording)
    user @1;                          # a person acting for themselves, `id` = user_id
    admin @2;                         # a person acting as an org administrator, `id` = user_id
    apiKey @3 $Json.name("api_key");  # a server API key; `id` = the key's name, never the key
    application @4;                   # an application user, `id` = its user_id
  }
  id @1 :Text $Json.name("id");
  ip @2 :Text $Json.name("ip");
  # Client address the request came from (IPv4 or IPv6 text), empty if unknown.
  requestId @3 :Text $Json.name("request_id");
  # Caller-supplied request id, for correlating with the backend's own logs.
}

struct AuthenticationPolicy {
  # An organization's authentication policy, always stored in full. Field names and
  # defaults follow Aiven's API; `oauthProviders` goes beyond it.

  version @0 :UInt64 $Json.name("version");
  # 1 for the defaults a new organization gets; +1 on every accepted update.
  passwordAuthEnabled @1 :Bool = true $Json.name("password_auth_enabled");
  # Email + password logins are allowed.
  twoFactorRequired @2 :Bool = false $Json.name("two_factor_required");
  # Password logins must have used 2FA to reach the organization (sessions only).
  oauthEnabled @3 :Bool = true $Json.name("oauth_enabled");
  # Google, Microsoft and GitHub logins are allowed (those in `oauthProviders`).
  oauthProviders @4 :List(Text) $Json.name("oauth_providers");
  # Which OAuth providers: "google", "microsoft", "github". Sorted, no duplicates.
  samlEnabled @5 :Bool = true $Json.name("saml_enabled");
  # Logins through a SAML identity provider are allowed.
  samlAllowExternal @6 :Bool = true $Json.name("saml_allow_external");
  # ... including through an IdP of another organization the user is a member of.
  personalTokensEnabled @7 :Bool = true $Json.name("personal_tokens_enabled");
  # Personal tokens may reach this organization; its managed users may create them.
  personalTokensRequireAllowedAuthMethod @8 :Bool = false
      $Json.name("personal_tokens_require_allowed_auth_method");
  # A personal token works only while the method it was created with is allowed.
}

enum TokenKind {
  session @0;      # made by a successful login (Aiven's created_manually = false)
  personal @1;     # made by a user from inside a session
  application @2;  # made by an org admin for an application user
}

enum RevocationReason {
  revokedByOwner @0 $Json.name("revoked_by_owner");
  # the token's owner revoked it
  revokedByAdmin @1 $Json.name("revoked_by_admin");
  # an organization administrator revoked it
  logout @2;
  # the session ended
  twoFactorChanged @3 $Json.name("two_factor_changed");
  # the owner enabled or disabled 2FA; `cause` names that event
  applicationUserDeleted @4 $Json.name("application_user_deleted");
  # its application user was deleted
}

struct OrganizationCreated {
  orgId @0 :Text $Json.name("org_id");
  name @1 :Text $Json.name("name");
  policy @2 :AuthenticationPolicy $Json.name("policy");
  # The policy the organization starts with (the defaults at creation time, version 1),
  # written out so that a later change of defaults never rewrites history.
}

struct DomainVerified {
  orgId @0 :Text $Json.name("org_id");
  domain @1 :Text $Json.name("domain");
  # Lower-case DNS name. Users whose email is @domain become managed users of orgId.
}

struct DomainUnverified {
  orgId @0 :Text $Json.name("org_id");
  domain @1 :Text $Json.name("domain");
  # Its users are no longer managed by orgId.
}

struct IdpAdded {
  orgId @0 :Text $Json.name("org_id");
  idpId @1 :Text $Json.name("idp_id");
  # Logins through it use the method "saml:<idpId>".
  domains @2 :List(Text) $Json.name("domains");
  # Verified domains of orgId the IdP is linked to (at least one).
  maxAgeSeconds @3 :UInt32 $Json.name("max_age_seconds");
  # Lifetime of the sessions it creates.
  extendWhenUsed @4 :Bool $Json.name("extend_when_used");
  # Whether use of such a session extends its lifetime.
  name @5 :Text $Json.name("name");
}

struct IdpRemoved {
  orgId @0 :Text $Json.name("org_id");
  idpId @1 :Text $Json.name("idp_id");
  # A removed IdP can never satisfy `allowed` again, even if an IdP of the same id
  # were added later.
}

struct UserRegistered {
  userId @0 :Text $Json.name("user_id");
  email @1 :Text $Json.name("email");
  # Lower-case; its domain decides which organization (if any) manages the user.
}

struct UserDeactivated {
  userId @0 :Text $Json.name("user_id");
  orgId @1 :Text $Json.name("org_id");
  # The managing organization that deactivated the user.
}

struct UserReactivated {
  userId @0 :Text $Json.name("user_id");
  orgId @1 :Text $Json.name("org_id");
}

struct MemberAdded {
  orgId @0 :Text $Json.name("org_id");
  userId @1 :Text $Json.name("user_id");
}

struct MemberRemoved {
  orgId @0 :Text $Json.name("org_id");
  userId @1 :Text $Json.name("user_id");
}

struct ApplicationUserCreated {
  orgId @0 :Text $Json.name("org_id");
  userId @1 :Text $Json.name("user_id");
  name @2 :Text $Json.name("name");
}

struct ApplicationUserDeleted {
  orgId @0 :Text $Json.name("org_id");
  userId @1 :Text $Json.name("user_id");
}

struct TwoFactorEnabled {
  userId @0 :Text $Json.name("user_id");
  # Followed, in the same atomic batch, by a TokenRevoked (reason twoFactorChanged,
  # cause = this event's seq) for each of the user's live password-created personal
  # tokens and password sessions.
}

struct TwoFactorDisabled {
  userId @0 :Text $Json.name("user_id");
  # Same consequences as TwoFactorEnabled.
}

struct PolicyChanged {
  orgId @0 :Text $Json.name("org_id");
  policy @1 :AuthenticationPolicy $Json.name("policy");
  # The full resulting policy; policy.version is the previous version + 1.
  forced @2 :Bool $Json.name("forced");
  # The update was accepted with `force` despite a guard rail (SAML-only without IdP).
}

struct IpAllowlistChanged {
  orgId @0 :Text $Json.name("org_id");
  enabled @1 :Bool $Json.name("api_client_ip_allowlist_enabled");
  cidrs @2 :List(Text) $Json.name("api_client_ip_allowlist");
  # Normalized CIDRs (v4 and v6); when `enabled`, API clients must come from one.
  version @3 :UInt64 $Json.name("version");
}

struct LoginRejected {
  userId @0 :Text $Json.name("user_id");
  method @1 :Text $Json.name("method");
  # "password", "oauth:google", "oauth:microsoft", "oauth:github" or "saml:<idp_id>".
  reason @2 :Text $Json.name("reason");
  # The R1 reason code, e.g. "user_deactivated",
  # "user_password_authentication_method_not_allowed".
  orgId @3 :Text $Json.name("org_id");
  # The managing organization whose policy refused the method; empty otherwise.
  twoFactorUsed @4 :Bool $Json.name("two_factor_used");
}

struct TokenCreated {
  tokenPrefix @0 :Text $Json.name("token_prefix");
  # The token's public id; the first characters of the secret handed out once.
  secretHash @1 :Data $Json.name("secret_sha256") $Json.hex;
  # SHA-256 of the whole secret. The secret itself is never stored.
  kind @2 :TokenKind $Json.name("kind");
  ownerUserId @3 :Text $Json.name("owner_user_id");
  # The user (or application user) the token acts as.
  orgId @4 :Text $Json.name("org_id");
  # Application tokens: the application user's organization. Empty for the others.
  method @5 :Text $Json.name("auth_method");
  # The authentication method it was created with: sessions their login's method,
  # personal tokens the method of the session they were created in, application
  # tokens "application".
  sessionPrefix @6 :Text $Json.name("session_token_prefix");
  # Personal tokens: the session they were created in. Empty for the others.
  twoFactorUsed @7 :Bool $Json.name("two_factor_used");
  # Sessions: the login used 2FA. Personal tokens inherit it from their session.
  description @8 :Text $Json.name("description");
  # At most 1000 characters.
  expiryTimeUs @9 :Int64 $Json.name("expiry_time_us");
  # Absolute expiry (µs since the Unix epoch); 0 = none. Exclusive with maxAgeSeconds.
  maxAgeSeconds @10 :UInt32 $Json.name("max_age_seconds");
  # Lifetime after creation (600…315360000); 0 = none.
  extendWhenUsed @11 :Bool $Json.name("extend_when_used");
  # With maxAgeSeconds: the lifetime counts from the last recorded use.
  ipAllowlist @12 :List(Text) $Json.name("ip_allowlist");
  # At most 100 normalized CIDRs; empty = any address.
  scopes @13 :List(Text) $Json.name("scopes");
  # At most 100.
}

struct TokenRevoked {
  tokenPrefix @0 :Text $Json.name("token_prefix");
  ownerUserId @1 :Text $Json.name("owner_user_id");
  reason @2 :RevocationReason $Json.name("reason");
  orgId @3 :Text $Json.name("org_id");
  # The organization whose admin revoked it (reason revokedByAdmin); empty otherwise.
  # Who revoked it is the envelope's actor; why, for consequences, its `cause`.
}

struct UserTokensExpired {
  userId @0 :Text $Json.name("user_id");
  validityBeginUs @1 :Int64 $Json.name("token_validity_begin_us");
  # Tokens of the user created before this moment are expired ("expire all tokens").
}

struct TokenUsed {
  tokenPrefix @0 :Text $Json.name("token_prefix");
  ownerUserId @1 :Text $Json.name("owner_user_id");
  lastUsedUs @2 :Int64 $Json.name("last_used_time_us");
  lastIp @3 :Text $Json.name("last_ip");
  # Coalesced: at most one per token per interval; a crash may lose the last one,
  # which can only make a token expire earlier.
}

struct Envelope {
  seq @0 :UInt64 $Json.name("seq");
  # Position in the log, dense from 1, assigned by the log.
  timeUs @1 :Int64 $Json.name("time_us");
  # When the event happened, µs since the Unix epoch (UTC); never decreases along seq.
  actor @2 :Actor $Json.name("actor");
  cause @3 :UInt64 $Json.name("cause");
  # Seq of the event this one is a consequence of, or 0.

  event :union $Json.name("event") {
    organizationCreated @4 :OrganizationCreated $Json.name("organization_created");
    domainVerified @5 :DomainVerified $Json.name("domain_verified");
    domainUnverified @6 :DomainUnverified $Json.name("domain_unverified");
    idpAdded @7 :IdpAdded $Json.name("idp_added");
    idpRemoved @8 :IdpRemoved $Json.name("idp_removed");
    userRegistered @9 :UserRegistered $Json.name("user_registered");
    userDeactivated @10 :UserDeactivated $Json.name("user_deactivated");
    userReactivated @11 :UserReactivated $Json.name("user_reactivated");
    memberAdded @12 :MemberAdded $Json.name("member_added");
    memberRemoved @13 :MemberRemoved $Json.name("member_removed");
    applicationUserCreated @14 :ApplicationUserCreated $Json.name("application_user_created");
    applicationUserDeleted @15 :ApplicationUserDeleted $Json.name("application_user_deleted");
    twoFactorEnabled @16 :TwoFactorEnabled $Json.name("two_factor_enabled");
    twoFactorDisabled @17 :TwoFactorDisabled $Json.name("two_factor_disabled");
    policyChanged @18 :PolicyChanged $Json.name("policy_changed");
    ipAllowlistChanged @19 :IpAllowlistChanged $Json.name("ip_allowlist_changed");
    loginRejected @20 :LoginRejected $Json.name("login_rejected");
    tokenCreated @21 :TokenCreated $Json.name("token_created");
    tokenRevoked @22 :TokenRevoked $Json.name("token_revoked");
    userTokensExpired @23 :UserTokensExpired $Json.name("user_tokens_expired");
    tokenUsed @24 :TokenUsed $Json.name("token_used");
  }
}
