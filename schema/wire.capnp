# The server's API, defined once: every command, check, explain, audit query and log
# request of the engine, with its answer. The server speaks it in two encodings from
# the same dispatch code (tools/server/service.h):
#
# - binary: length-framed Cap'n Proto messages over TCP. A frame is a 4-byte
#   little-endian length followed by that many bytes: one Request (or Response) as an
#   unpacked Cap'n Proto message with its segment table. Requests are pipelined: a
#   client may send many before reading; answers come back in order, each with the
#   request's `id`. The first request on a connection is `authenticate`.
# - HTTP/1.1 JSON: each route names one member of `Request.body`; the path, query and
#   JSON body fill it (Cap'n Proto's JSON codec, the $Json.name names below); the
#   answer is the member of `Response.body` it produced, as JSON. Errors are
#   {"reason", "message"} with an HTTP status.
#
# JSON conventions: names are snake_case (policy fields are Aiven's); 64-bit integers
# are JSON numbers (exact up to 2^53); a `Flag` is a bare true/false whose absence means
# "leave as it is"; times are µs since the Unix epoch (`*_us`), 0 = "now" in requests.
#
# Evolution: the rules of events.capnp (never renumber or retype; add at the end).

@0xd58cf0ccbe7bfbad;

using Cxx = import "/capnp/c++.capnp";
using Json = import "/capnp/compat/json.capnp";
using Events = import "events.capnp";
$Cxx.namespace("authledger::wire");

const protocolVersion :UInt32 = 1;
const maxFrameBytes :UInt32 = 65536;
# Frames above this are refused (the connection is closed after an error answer).

struct Flag {
  # An optional boolean (absent = unchanged). In JSON: a bare true or false.
  value @0 :Bool;
}

# ---- Requests ----

struct OnBehalfOf {
  # Whom a command is for. Without it the command's actor is the API key itself.
  userId @0 :Text $Json.name("user_id");
  asAdmin @1 :Bool $Json.name("as_admin");
  # The user acts as an administrator of the organization concerned.
  ip @2 :Text $Json.name("ip");
  # The end user's address (used by the allowlist guard rail); default: the peer's.
  requestId @3 :Text $Json.name("request_id");
}

struct Authenticate {
  apiKey @0 :Text $Json.name("api_key");
}

struct CreateOrganization {
  orgId @0 :Text $Json.name("org_id");
  name @1 :Text $Json.name("name");
}

struct OrgDomain {
  orgId @0 :Text $Json.name("org_id");
  domain @1 :Text $Json.name("domain");
}

struct AddIdp {
  orgId @0 :Text $Json.name("org_id");
  idpId @1 :Text $Json.name("idp_id");
  name @2 :Text $Json.name("name");
  domains @3 :List(Text) $Json.name("domains");
  maxAgeSeconds @4 :UInt32 = 86400 $Json.name("max_age_seconds");
  extendWhenUsed @5 :Bool $Json.name("extend_when_used");
}

struct OrgIdp {
  orgId @0 :Text $Json.name("org_id");
  idpId @1 :Text $Json.name("idp_id");
}

struct RegisterUser {
  userId @0 :Text $Json.name("user_id");
  email @1 :Text $Json.name("email");
}

struct OrgUser {
  orgId @0 :Text $Json.name("org_id");
  userId @1 :Text $Json.name("user_id");
}

struct CreateApplicationUser {
  orgId @0 :Text $Json.name("org_id");
  userId @1 :Text $Json.name("user_id");
  name @2 :Text $Json.name("name");
}

struct User {
  userId @0 :Text $Json.name("user_id");
}

struct Org {
  orgId @0 :Text $Json.name("org_id");
}

struct UpdatePolicy {
  # A partial update with Aiven's field names: absent fields stay as they are.
  orgId @0 :Text $Json.name("org_id");
  passwordAuthEnabled @1 :Flag $Json.name("password_auth_enabled");
  twoFactorRequired @2 :Flag $Json.name("two_factor_required");
  oauthEnabled @3 :Flag $Json.name("oauth_enabled");
  oauthProviders @4 :List(Text) $Json.name("oauth_providers");
  samlEnabled @5 :Flag $Json.name("saml_enabled");
  samlAllowExternal @6 :Flag $Json.name("saml_allow_external");
  personalTokensEnabled @7 :Flag $Json.name("personal_tokens_enabled");
  personalTokensRequireAllowedAuthMethod @8 :Flag
      $Json.name("personal_tokens_require_allowed_auth_method");
  expectedVersion @9 :UInt64 $Json.name("expected_version");
  # Refused with `conflict` unless the current version is this; 0 = any.
  force @10 :Bool $Json.name("force");
  dryRun @11 :Bool $Json.name("dry_run");
  # Answer the impact of the change without making it.
}

