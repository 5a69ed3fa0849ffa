#include "tools/server/dispatch.h"

#include <authledger/log_tools.h>

#include <vector>

#include "replay/json_writer.h"
#include "tools/cli/audit_format.h"
#include "tools/server/json_body.h"

namespace authledger::server {
namespace {

using replay::JsonArray;
using replay::JsonObject;

constexpr std::string_view kPolicyRoute = "/v1/organization/{org_id}/config/authentication";
constexpr std::string_view kAllowlistRoute =
    "/v1/organization/{org_id}/config/api-client-ip-allowlist";

unsigned HttpStatusOf(const Status& s) {
  switch (s.code()) {
    case Status::Code::kOk:
      return 200;
    case Status::Code::kInvalidArgument:
      return 400;
    case Status::Code::kNotFound:
      return 404;
    case Status::Code::kDenied:
      return 422;
    case Status::Code::kConflict:
      return 409;
    case Status::Code::kPermissionDenied:
      return 403;
    case Status::Code::kFailedPrecondition:
      return 422;
    case Status::Code::kUnavailable:
      return 503;
    case Status::Code::kIoError:
    case Status::Code::kCorruption:
      return 500;
  }
  return 500;
}

ApiResponse FromStatus(const Status& s) {
  return ErrorResponse(HttpStatusOf(s), s.reason(), s.message());
}

ApiResponse Json(std::string body) {
  ApiResponse r;
  r.body = std::move(body);
  return r;
}

std::vector<std::string> Split(std::string_view path) {
  std::vector<std::string> out;
  std::size_t start = 1;  // past the leading '/'
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    out.emplace_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

bool Allowed(Role role, const std::vector<Role>& roles) {
  for (Role r : roles) {
    if (r == role) return true;
  }
  return false;
}

JsonObject PolicyObject(const AuthenticationPolicy& p) {
  JsonObject o;
  o.Num("version", p.version)
      .Bool("password_auth_enabled", p.password_auth_enabled)
      .Bool("two_factor_required", p.two_factor_required)
      .Bool("oauth_enabled", p.oauth_enabled)
      .Strs("oauth_providers", p.oauth_providers)
      .Bool("saml_enabled", p.saml_enabled)
      .Bool("saml_allow_external", p.saml_allow_external)
      .Bool("personal_tokens_enabled", p.personal_tokens_enabled)
      .Bool("personal_tokens_require_allowed_auth_method",
            p.personal_tokens_require_allowed_auth_method);
  return o;
}

JsonObject AllowlistObject(const IpAllowlist& a) {
  JsonObject o;
  o.Num("version", a.version).Bool("enabled", a.enabled).Strs("cidrs", a.cidrs);
  return o;
}

// Reads an optional field of `body` into `out`; false (and *error set) on a wrong type.
template <typename T>
bool Read(const Result<std::optional<T>>& field, std::optional<T>& out, Status* error) {
  if (!field.ok()) {
    if (error->ok()) *error = field.status();
    return false;
  }
  out = *field;
  return true;
}

}  // namespace

ApiResponse ErrorResponse(unsigned status, std::string_view reason, std::string_view message) {
  ApiResponse r;
  r.status = status;
  r.body = JsonObject().Str("reason", reason).Str("message", message).Done();
  return r;
}

void Metrics::CountCheck(bool allowed, const std::string& reason) {
  std::lock_guard lock(mu_);
  ++checks_[{allowed, reason}];
}

void Metrics::CountCommand(bool ok) {
  std::lock_guard lock(mu_);
  ++(ok ? commands_ok_ : commands_rejected_);
}

std::string Metrics::Prometheus(std::uint64_t log_size) const {
  std::lock_guard lock(mu_);
  std::string out =
      "# HELP authledger_checks_total Token checks by result and reason.\n"
      "# TYPE authledger_checks_total counter\n";
  for (const auto& [key, n] : checks_) {
    // Reasons are the engine's snake_case codes; nothing to escape.
    out += "authledger_checks_total{result=\"" + std::string(key.first ? "allowed" : "denied") +
           "\",reason=\"" + key.second + "\"} " + std::to_string(n) + "\n";
  }
  out +=
      "# HELP authledger_commands_total Commands by result.\n"
      "# TYPE authledger_commands_total counter\n"
      "authledger_commands_total{result=\"ok\"} " +
      std::to_string(commands_ok_) +
      "\n"
      "authledger_commands_total{result=\"rejected\"} " +
      std::to_string(commands_rejected_) +
      "\n"
      "# HELP authledger_log_size Events in the log.\n"
      "# TYPE authledger_log_size gauge\n"
      "authledger_log_size " +
      std::to_string(log_size) + "\n";
  return out;
}

Dispatcher::Dispatcher(Engine& engine, const ApiKeys& keys, std::function<std::int64_t()> clock)
    : engine_(engine), keys_(keys), clock_(std::move(clock)) {}

ApiResponse Dispatcher::Handle(const ApiRequest& request) {
  std::string_view path = request.target;
  path = path.substr(0, path.find('?'));
  const std::vector<std::string> parts = Split(path);
  const std::string& method = request.method;

  // Which route, before any key is looked at, so that unknown routes are 404 for all.
  std::string route;
  std::string org_id;
  std::vector<Role> roles;
  std::vector<std::string_view> methods;
  static constexpr auto B = Role::kBackend, A = Role::kAdmin, R = Role::kAuditor;
  if (path == "/healthz" || path == "/metrics") {
    route = path;
    methods = {"GET"};
  } else if (path == "/v1/check") {
    route = path;
    methods = {"POST"};
    roles = {B, A};
  } else if (path == "/v1/log/checkpoint") {
    route = path;
    methods = {"GET"};
    roles = {A, R};
  } else if (parts.size() == 5 && parts[0] == "v1" && parts[1] == "organization" &&
             !parts[2].empty() && parts[3] == "config" &&
             (parts[4] == "authentication" || parts[4] == "api-client-ip-allowlist")) {
    org_id = parts[2];
    route = parts[4] == "authentication" ? kPolicyRoute : kAllowlistRoute;
    methods = {"GET", parts[4] == "authentication" ? "PATCH" : "PUT"};
    roles = method == "GET" ? std::vector<Role>{B, A, R} : std::vector<Role>{A};
  } else {
    ApiResponse r = ErrorResponse(404, "not_found", "no such route");
    r.route = "unknown";
    return r;
  }

  auto finish = [&](ApiResponse r) {
    r.route = route;
    return r;
  };
  bool method_ok = false;
  for (auto m : methods) method_ok = method_ok || m == method;
  if (!method_ok) {
    return finish(ErrorResponse(405, "method_not_allowed", method + " is not allowed here"));
  }

  if (route == "/healthz") {
    Status h = engine_.health();
    if (!h.ok()) return finish(ErrorResponse(503, h.reason(), h.message()));
    return finish(
        Json(JsonObject().Str("status", "ok").Num("revision", engine_.revision()).Done()));
  }
  if (route == "/metrics") {
    ApiResponse r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = metrics_.Prometheus(engine_.revision());
    return finish(std::move(r));
  }

  constexpr std::string_view kBearer = "Bearer ";
  const ApiKey* key = nullptr;
  if (request.authorization.starts_with(kBearer)) {
    key = keys_.Find(std::string_view(request.authorization).substr(kBearer.size()));
  }
  if (key == nullptr) {
    return finish(
        ErrorResponse(401, "unauthenticated", "a valid `Authorization: Bearer <key>` is required"));
  }
  if (!Allowed(key->role, roles)) {
    return finish(ErrorResponse(
        403, "permission_denied",
        "role " + std::string(RoleName(key->role)) + " may not " + method + " " + route));
  }

  if (route == "/v1/check") return finish(Check(request));
  if (route == "/v1/log/checkpoint") return finish(LogCheckpoint());
  if (route == kPolicyRoute) return finish(Policy(request, *key, org_id));
  return finish(Allowlist(request, *key, org_id));
}

ApiResponse Dispatcher::Check(const ApiRequest& request) {
  JsonBody body;
  if (Status s = body.Parse(request.body); !s.ok()) return FromStatus(s);
  if (Status s = body.OnlyKeys({"token", "org_id", "ip", "time_us"}); !s.ok()) return FromStatus(s);
  Status error;
  std::optional<std::string> token, org_id, ip;
  std::optional<std::uint64_t> time_us;
  Read(body.String("token"), token, &error);
  Read(body.String("org_id"), org_id, &error);
  Read(body.String("ip"), ip, &error);
  Read(body.U64("time_us"), time_us, &error);
  if (!error.ok()) return FromStatus(error);
  if (!token || !org_id) return FromStatus(InvalidRequest("'token' and 'org_id' are required"));
  CheckContext ctx;
  ctx.time_us = time_us ? static_cast<std::int64_t>(*time_us) : clock_();
  ctx.ip = ip.value_or("");
  Decision d = engine_.CheckToken(*token, *org_id, ctx);
  metrics_.CountCheck(d.allowed, d.reason);
  return Json(cli::DecisionJson(d));
}

ApiResponse Dispatcher::Policy(const ApiRequest& request, const ApiKey& key,
                               const std::string& org_id) {
  if (request.method == "GET") {
    auto p = engine_.GetPolicy(org_id);
    if (!p.ok()) return FromStatus(p.status());
    return Json(PolicyObject(*p).Done());
  }
  JsonBody body;
  if (Status s = body.Parse(request.body); !s.ok()) return FromStatus(s);
  if (Status s = body.OnlyKeys(
          {"password_auth_enabled", "two_factor_required", "oauth_enabled", "oauth_providers",
           "saml_enabled", "saml_allow_external", "personal_tokens_enabled",
           "personal_tokens_require_allowed_auth_method", "expected_version", "force"});
      !s.ok()) {
    return FromStatus(s);
  }
  PolicyUpdate u;
  Status error;
  std::optional<bool> force;
  Read(body.Bool("password_auth_enabled"), u.password_auth_enabled, &error);
  Read(body.Bool("two_factor_required"), u.two_factor_required, &error);
  Read(body.Bool("oauth_enabled"), u.oauth_enabled, &error);
  Read(body.Strings("oauth_providers"), u.oauth_providers, &error);
  Read(body.Bool("saml_enabled"), u.saml_enabled, &error);
  Read(body.Bool("saml_allow_external"), u.saml_allow_external, &error);
  Read(body.Bool("personal_tokens_enabled"), u.personal_tokens_enabled, &error);
  Read(body.Bool("personal_tokens_require_allowed_auth_method"),
       u.personal_tokens_require_allowed_auth_method, &error);
  Read(body.U64("expected_version"), u.expected_version, &error);
  Read(body.Bool("force"), force, &error);
  if (!error.ok()) return FromStatus(error);
  u.force = force.value_or(false);

  Actor actor{Actor::Kind::kApiKey, key.name, request.peer_ip, {}};
  auto change = engine_.UpdatePolicy(actor, org_id, u);
  metrics_.CountCommand(change.ok());
  if (!change.ok()) return FromStatus(change.status());
  return Json(PolicyObject(change->after)
                  .Raw("impact", cli::ImpactJson(change->impact))
                  .Num("revision", change->revision)
                  .Done());
}

ApiResponse Dispatcher::Allowlist(const ApiRequest& request, const ApiKey& key,
                                  const std::string& org_id) {
  if (request.method == "GET") {
    auto a = engine_.GetIpAllowlist(org_id);
    if (!a.ok()) return FromStatus(a.status());
    return Json(AllowlistObject(*a).Done());
  }
  JsonBody body;
  if (Status s = body.Parse(request.body); !s.ok()) return FromStatus(s);
  if (Status s = body.OnlyKeys({"enabled", "cidrs"}); !s.ok()) return FromStatus(s);
  Status error;
  std::optional<bool> enabled;
  std::optional<std::vector<std::string>> cidrs;
  Read(body.Bool("enabled"), enabled, &error);
  Read(body.Strings("cidrs"), cidrs, &error);
  if (!error.ok()) return FromStatus(error);
  if (!enabled || !cidrs) return FromStatus(InvalidRequest("'enabled' and 'cidrs' are required"));

  Actor actor{Actor::Kind::kApiKey, key.name, request.peer_ip, {}};
  auto revision = engine_.UpdateIpAllowlist(actor, org_id, *enabled, *cidrs);
  metrics_.CountCommand(revision.ok());
  if (!revision.ok()) return FromStatus(revision.status());
  auto a = engine_.GetIpAllowlist(org_id);
  if (!a.ok()) return FromStatus(a.status());
  return Json(AllowlistObject(*a).Num("revision", *revision).Done());
}

ApiResponse Dispatcher::LogCheckpoint() {
  auto c = engine_.Checkpoint();
  if (!c.ok()) return FromStatus(c.status());
  return Json(CheckpointToJson(*c));
}

}  // namespace authledger::server
