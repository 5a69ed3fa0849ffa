#include "tools/server/service.h"

#include <authledger/log_tools.h>

#include <chrono>
#include <string>
#include <vector>

#include "engine/state.h"
#include "tools/server/wire_json.h"

namespace authledger::server {
namespace {

using Which = wire::Request::Body::Which;

constexpr unsigned kBackend = 1u << static_cast<unsigned>(Role::kBackend);
constexpr unsigned kAdmin = 1u << static_cast<unsigned>(Role::kAdmin);
constexpr unsigned kAuditor = 1u << static_cast<unsigned>(Role::kAuditor);
constexpr std::uint32_t kMaxEventsPerPage = 1000;
// Who may check tokens (RolesFor, and TryCheckToken's fast path).
constexpr unsigned kCheckRoles = kBackend | kAdmin;

unsigned HttpStatusOf(const Status& s) {
  switch (s.code()) {
    case Status::Code::kOk:
      return 200;
    case Status::Code::kInvalidArgument:
      return 400;
    case Status::Code::kNotFound:
      return 404;
    case Status::Code::kDenied:
    case Status::Code::kFailedPrecondition:
      return 422;
    case Status::Code::kConflict:
      return 409;
    case Status::Code::kPermissionDenied:
      return 403;
    case Status::Code::kUnavailable:
      return 503;
    case Status::Code::kIoError:
    case Status::Code::kCorruption:
      return 500;
  }
  return 500;
}

// The roles that may make `request`; 0 = anyone, even without a key.
unsigned RolesFor(wire::Request::Reader request) {
  auto body = request.getBody();
  switch (body.which()) {
    case Which::AUTHENTICATE:
    case Which::HEALTH:
      return 0;
    case Which::CHECK_TOKEN:
      return kCheckRoles;
    case Which::CAN_CREATE_PERSONAL_TOKEN:
    case Which::EXPLAIN:
    case Which::REGISTER_USER:
    case Which::RECORD_LOGIN:
    case Which::END_SESSION:
    case Which::CREATE_PERSONAL_TOKEN:
    case Which::ENABLE_TWO_FACTOR:
    case Which::DISABLE_TWO_FACTOR:
      return kBackend | kAdmin;
    case Which::REVOKE_TOKEN:
      return body.getRevokeToken().getOrgId().size() == 0 ? kBackend | kAdmin : kAdmin;
    case Which::GET_POLICY:
    case Which::GET_IP_ALLOWLIST:
      return kBackend | kAdmin | kAuditor;
    case Which::UPDATE_POLICY:
      return body.getUpdatePolicy().getDryRun() ? kAdmin | kAuditor : kAdmin;
    case Which::CREATE_ORGANIZATION:
    case Which::VERIFY_DOMAIN:
    case Which::UNVERIFY_DOMAIN:
    case Which::ADD_IDP:
    case Which::REMOVE_IDP:
    case Which::ADD_MEMBER:
    case Which::REMOVE_MEMBER:
    case Which::DEACTIVATE_USER:
    case Which::REACTIVATE_USER:
    case Which::CREATE_APPLICATION_USER:
    case Which::DELETE_APPLICATION_USER:
    case Which::CREATE_APPLICATION_TOKEN:
    case Which::UPDATE_IP_ALLOWLIST:
    case Which::EXPIRE_USER_TOKENS:
      return kAdmin;
    case Which::AUDIT_POLICY:
    case Which::POLICY_AT:
    case Which::AUDIT_TOKEN:
    case Which::AUDIT_EXPLAIN:
    case Which::AUDIT_IMPACT:
    case Which::AUDIT_WHO:
    case Which::AUDIT_EVENTS:
    case Which::CHECKPOINT:
    case Which::INCLUSION_PROOF:
    case Which::CONSISTENCY_PROOF:
      return kAdmin | kAuditor;
  }
  return kAdmin;  // a member added by a newer schema: only the most trusted role
}

// The request's name as clients write it (its $Json.name: "update_policy").
std::string RequestName(wire::Request::Reader request) {
  constexpr std::uint64_t kJsonName = 0xfa5b1fd61c2e7c3dull;
  auto body = capnp::toDynamic(request).get("body").as<capnp::DynamicStruct>();
  KJ_IF_MAYBE (field, body.which()) {
    for (auto annotation : field->getProto().getAnnotations()) {
      if (annotation.getId() == kJsonName) return annotation.getValue().getText();
    }
    return field->getProto().getName();
  }
  return "unknown";
}

std::string Str(capnp::Text::Reader t) { return {t.cStr(), t.size()}; }

std::vector<std::string> Strs(capnp::List<capnp::Text>::Reader list) {
  std::vector<std::string> out;
  out.reserve(list.size());
  for (auto t : list) out.push_back(Str(t));
  return out;
}

void SetStrs(capnp::List<capnp::Text>::Builder out, const std::vector<std::string>& in) {
  for (unsigned i = 0; i < in.size(); ++i) out.set(i, in[i]);
}

template <typename Builder>
void InitStrs(Builder&& init, const std::vector<std::string>& in) {
  SetStrs(init(static_cast<unsigned>(in.size())), in);
}

void SetExplanation(wire::Explanation::Builder out, const Explanation& e) {
  SetDecision(out.initDecision(), e.decision);
  auto trace = out.initTrace(static_cast<unsigned>(e.trace.size()));
  for (unsigned i = 0; i < e.trace.size(); ++i) {
    trace[i].setCondition(e.trace[i].condition);
    trace[i].setPassed(e.trace[i].passed);
    trace[i].setDetail(e.trace[i].detail);
  }
}

void SetImpact(capnp::List<wire::ImpactEntry>::Builder out, const std::vector<ImpactEntry>& in) {
  for (unsigned i = 0; i < in.size(); ++i) {
    out[i].setTokenPrefix(in[i].token_prefix);
    out[i].setUserId(in[i].user_id);
    out[i].setOrgId(in[i].org_id);
    out[i].setAllowedBefore(in[i].allowed_before);
    out[i].setReasonBefore(in[i].reason_before);
    out[i].setAllowedAfter(in[i].allowed_after);
    out[i].setReasonAfter(in[i].reason_after);
  }
}

void SetPolicyChange(wire::PolicyChange::Builder out, const PolicyChange& c) {
  internal::PolicyToSchema(c.after, out.initPolicy());
  internal::PolicyToSchema(c.before, out.initPrevious());
  SetImpact(out.initImpact(static_cast<unsigned>(c.impact.size())), c.impact);
  out.setRevision(c.revision);
}

void SetAllowlist(wire::Allowlist::Builder out, const IpAllowlist& a, std::uint64_t revision) {
  out.setVersion(a.version);
  out.setEnabled(a.enabled);
  SetStrs(out.initCidrs(static_cast<unsigned>(a.cidrs.size())), a.cidrs);
  out.setRevision(revision);
}

void SetChanges(capnp::List<wire::FieldChange>::Builder out, const std::vector<FieldChange>& in) {
  for (unsigned i = 0; i < in.size(); ++i) {
    out[i].setEntity(in[i].entity);
    out[i].setField(in[i].field);
    out[i].setBefore(in[i].before);
    out[i].setAfter(in[i].after);
  }
}

void SetTokenReport(wire::TokenReport::Builder out, const TokenReport& r) {
  out.setTokenPrefix(r.token_prefix);
  out.setKind(r.kind);
  out.setOwnerUserId(r.owner_user_id);
  out.setOrgId(r.org_id);
  out.setMethod(r.method);
  out.setSessionPrefix(r.session_prefix);
  out.setCreatedSeq(r.created_seq);
  out.setCreatedUs(r.created_us);
  out.setCreatedByKind(r.created_by_kind);
  out.setCreatedById(r.created_by_id);
  out.setExpiryTimeUs(r.expiry_time_us);
  out.setMaxAgeSeconds(r.max_age_seconds);
  out.setExtendWhenUsed(r.extend_when_used);
  SetStrs(out.initIpAllowlist(static_cast<unsigned>(r.ip_allowlist.size())), r.ip_allowlist);
  out.setUses(r.uses);
  out.setLastUsedUs(r.last_used_us);
  out.setLastIp(r.last_ip);
  out.setRevoked(r.revoked);
  out.setRevokedSeq(r.revoked_seq);
  out.setRevokedUs(r.revoked_us);
  out.setRevocationReason(r.revocation_reason);
  out.setRevocationCause(r.revocation_cause);
  out.setRevocationCauseType(r.revocation_cause_type);
  auto intervals = out.initIntervals(static_cast<unsigned>(r.intervals.size()));
  for (unsigned i = 0; i < r.intervals.size(); ++i) {
    const AccessInterval& a = r.intervals[i];
    intervals[i].setOrgId(a.org_id);
    intervals[i].setAllowed(a.allowed);
    intervals[i].setReason(a.reason);
    intervals[i].setFromSeq(a.from_seq);
    intervals[i].setFromUs(a.from_us);
    intervals[i].setOpenedBy(a.opened_by);
    intervals[i].setToSeq(a.to_seq);
    intervals[i].setToUs(a.to_us);
    intervals[i].setClosedBy(a.closed_by);
  }
}

void SetWho(wire::WhoReport::Builder out, const WhoReport& w) {
  out.setSeq(w.seq);
  out.setTimeUs(w.time_us);
  out.setOrgId(w.org_id);
  auto users = out.initUsers(static_cast<unsigned>(w.users.size()));
  for (unsigned i = 0; i < w.users.size(); ++i) {
    users[i].setUserId(w.users[i].user_id);
    users[i].setEmail(w.users[i].email);
    users[i].setActive(w.users[i].active);
    users[i].setManaged(w.users[i].managed);
    SetStrs(users[i].initLoginMethods(static_cast<unsigned>(w.users[i].login_methods.size())),
            w.users[i].login_methods);
  }
  auto tokens = out.initTokens(static_cast<unsigned>(w.tokens.size()));
  for (unsigned i = 0; i < w.tokens.size(); ++i) {
    tokens[i].setTokenPrefix(w.tokens[i].token_prefix);
    tokens[i].setKind(w.tokens[i].kind);
    tokens[i].setUserId(w.tokens[i].user_id);
    tokens[i].setMethod(w.tokens[i].method);
  }
}

TokenSpec SpecOf(wire::TokenSpec::Reader s) {
  TokenSpec spec;
  spec.description = Str(s.getDescription());
  spec.expiry_time_us = s.getExpiryTimeUs();
  spec.max_age_seconds = s.getMaxAgeSeconds();
  spec.extend_when_used = s.getExtendWhenUsed();
  spec.ip_allowlist = Strs(s.getIpAllowlist());
  spec.scopes = Strs(s.getScopes());
  return spec;
}

PolicyUpdate UpdateOf(wire::UpdatePolicy::Reader u) {
  PolicyUpdate out;
  auto flag = [](bool has, wire::Flag::Reader f) {
    return has ? std::optional<bool>(f.getValue()) : std::nullopt;
  };
  out.password_auth_enabled = flag(u.hasPasswordAuthEnabled(), u.getPasswordAuthEnabled());
  out.two_factor_required = flag(u.hasTwoFactorRequired(), u.getTwoFactorRequired());
  out.oauth_enabled = flag(u.hasOauthEnabled(), u.getOauthEnabled());
  if (u.hasOauthProviders()) out.oauth_providers = Strs(u.getOauthProviders());
  out.saml_enabled = flag(u.hasSamlEnabled(), u.getSamlEnabled());
  out.saml_allow_external = flag(u.hasSamlAllowExternal(), u.getSamlAllowExternal());
  out.personal_tokens_enabled = flag(u.hasPersonalTokensEnabled(), u.getPersonalTokensEnabled());
  out.personal_tokens_require_allowed_auth_method = flag(
      u.hasPersonalTokensRequireAllowedAuthMethod(), u.getPersonalTokensRequireAllowedAuthMethod());
  if (u.getExpectedVersion() != 0) out.expected_version = u.getExpectedVersion();
  out.force = u.getForce();
  return out;
}

Moment MomentOf(std::uint64_t seq, std::int64_t time_us) {
  if (seq != 0) return Moment::AtSeq(seq);
  if (time_us != 0) return Moment::AtTime(time_us);
  return Moment::Now();
}

}  // namespace

// ---- Metrics ----

Metrics::Shard& Metrics::MyShard() {
  static std::atomic<std::size_t> next{0};
  thread_local const std::size_t index = next++ % kShards;
  return shards_[index];
}

void Metrics::Count(Shard& shard, std::map<std::string, std::uint64_t, std::less<>> Shard::*map,
                    std::string_view a, std::string_view b) {
  thread_local std::string key;
  key.assign(a).append("|").append(b);
  std::lock_guard lock(shard.mu);
  auto& counts = shard.*map;
  auto it = counts.find(std::string_view(key));
  if (it == counts.end()) it = counts.emplace(key, 0).first;
  ++it->second;
}

void Metrics::CountCheck(bool allowed, const std::string& reason) {
  Count(MyShard(), &Shard::checks, allowed ? "allowed" : "denied", reason);
}

void Metrics::CountCommand(bool ok, std::int64_t latency_us) {
  std::lock_guard lock(mu_);
  ++(ok ? commands_ok_ : commands_rejected_);
  for (std::size_t i = 0; i < kBucketsUs.size(); ++i) {
    if (latency_us <= kBucketsUs[i]) ++latency_buckets_[i];
  }
  ++latency_count_;
  latency_sum_us_ += latency_us;
}

void Metrics::CountRequest(std::string_view encoding, std::string_view outcome) {
  Count(MyShard(), &Shard::requests, encoding, outcome);
}

std::string Metrics::Prometheus(std::uint64_t log_size) {
  std::map<std::string, std::uint64_t> checks, requests;
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mu);
    for (const auto& [key, n] : shard.checks) checks[key] += n;
    for (const auto& [key, n] : shard.requests) requests[key] += n;
  }
  // Keys are "a|b" of the engine's and server's snake_case words: nothing to escape.
  auto split = [](const std::string& key) {
    const auto bar = key.find('|');
    return std::pair{key.substr(0, bar), key.substr(bar + 1)};
  };
  std::lock_guard lock(mu_);
  std::string out =
      "# HELP authledger_checks_total Token checks by result and reason.\n"
      "# TYPE authledger_checks_total counter\n";
  for (const auto& [key, n] : checks) {
    auto [result, reason] = split(key);
    out += "authledger_checks_total{result=\"" + result + "\",reason=\"" + reason + "\"} " +
           std::to_string(n) + "\n";
  }
  out +=
      "# HELP authledger_requests_total Requests by encoding and outcome (ok or the error "
      "reason).\n"
      "# TYPE authledger_requests_total counter\n";
  for (const auto& [key, n] : requests) {
    auto [encoding, outcome] = split(key);
    out += "authledger_requests_total{encoding=\"" + encoding + "\",outcome=\"" + outcome + "\"} " +
           std::to_string(n) + "\n";
  }
  out +=
      "# HELP authledger_commands_total Commands by result.\n"
      "# TYPE authledger_commands_total counter\n"
      "authledger_commands_total{result=\"ok\"} " +
      std::to_string(commands_ok_) + "\nauthledger_commands_total{result=\"rejected\"} " +
      std::to_string(commands_rejected_) +
      "\n"
      "# HELP authledger_command_seconds Time from a command's arrival to its durable "
      "answer (or refusal).\n"
      "# TYPE authledger_command_seconds histogram\n";
  for (std::size_t i = 0; i < kBucketsUs.size(); ++i) {
    out += "authledger_command_seconds_bucket{le=\"" +
           std::to_string(static_cast<double>(kBucketsUs[i]) / 1e6) + "\"} " +
           std::to_string(latency_buckets_[i]) + "\n";
  }
  out += "authledger_command_seconds_bucket{le=\"+Inf\"} " + std::to_string(latency_count_) +
         "\nauthledger_command_seconds_sum " +
         std::to_string(static_cast<double>(latency_sum_us_) / 1e6) +
         "\nauthledger_command_seconds_count " + std::to_string(latency_count_) +
         "\n"
         "# HELP authledger_log_size Events in the log.\n"
         "# TYPE authledger_log_size gauge\n"
         "authledger_log_size " +
         std::to_string(log_size) + "\n";
  return out;
}