struct UpdateIpAllowlist {
  orgId @0 :Text $Json.name("org_id");
  enabled @1 :Bool $Json.name("enabled");
  cidrs @2 :List(Text) $Json.name("cidrs");
}

struct RecordLogin {
  userId @0 :Text $Json.name("user_id");
  method @1 :Text $Json.name("method");
  # "password", "oauth:google|microsoft|github", "saml:<idp_id>"
  twoFactorUsed @2 :Bool $Json.name("two_factor_used");
}

struct Session {
  sessionPrefix @0 :Text $Json.name("session_prefix");
}

struct TokenSpec {
  description @0 :Text $Json.name("description");
  expiryTimeUs @1 :Int64 $Json.name("expiry_time_us");
  maxAgeSeconds @2 :UInt32 $Json.name("max_age_seconds");
  extendWhenUsed @3 :Bool $Json.name("extend_when_used");
  ipAllowlist @4 :List(Text) $Json.name("ip_allowlist");
  scopes @5 :List(Text) $Json.name("scopes");
}

struct CreatePersonalToken {
  sessionPrefix @0 :Text $Json.name("session_prefix");
  spec @1 :TokenSpec $Json.flatten();
}

struct CreateApplicationToken {
  orgId @0 :Text $Json.name("org_id");
  appUserId @1 :Text $Json.name("app_user_id");
  spec @2 :TokenSpec $Json.flatten();
}

struct RevokeToken {
  tokenPrefix @0 :Text $Json.name("token_prefix");
  orgId @1 :Text $Json.name("org_id");
  # Non-empty: an admin of this organization revokes a token of one of its members or
  # application users; empty: the owner revokes their own.
}

struct CheckToken {
  token @0 :Text $Json.name("token");
  # The secret the caller presented. Never logged, never stored.
  orgId @1 :Text $Json.name("org_id");
  ip @2 :Text $Json.name("ip");
  timeUs @3 :Int64 $Json.name("time_us");
}

struct CanCreatePersonalToken {
  sessionPrefix @0 :Text $Json.name("session_prefix");
  ip @1 :Text $Json.name("ip");
  timeUs @2 :Int64 $Json.name("time_us");
}

struct Explain {
  # By secret (`token`) or by public prefix (`token_prefix`), exactly one.
  token @0 :Text $Json.name("token");
  tokenPrefix @1 :Text $Json.name("token_prefix");
  orgId @2 :Text $Json.name("org_id");
  ip @3 :Text $Json.name("ip");
  timeUs @4 :Int64 $Json.name("time_us");
}

struct Moment {
  # A point in the log's history: after event `seq`, or the last event at or before
  # `time_us`; neither = now.
  seq @0 :UInt64 $Json.name("seq");
  timeUs @1 :Int64 $Json.name("time_us");
}

struct AuditPolicy {
  orgId @0 :Text $Json.name("org_id");
  fromUs @1 :Int64 $Json.name("from_us");
  toUs @2 :Int64 $Json.name("to_us");
}

struct PolicyAt {
  orgId @0 :Text $Json.name("org_id");
  at @1 :Moment $Json.flatten();
}

struct AuditToken {
  tokenPrefix @0 :Text $Json.name("token_prefix");
  ip @1 :Text $Json.name("ip");
}

struct AuditExplain {
  tokenPrefix @0 :Text $Json.name("token_prefix");
  orgId @1 :Text $Json.name("org_id");
  atSeq @2 :UInt64 $Json.name("at_seq");
  atUs @3 :Int64 $Json.name("at_us");
  # The moment, by seq or time; the request's time is the moment's unless `time_us`.
  timeUs @4 :Int64 $Json.name("time_us");
  ip @5 :Text $Json.name("ip");
}

struct AuditImpact {
  seq @0 :UInt64 $Json.name("seq");
}

struct AuditWho {
  orgId @0 :Text $Json.name("org_id");
  at @1 :Moment $Json.flatten();
}

struct AuditEvents {
  orgId @0 :Text $Json.name("org_id");
  userId @1 :Text $Json.name("user_id");
  tokenPrefix @2 :Text $Json.name("token_prefix");
  types @3 :List(Text) $Json.name("types");
  actorId @4 :Text $Json.name("actor_id");
  fromSeq @5 :UInt64 $Json.name("from_seq");
  toSeq @6 :UInt64 $Json.name("to_seq");
  fromUs @7 :Int64 $Json.name("from_us");
  toUs @8 :Int64 $Json.name("to_us");
  limit @9 :UInt32 = 100 $Json.name("limit");
  # At most 1000.
}

struct InclusionProofRequest {
  seq @0 :UInt64 $Json.name("seq");
  treeSize @1 :UInt64 $Json.name("tree_size");
  # 0 = the current size.
}

struct ConsistencyProofRequest {
  oldSize @0 :UInt64 $Json.name("old_size");
  newSize @1 :UInt64 $Json.name("new_size");
  # 0 = the current size.
}

struct Request {
  id @0 :UInt64 $Json.name("id");
  # Echoed in the response; the client's to choose.
  onBehalfOf @1 :OnBehalfOf $Json.name("on_behalf_of");
  body :union {
    authenticate @2 :Authenticate $Json.name("authenticate");
    health @3 :Void $Json.name("health");

    createOrganization @4 :CreateOrganization $Json.name("create_organization");
    verifyDomain @5 :OrgDomain $Json.name("verify_domain");
    unverifyDomain @6 :OrgDomain $Json.name("unverify_domain");
    addIdp @7 :AddIdp $Json.name("add_idp");
    removeIdp @8 :OrgIdp $Json.name("remove_idp");
    registerUser @9 :RegisterUser $Json.name("register_user");
    addMember @10 :OrgUser $Json.name("add_member");
    removeMember @11 :OrgUser $Json.name("remove_member");
    deactivateUser @12 :OrgUser $Json.name("deactivate_user");
    reactivateUser @13 :OrgUser $Json.name("reactivate_user");
    createApplicationUser @14 :CreateApplicationUser $Json.name("create_application_user");
    deleteApplicationUser @15 :OrgUser $Json.name("delete_application_user");
    enableTwoFactor @16 :User $Json.name("enable_two_factor");
    disableTwoFactor @17 :User $Json.name("disable_two_factor");
    getPolicy @18 :Org $Json.name("get_policy");
    updatePolicy @19 :UpdatePolicy $Json.name("update_policy");
    getIpAllowlist @20 :Org $Json.name("get_ip_allowlist");
    updateIpAllowlist @21 :UpdateIpAllowlist $Json.name("update_ip_allowlist");
    recordLogin @22 :RecordLogin $Json.name("record_login");
    endSession @23 :Session $Json.name("end_session");
    createPersonalToken @24 :CreatePersonalToken $Json.name("create_personal_token");
    createApplicationToken @25 :CreateApplicationToken $Json.name("create_application_token");
    revokeToken @26 :RevokeToken $Json.name("revoke_token");
    expireUserTokens @27 :User $Json.name("expire_user_tokens");

    checkToken @28 :CheckToken $Json.name("check_token");
    canCreatePersonalToken @29 :CanCreatePersonalToken
        $Json.name("can_create_personal_token");
    explain @30 :Explain $Json.name("explain");

    auditPolicy @31 :AuditPolicy $Json.name("audit_policy");
    policyAt @32 :PolicyAt $Json.name("policy_at");
    auditToken @33 :AuditToken $Json.name("audit_token");
    auditExplain @34 :AuditExplain $Json.name("audit_explain");
    auditImpact @35 :AuditImpact $Json.name("audit_impact");
    auditWho @36 :AuditWho $Json.name("audit_who");
    auditEvents @37 :AuditEvents $Json.name("audit_events");

    checkpoint @38 :Void $Json.name("checkpoint");
    inclusionProof @39 :InclusionProofRequest $Json.name("inclusion_proof");
    consistencyProof @40 :ConsistencyProofRequest $Json.name("consistency_proof");
  }
}

# ---- Responses ----

struct Error {
  reason @0 :Text $Json.name("reason");
  # A stable snake_case code: the engine's reason codes, plus the server's own
  # (unauthenticated, permission_denied, invalid_request, frame_too_large, …).
  message @1 :Text $Json.name("message");
}

struct Health {
  status @0 :Text $Json.name("status");
  revision @1 :UInt64 $Json.name("revision");
}