// ---- Service ----

unsigned SetError(wire::Response::Builder response, unsigned status, std::string_view reason,
                  std::string_view message) {
  auto error = response.getBody().initError();
  error.setReason(std::string(reason));
  error.setMessage(std::string(message));
  return status;
}

struct Service::Call {
  const Caller& caller;
  wire::Request::Reader request;
  wire::Response::Builder response;
  Actor actor;

  unsigned Fail(const Status& s) {
    return SetError(response, HttpStatusOf(s), s.reason(), s.message());
  }
};

Service::Service(Engine& engine, const ApiKeys& keys, std::string data_dir,
                 std::function<std::int64_t()> clock)
    : engine_(engine), keys_(keys), data_dir_(std::move(data_dir)), clock_(std::move(clock)) {}

Service::~Service() = default;

unsigned Service::Handle(const Caller& caller, wire::Request::Reader request,
                         wire::Response::Builder response) {
  response.setId(request.getId());
  const unsigned roles = RolesFor(request);
  if (roles != 0) {
    if (caller.key == nullptr) {
      return SetError(response, 401, "unauthenticated", kUnauthenticatedMessage);
    }
    if ((roles & (1u << static_cast<unsigned>(caller.key->role))) == 0) {
      return SetError(response, 403, "permission_denied",
                      "role " + std::string(RoleName(caller.key->role)) + " may not make " +
                          RequestName(request));
    }
  }
  Call call{caller, request, response, {}};
  auto on_behalf = request.getOnBehalfOf();
  if (request.hasOnBehalfOf() && on_behalf.getUserId().size() > 0) {
    call.actor.kind = on_behalf.getAsAdmin() ? Actor::Kind::kAdmin : Actor::Kind::kUser;
    call.actor.id = Str(on_behalf.getUserId());
  } else if (caller.key != nullptr) {
    call.actor.kind = Actor::Kind::kApiKey;
    call.actor.id = caller.key->name;
  }
  call.actor.ip = request.hasOnBehalfOf() && on_behalf.getIp().size() > 0 ? Str(on_behalf.getIp())
                                                                          : caller.peer_ip;
  if (request.hasOnBehalfOf()) call.actor.request_id = Str(on_behalf.getRequestId());
  try {
    return Dispatch(call);
  } catch (const kj::Exception& e) {
    // A request that does not fit the schema (e.g. a text that is not UTF-8 NUL-free).
    return SetError(response, 400, "invalid_request",
                    std::string("request not understood: ") + e.getDescription().cStr());
  }
}