struct Revision {
  revision @0 :UInt64 $Json.name("revision");
  # Seq of the last event the command appended.
}

struct CreatedToken {
  tokenPrefix @0 :Text $Json.name("token_prefix");
  secret @1 :Text $Json.name("secret");
  # Shown once, here; never stored or logged.
  revision @2 :UInt64 $Json.name("revision");
}

struct Decision {
  allowed @0 :Bool $Json.name("allowed");
  reason @1 :Text $Json.name("reason");
  rule @2 :Text $Json.name("rule");
  tokenPrefix @3 :Text $Json.name("token_prefix");
  userId @4 :Text $Json.name("user_id");
  orgId @5 :Text $Json.name("org_id");
  revision @6 :UInt64 $Json.name("revision");
}

struct TraceStep {
  condition @0 :Text $Json.name("condition");
  passed @1 :Bool $Json.name("passed");
  detail @2 :Text $Json.name("detail");
}

struct Explanation {
  decision @0 :Decision $Json.name("decision");
  trace @1 :List(TraceStep) $Json.name("trace");
}

struct ImpactEntry {
  tokenPrefix @0 :Text $Json.name("token_prefix");
  userId @1 :Text $Json.name("user_id");
  orgId @2 :Text $Json.name("org_id");
  allowedBefore @3 :Bool $Json.name("allowed_before");
  reasonBefore @4 :Text $Json.name("reason_before");
  allowedAfter @5 :Bool $Json.name("allowed_after");
  reasonAfter @6 :Text $Json.name("reason_after");
}

struct PolicyChange {
  policy @0 :Events.AuthenticationPolicy $Json.flatten();
  # The policy after the change (the proposed one for a dry run), Aiven's fields.
  previous @1 :Events.AuthenticationPolicy $Json.name("previous");
  impact @2 :List(ImpactEntry) $Json.name("impact");
  # Only the (token, organization) pairs whose decision flips.
  revision @3 :UInt64 $Json.name("revision");
  # 0 for a dry run.
}

struct Allowlist {
  version @0 :UInt64 $Json.name("version");
  enabled @1 :Bool $Json.name("enabled");
  cidrs @2 :List(Text) $Json.name("cidrs");
  revision @3 :UInt64 $Json.name("revision");
  # The seq of the change, in an answer to an update; else 0.
}

struct FieldChange {
  entity @0 :Text $Json.name("entity");
  field @1 :Text $Json.name("field");
  before @2 :Text $Json.name("before");
  after @3 :Text $Json.name("after");
}

struct PolicyVersion {
  seq @0 :UInt64 $Json.name("seq");
  timeUs @1 :Int64 $Json.name("time_us");
  actorKind @2 :Text $Json.name("actor_kind");
  actorId @3 :Text $Json.name("actor_id");
  forced @4 :Bool $Json.name("forced");
  policy @5 :Events.AuthenticationPolicy $Json.name("policy");
  changes @6 :List(FieldChange) $Json.name("changes");
}

struct PolicyHistory {
  orgId @0 :Text $Json.name("org_id");
  versions @1 :List(PolicyVersion) $Json.name("versions");
}

struct AccessInterval {
  orgId @0 :Text $Json.name("org_id");
  allowed @1 :Bool $Json.name("allowed");
  reason @2 :Text $Json.name("reason");
  fromSeq @3 :UInt64 $Json.name("from_seq");
  fromUs @4 :Int64 $Json.name("from_us");
  openedBy @5 :Text $Json.name("opened_by");
  toSeq @6 :UInt64 $Json.name("to_seq");
  toUs @7 :Int64 $Json.name("to_us");
  closedBy @8 :Text $Json.name("closed_by");
}