unsigned Service::Dispatch(Call& call) {
  auto body = call.request.getBody();
  auto response = call.response;
  const Actor& actor = call.actor;
  const auto start = std::chrono::steady_clock::now();
  // Commands: engine result → revision answer, counted with their latency.
  // A command that reached the engine, counted with how long it took.
  auto count = [&](bool ok) {
    metrics_.CountCommand(ok, std::chrono::duration_cast<std::chrono::microseconds>(
                                  std::chrono::steady_clock::now() - start)
                                  .count());
  };
  auto command = [&](const Result<std::uint64_t>& revision) -> unsigned {
    count(revision.ok());
    if (!revision.ok()) return call.Fail(revision.status());
    response.getBody().initRevision().setRevision(*revision);
    return 200;
  };
  auto created = [&](const Result<CreatedToken>& token) -> unsigned {
    count(token.ok());
    if (!token.ok()) return call.Fail(token.status());
    auto out = response.getBody().initCreatedToken();
    out.setTokenPrefix(token->token_prefix);
    out.setSecret(token->secret);
    out.setRevision(token->revision);
    return 200;
  };
  auto context = [&](capnp::Text::Reader ip, std::int64_t time_us) {
    CheckContext ctx;
    ctx.time_us = time_us != 0 ? time_us : clock_();
    ctx.ip = Str(ip);
    return ctx;
  };

  switch (body.which()) {
    case Which::AUTHENTICATE: {
      const ApiKey* key = Authenticate(Str(body.getAuthenticate().getApiKey()));
      if (key == nullptr) return SetError(response, 401, "unauthenticated", "unknown API key");
      response.getBody().setAuthenticated(std::string(RoleName(key->role)));
      return 200;
    }
    case Which::HEALTH: {
      Status h = engine_.health();
      if (!h.ok()) return SetError(response, 503, h.reason(), h.message());
      auto out = response.getBody().initHealth();
      out.setStatus("ok");
      out.setRevision(engine_.revision());
      return 200;
    }
    case Which::CREATE_ORGANIZATION: {
      auto r = body.getCreateOrganization();
      return command(engine_.CreateOrganization(actor, Str(r.getOrgId()), Str(r.getName())));
    }
    case Which::VERIFY_DOMAIN: {
      auto r = body.getVerifyDomain();
      return command(engine_.VerifyDomain(actor, Str(r.getOrgId()), Str(r.getDomain())));
    }
    case Which::UNVERIFY_DOMAIN: {
      auto r = body.getUnverifyDomain();
      return command(engine_.UnverifyDomain(actor, Str(r.getOrgId()), Str(r.getDomain())));
    }
    case Which::ADD_IDP: {
      auto r = body.getAddIdp();
      IdpSpec idp;
      idp.idp_id = Str(r.getIdpId());
      idp.name = Str(r.getName());
      idp.domains = Strs(r.getDomains());
      idp.max_age_seconds = r.getMaxAgeSeconds();
      idp.extend_when_used = r.getExtendWhenUsed();
      return command(engine_.AddIdp(actor, Str(r.getOrgId()), idp));
    }
    case Which::REMOVE_IDP: {
      auto r = body.getRemoveIdp();
      return command(engine_.RemoveIdp(actor, Str(r.getOrgId()), Str(r.getIdpId())));
    }
    case Which::REGISTER_USER: {
      auto r = body.getRegisterUser();
      return command(engine_.RegisterUser(actor, Str(r.getUserId()), Str(r.getEmail())));
    }
    case Which::ADD_MEMBER: {
      auto r = body.getAddMember();
      return command(engine_.AddMember(actor, Str(r.getOrgId()), Str(r.getUserId())));
    }
    case Which::REMOVE_MEMBER: {
      auto r = body.getRemoveMember();
      return command(engine_.RemoveMember(actor, Str(r.getOrgId()), Str(r.getUserId())));
    }
    case Which::DEACTIVATE_USER: {
      auto r = body.getDeactivateUser();
      return command(engine_.DeactivateUser(actor, Str(r.getOrgId()), Str(r.getUserId())));
    }
    case Which::REACTIVATE_USER: {
      auto r = body.getReactivateUser();
      return command(engine_.ReactivateUser(actor, Str(r.getOrgId()), Str(r.getUserId())));
    }
    case Which::CREATE_APPLICATION_USER: {
      auto r = body.getCreateApplicationUser();
      return command(engine_.CreateApplicationUser(actor, Str(r.getOrgId()), Str(r.getUserId()),
                                                   Str(r.getName())));
    }
    case Which::DELETE_APPLICATION_USER: {
      auto r = body.getDeleteApplicationUser();
      return command(engine_.DeleteApplicationUser(actor, Str(r.getOrgId()), Str(r.getUserId())));
    }
    case Which::ENABLE_TWO_FACTOR:
      return command(engine_.EnableTwoFactor(actor, Str(body.getEnableTwoFactor().getUserId())));
    case Which::DISABLE_TWO_FACTOR:
      return command(engine_.DisableTwoFactor(actor, Str(body.getDisableTwoFactor().getUserId())));
    case Which::GET_POLICY: {
      auto p = engine_.GetPolicy(Str(body.getGetPolicy().getOrgId()));
      if (!p.ok()) return call.Fail(p.status());
      internal::PolicyToSchema(*p, response.getBody().initPolicy());
      return 200;
    }
    case Which::UPDATE_POLICY: {
      auto r = body.getUpdatePolicy();
      const PolicyUpdate update = UpdateOf(r);
      Result<PolicyChange> change = PolicyChange{};
      if (r.getDryRun()) {
        change = engine_.DryRunPolicy(actor, Str(r.getOrgId()), update);
      } else {
        change = engine_.UpdatePolicy(actor, Str(r.getOrgId()), update);
        count(change.ok());
      }
      if (!change.ok()) return call.Fail(change.status());
      SetPolicyChange(response.getBody().initPolicyChange(), *change);
      return 200;
    }
    case Which::GET_IP_ALLOWLIST: {
      auto a = engine_.GetIpAllowlist(Str(body.getGetIpAllowlist().getOrgId()));
      if (!a.ok()) return call.Fail(a.status());
      SetAllowlist(response.getBody().initAllowlist(), *a, 0);
      return 200;
    }
    case Which::UPDATE_IP_ALLOWLIST: {
      auto r = body.getUpdateIpAllowlist();
      const std::string org_id = Str(r.getOrgId());
      const unsigned status =
          command(engine_.UpdateIpAllowlist(actor, org_id, r.getEnabled(), Strs(r.getCidrs())));
      if (status != 200) return status;
      const std::uint64_t revision = response.getBody().getRevision().getRevision();
      auto a = engine_.GetIpAllowlist(org_id);
      if (!a.ok()) return call.Fail(a.status());
      SetAllowlist(response.getBody().initAllowlist(), *a, revision);
      return 200;
    }
    case Which::RECORD_LOGIN: {
      auto r = body.getRecordLogin();
      LoginRequest login{Str(r.getUserId()), Str(r.getMethod()), r.getTwoFactorUsed()};
      return created(engine_.RecordLogin(actor, login));
    }
    case Which::END_SESSION:
      return command(engine_.EndSession(actor, Str(body.getEndSession().getSessionPrefix())));
    case Which::CREATE_PERSONAL_TOKEN: {
      auto r = body.getCreatePersonalToken();
      return created(
          engine_.CreatePersonalToken(actor, Str(r.getSessionPrefix()), SpecOf(r.getSpec())));
    }
    case Which::CREATE_APPLICATION_TOKEN: {
      auto r = body.getCreateApplicationToken();
      return created(engine_.CreateApplicationToken(actor, Str(r.getOrgId()), Str(r.getAppUserId()),
                                                    SpecOf(r.getSpec())));
    }
    case Which::REVOKE_TOKEN: {
      auto r = body.getRevokeToken();
      return command(engine_.RevokeToken(actor, Str(r.getTokenPrefix()), Str(r.getOrgId())));
    }
    case Which::EXPIRE_USER_TOKENS:
      return command(engine_.ExpireUserTokens(actor, Str(body.getExpireUserTokens().getUserId())));
    case Which::CHECK_TOKEN: {
      auto r = body.getCheckToken();
      if (r.getToken().size() == 0 || r.getOrgId().size() == 0) {
        return call.Fail(InvalidRequest("'token' and 'org_id' are required"));
      }
      auto t = r.getToken();
      auto o = r.getOrgId();
      auto ip = r.getIp();
      const Decision d =
          CheckToken(std::string_view(t.cStr(), t.size()), std::string_view(o.cStr(), o.size()),
                     std::string_view(ip.cStr(), ip.size()), r.getTimeUs());
      SetDecision(response.getBody().initDecision(), d);
      return 200;
    }
    case Which::CAN_CREATE_PERSONAL_TOKEN: {
      auto r = body.getCanCreatePersonalToken();
      if (r.getSessionPrefix().size() == 0) {
        return call.Fail(InvalidRequest("'session_prefix' is required"));
      }
      Decision d = engine_.CanCreatePersonalToken(Str(r.getSessionPrefix()),
                                                  context(r.getIp(), r.getTimeUs()));
      SetDecision(response.getBody().initDecision(), d);
      return 200;
    }
    case Which::EXPLAIN: {
      auto r = body.getExplain();
      const bool by_secret = r.getToken().size() > 0;
      if (r.getOrgId().size() == 0) return call.Fail(InvalidRequest("'org_id' is required"));
      if (by_secret == (r.getTokenPrefix().size() > 0)) {
        return call.Fail(InvalidRequest("give exactly one of 'token' and 'token_prefix'"));
      }
      const CheckContext ctx = context(r.getIp(), r.getTimeUs());
      Explanation e = by_secret
                          ? engine_.Explain(Str(r.getToken()), Str(r.getOrgId()), ctx)
                          : engine_.ExplainPrefix(Str(r.getTokenPrefix()), Str(r.getOrgId()), ctx);
      SetExplanation(response.getBody().initExplanation(), e);
      return 200;
    }
    case Which::CHECKPOINT: {
      auto c = engine_.Checkpoint();
      if (!c.ok()) return call.Fail(c.status());
      auto out = response.getBody().initCheckpoint();
      out.setSize(c->size);
      out.setRoot(c->root_hex);
      out.setTimeUs(c->time_us);
      out.setSignature(c->signature_hex);
      out.setKeyId(c->key_id);
      return 200;
    }
    case Which::INCLUSION_PROOF: {
      auto r = body.getInclusionProof();
      auto p = ProveInclusion(data_dir_, r.getSeq(), r.getTreeSize());
      if (!p.ok()) return call.Fail(p.status());
      auto out = response.getBody().initInclusionProof();
      out.setSeq(p->seq);
      out.setLeafIndex(p->leaf_index);
      out.setTreeSize(p->tree_size);
      out.setLeafHash(p->leaf_hash_hex);
      out.setRoot(p->root_hex);
      SetStrs(out.initAuditPath(static_cast<unsigned>(p->audit_path_hex.size())),
              p->audit_path_hex);
      out.setEvent(p->event_hex);
      return 200;
    }
    case Which::CONSISTENCY_PROOF: {
      auto r = body.getConsistencyProof();
      auto p = ProveConsistency(data_dir_, r.getOldSize(), r.getNewSize());
      if (!p.ok()) return call.Fail(p.status());
      auto out = response.getBody().initConsistencyProof();
      out.setOldSize(p->old_size);
      out.setNewSize(p->new_size);
      out.setOldRoot(p->old_root_hex);
      out.setNewRoot(p->new_root_hex);
      SetStrs(out.initProof(static_cast<unsigned>(p->proof_hex.size())), p->proof_hex);
      return 200;
    }
    case Which::AUDIT_POLICY:
    case Which::POLICY_AT:
    case Which::AUDIT_TOKEN:
    case Which::AUDIT_EXPLAIN:
    case Which::AUDIT_IMPACT:
    case Which::AUDIT_WHO:
    case Which::AUDIT_EVENTS:
      return Audit(call);
  }
  return SetError(response, 400, "unknown_request",
                  "this server does not know the request (a newer client?)");
}

Decision Service::CheckToken(std::string_view token, std::string_view org_id, std::string_view ip,
                             std::int64_t time_us) {
  CheckContext ctx;
  ctx.time_us = time_us != 0 ? time_us : clock_();
  ctx.ip = ip;
  Decision d = engine_.CheckToken(token, org_id, ctx);
  metrics_.CountCheck(d.allowed, d.reason);
  return d;
}

std::optional<Decision> Service::TryCheckToken(const Caller& caller, std::string_view token,
                                               std::string_view org_id, std::string_view ip,
                                               std::int64_t time_us) {
  // As Handle: the roles RolesFor gives CHECK_TOKEN, then what Dispatch requires.
  if (caller.key == nullptr ||
      (kCheckRoles & (1u << static_cast<unsigned>(caller.key->role))) == 0) {
    return std::nullopt;
  }
  if (token.empty() || org_id.empty()) return std::nullopt;
  return CheckToken(token, org_id, ip, time_us);
}

bool Service::Blocking(Which which) {
  switch (which) {
    case Which::AUTHENTICATE:
    case Which::HEALTH:
    case Which::CHECK_TOKEN:
    case Which::CAN_CREATE_PERSONAL_TOKEN:
    case Which::EXPLAIN:
    case Which::GET_POLICY:
    case Which::GET_IP_ALLOWLIST:
    case Which::CHECKPOINT:
      return false;
    default:
      return true;
  }
}