struct TokenReport {
  tokenPrefix @0 :Text $Json.name("token_prefix");
  kind @1 :Text $Json.name("kind");
  ownerUserId @2 :Text $Json.name("owner_user_id");
  orgId @3 :Text $Json.name("org_id");
  method @4 :Text $Json.name("method");
  sessionPrefix @5 :Text $Json.name("session_prefix");
  createdSeq @6 :UInt64 $Json.name("created_seq");
  createdUs @7 :Int64 $Json.name("created_us");
  createdByKind @8 :Text $Json.name("created_by_kind");
  createdById @9 :Text $Json.name("created_by_id");
  expiryTimeUs @10 :Int64 $Json.name("expiry_time_us");
  maxAgeSeconds @11 :UInt32 $Json.name("max_age_seconds");
  extendWhenUsed @12 :Bool $Json.name("extend_when_used");
  ipAllowlist @13 :List(Text) $Json.name("ip_allowlist");
  uses @14 :UInt64 $Json.name("uses");
  lastUsedUs @15 :Int64 $Json.name("last_used_us");
  lastIp @16 :Text $Json.name("last_ip");
  revoked @17 :Bool $Json.name("revoked");
  revokedSeq @18 :UInt64 $Json.name("revoked_seq");
  revokedUs @19 :Int64 $Json.name("revoked_us");
  revocationReason @20 :Text $Json.name("revocation_reason");
  revocationCause @21 :UInt64 $Json.name("revocation_cause");
  revocationCauseType @22 :Text $Json.name("revocation_cause_type");
  intervals @23 :List(AccessInterval) $Json.name("intervals");
}

struct WhoReport {
  seq @0 :UInt64 $Json.name("seq");
  timeUs @1 :Int64 $Json.name("time_us");
  orgId @2 :Text $Json.name("org_id");
  users @3 :List(UserAccess) $Json.name("users");
  tokens @4 :List(TokenAccess) $Json.name("tokens");

  struct UserAccess {
    userId @0 :Text $Json.name("user_id");
    email @1 :Text $Json.name("email");
    active @2 :Bool $Json.name("active");
    managed @3 :Bool $Json.name("managed");
    loginMethods @4 :List(Text) $Json.name("login_methods");
  }
  struct TokenAccess {
    tokenPrefix @0 :Text $Json.name("token_prefix");
    kind @1 :Text $Json.name("kind");
    userId @2 :Text $Json.name("user_id");
    method @3 :Text $Json.name("method");
  }
}

struct EventPage {
  events @0 :List(Events.Envelope) $Json.name("events");
  # As the log holds them (the export's JSON names).
  nextSeq @1 :UInt64 $Json.name("next_seq");
  # Where the next page starts; 0 = no more.
}

struct Impact {
  seq @0 :UInt64 $Json.name("seq");
  impact @1 :List(ImpactEntry) $Json.name("impact");
}

struct Checkpoint {
  size @0 :UInt64 $Json.name("size");
  root @1 :Text $Json.name("root");
  timeUs @2 :Int64 $Json.name("time_us");
  signature @3 :Text $Json.name("signature");
  keyId @4 :Text $Json.name("key_id");
}

struct InclusionProof {
  seq @0 :UInt64 $Json.name("seq");
  leafIndex @1 :UInt64 $Json.name("leaf_index");
  treeSize @2 :UInt64 $Json.name("tree_size");
  leafHash @3 :Text $Json.name("leaf_hash");
  root @4 :Text $Json.name("root");
  auditPath @5 :List(Text) $Json.name("audit_path");
  event @6 :Text $Json.name("event");
  # The event's canonical bytes, hex.
}

struct ConsistencyProof {
  oldSize @0 :UInt64 $Json.name("old_size");
  newSize @1 :UInt64 $Json.name("new_size");
  oldRoot @2 :Text $Json.name("old_root");
  newRoot @3 :Text $Json.name("new_root");
  proof @4 :List(Text) $Json.name("proof");
}

struct Response {
  id @0 :UInt64 $Json.name("id");
  body :union {
    error @1 :Error $Json.name("error");
    authenticated @2 :Text $Json.name("authenticated");
    # The role of the key.
    health @3 :Health $Json.name("health");
    revision @4 :Revision $Json.name("revision");
    createdToken @5 :CreatedToken $Json.name("created_token");
    decision @6 :Decision $Json.name("decision");
    explanation @7 :Explanation $Json.name("explanation");
    policy @8 :Events.AuthenticationPolicy $Json.name("policy");
    policyChange @9 :PolicyChange $Json.name("policy_change");
    allowlist @10 :Allowlist $Json.name("allowlist");
    policyHistory @11 :PolicyHistory $Json.name("policy_history");
    tokenReport @12 :TokenReport $Json.name("token_report");
    impact @13 :Impact $Json.name("impact");
    who @14 :WhoReport $Json.name("who");
    events @15 :EventPage $Json.name("events");
    checkpoint @16 :Checkpoint $Json.name("checkpoint");
    inclusionProof @17 :InclusionProof $Json.name("inclusion_proof");
    consistencyProof @18 :ConsistencyProof $Json.name("consistency_proof");
  }
}