Result<std::shared_ptr<const Auditor>> Service::CurrentAuditor() {
  std::lock_guard lock(auditor_mu_);
  if (auditor_ == nullptr || auditor_->size() < engine_.revision()) {
    auto opened = Auditor::Open(data_dir_);
    if (!opened.ok()) return opened.status();
    auditor_ = std::shared_ptr<const Auditor>(std::move(*opened));
  }
  return auditor_;
}

unsigned Service::Audit(Call& call) {
  auto auditor_or = CurrentAuditor();
  if (!auditor_or.ok()) return call.Fail(auditor_or.status());
  const Auditor& auditor = **auditor_or;
  auto body = call.request.getBody();
  auto out = call.response.getBody();
  switch (body.which()) {
    case Which::AUDIT_POLICY: {
      auto r = body.getAuditPolicy();
      auto h = auditor.PolicyHistory(Str(r.getOrgId()), r.getFromUs(), r.getToUs());
      if (!h.ok()) return call.Fail(h.status());
      auto history = out.initPolicyHistory();
      history.setOrgId(r.getOrgId());
      auto versions = history.initVersions(static_cast<unsigned>(h->size()));
      for (unsigned i = 0; i < h->size(); ++i) {
        const PolicyVersion& v = (*h)[i];
        versions[i].setSeq(v.seq);
        versions[i].setTimeUs(v.time_us);
        versions[i].setActorKind(v.actor_kind);
        versions[i].setActorId(v.actor_id);
        versions[i].setForced(v.forced);
        internal::PolicyToSchema(v.policy, versions[i].initPolicy());
        SetChanges(versions[i].initChanges(static_cast<unsigned>(v.changes.size())), v.changes);
      }
      return 200;
    }
    case Which::POLICY_AT: {
      auto r = body.getPolicyAt();
      auto p =
          auditor.PolicyAt(Str(r.getOrgId()), MomentOf(r.getAt().getSeq(), r.getAt().getTimeUs()));
      if (!p.ok()) return call.Fail(p.status());
      internal::PolicyToSchema(*p, out.initPolicy());
      return 200;
    }
    case Which::AUDIT_TOKEN: {
      auto r = body.getAuditToken();
      auto t = auditor.Token(Str(r.getTokenPrefix()), Str(r.getIp()));
      if (!t.ok()) return call.Fail(t.status());
      SetTokenReport(out.initTokenReport(), *t);
      return 200;
    }
    case Which::AUDIT_EXPLAIN: {
      auto r = body.getAuditExplain();
      std::optional<std::int64_t> time_us;
      if (r.getTimeUs() != 0) time_us = r.getTimeUs();
      auto e = auditor.Explain(Str(r.getTokenPrefix()), Str(r.getOrgId()),
                               MomentOf(r.getAtSeq(), r.getAtUs()), time_us, Str(r.getIp()));
      if (!e.ok()) return call.Fail(e.status());
      SetExplanation(out.initExplanation(), *e);
      return 200;
    }
    case Which::AUDIT_IMPACT: {
      auto r = body.getAuditImpact();
      auto i = auditor.Impact(r.getSeq());
      if (!i.ok()) return call.Fail(i.status());
      auto impact = out.initImpact();
      impact.setSeq(r.getSeq());
      SetImpact(impact.initImpact(static_cast<unsigned>(i->size())), *i);
      return 200;
    }
    case Which::AUDIT_WHO: {
      auto r = body.getAuditWho();
      auto w = auditor.Who(Str(r.getOrgId()), MomentOf(r.getAt().getSeq(), r.getAt().getTimeUs()));
      if (!w.ok()) return call.Fail(w.status());
      SetWho(out.initWho(), *w);
      return 200;
    }
    case Which::AUDIT_EVENTS: {
      auto r = body.getAuditEvents();
      if (r.getLimit() == 0 || r.getLimit() > kMaxEventsPerPage) {
        return call.Fail(InvalidRequest("'limit' must be 1…" + std::to_string(kMaxEventsPerPage)));
      }
      EventFilter f;
      f.org_id = Str(r.getOrgId());
      f.user_id = Str(r.getUserId());
      f.token_prefix = Str(r.getTokenPrefix());
      f.types = Strs(r.getTypes());
      f.actor_id = Str(r.getActorId());
      f.from_seq = std::max<std::uint64_t>(1, r.getFromSeq());
      f.to_seq = r.getToSeq();
      f.from_us = r.getFromUs();
      f.to_us = r.getToUs();
      auto page = auditor.Events(f, r.getLimit());
      if (!page.ok()) return call.Fail(page.status());
      auto events = out.initEvents();
      events.setNextSeq(page->next_seq);
      auto list = events.initEvents(static_cast<unsigned>(page->events.size()));
      for (unsigned i = 0; i < page->events.size(); ++i) {
        if (Status s = DecodeEventJson(page->events[i].json, list[i]); !s.ok()) {
          return call.Fail(s);
        }
      }
      return 200;
    }
    default:
      break;
  }
  return SetError(call.response, 500, "internal", "not an audit request");
}

}  // namespace authledger::server
