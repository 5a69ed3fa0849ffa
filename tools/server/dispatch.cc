#include "tools/server/dispatch.h"

#include <capnp/dynamic.h>
#include <capnp/message.h>

#include <array>
#include <string_view>
#include <vector>

#include "replay/json_writer.h"
#include "tools/server/check_json.h"
#include "tools/server/wire_json.h"

namespace authledger::server {
namespace {

// First segment of a request's message (a check fits; larger requests grow it).
constexpr unsigned kRequestWords = 256;

struct Route {
  std::string_view method;
  std::string_view pattern;  // segments; "{name}" binds a parameter
  std::string_view member;   // the Request.body member (schema name)
  bool has_body;
};

// The first is POST /v1/check, which has a fast path (TryFastCheck).
constexpr std::array kRoutes = {
    Route{"POST", "/v1/check", "checkToken", true},
    Route{"POST", "/v1/check/personal-token", "canCreatePersonalToken", true},
    Route{"POST", "/v1/explain", "explain", true},
    Route{"POST", "/v1/organization", "createOrganization", true},
    Route{"POST", "/v1/organization/{org_id}/domain", "verifyDomain", true},
    Route{"DELETE", "/v1/organization/{org_id}/domain/{domain}", "unverifyDomain", false},
    Route{"POST", "/v1/organization/{org_id}/idp", "addIdp", true},
    Route{"DELETE", "/v1/organization/{org_id}/idp/{idp_id}", "removeIdp", false},
    Route{"PUT", "/v1/organization/{org_id}/member/{user_id}", "addMember", false},
    Route{"DELETE", "/v1/organization/{org_id}/member/{user_id}", "removeMember", false},
    Route{"POST", "/v1/organization/{org_id}/member/{user_id}/deactivate", "deactivateUser", false},
    Route{"POST", "/v1/organization/{org_id}/member/{user_id}/reactivate", "reactivateUser", false},
    Route{"POST", "/v1/organization/{org_id}/application-user", "createApplicationUser", true},
    Route{"DELETE", "/v1/organization/{org_id}/application-user/{user_id}", "deleteApplicationUser",
          false},
    Route{"POST", "/v1/organization/{org_id}/application-user/{app_user_id}/token",
          "createApplicationToken", true},
    Route{"GET", "/v1/organization/{org_id}/config/authentication", "getPolicy", false},
    Route{"PATCH", "/v1/organization/{org_id}/config/authentication", "updatePolicy", true},
    Route{"GET", "/v1/organization/{org_id}/config/api-client-ip-allowlist", "getIpAllowlist",
          false},
    Route{"PUT", "/v1/organization/{org_id}/config/api-client-ip-allowlist", "updateIpAllowlist",
          true},
    Route{"POST", "/v1/user", "registerUser", true},
    Route{"POST", "/v1/user/{user_id}/two-factor/enable", "enableTwoFactor", false},
    Route{"POST", "/v1/user/{user_id}/two-factor/disable", "disableTwoFactor", false},
    Route{"POST", "/v1/user/{user_id}/expire-tokens", "expireUserTokens", false},
    Route{"POST", "/v1/login", "recordLogin", true},
    Route{"DELETE", "/v1/session/{session_prefix}", "endSession", false},
    Route{"POST", "/v1/session/{session_prefix}/token", "createPersonalToken", true},
    Route{"DELETE", "/v1/token/{token_prefix}", "revokeToken", false},
    Route{"GET", "/v1/audit/policy/{org_id}", "auditPolicy", false},
    Route{"GET", "/v1/audit/policy/{org_id}/at", "policyAt", false},
    Route{"GET", "/v1/audit/token/{token_prefix}", "auditToken", false},
    Route{"GET", "/v1/audit/explain/{token_prefix}/{org_id}", "auditExplain", false},
    Route{"GET", "/v1/audit/impact/{seq}", "auditImpact", false},
    Route{"GET", "/v1/audit/who/{org_id}", "auditWho", false},
    Route{"GET", "/v1/audit/events", "auditEvents", false},
    Route{"GET", "/v1/log/checkpoint", "checkpoint", false},
    Route{"GET", "/v1/log/proof/inclusion/{seq}", "inclusionProof", false},
    Route{"GET", "/v1/log/proof/consistency", "consistencyProof", false},
};

std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t start = 1;  // past the leading '/'
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    out.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding ('+' is a space in a query); nullopt on a bad escape or a NUL.
std::optional<std::string> Unescape(std::string_view text, bool query) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int hi = HexDigit(text[i + 1]);
      const int lo = HexDigit(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && query) {
      c = ' ';
    }
    if (c == '\0') return std::nullopt;
    out.push_back(c);
  }
  return out;
}

// The segments of every route's pattern, split once.
const std::vector<std::vector<std::string_view>>& PatternSegments() {
  static const auto* const all = [] {
    auto* out = new std::vector<std::vector<std::string_view>>();
    for (const Route& r : kRoutes) out->push_back(Segments(r.pattern));
    return out;
  }();
  return *all;
}

// Binds the route's "{name}" segments; false unless every literal segment matches.
bool Match(const std::vector<std::string_view>& want, const std::vector<std::string_view>& segments,
           Params* params) {
  if (want.size() != segments.size()) return false;
  Params bound;
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (want[i].starts_with('{')) {
      if (segments[i].empty()) return false;
      bound.emplace_back(std::string(want[i].substr(1, want[i].size() - 2)),
                         std::string(segments[i]));
    } else if (want[i] != segments[i]) {
      return false;
    }
  }
  *params = std::move(bound);
  return true;
}

// The route (method, path) names, or nullptr; *path_known if another method would match.
const Route* FindRoute(std::string_view method, const std::vector<std::string_view>& segments,
                       Params* params, bool* path_known) {
  for (std::size_t i = 0; i < kRoutes.size(); ++i) {
    const Route& candidate = kRoutes[i];
    Params bound;
    if (!Match(PatternSegments()[i], segments, &bound)) continue;
    *path_known = true;
    if (candidate.method != method) continue;
    *params = std::move(bound);
    return &candidate;
  }
  return nullptr;
}

// Service::Blocking of every route's request, found once.
const std::array<bool, kRoutes.size()>& RouteBlocking() {
  static const auto all = [] {
    std::array<bool, kRoutes.size()> out{};
    for (std::size_t i = 0; i < kRoutes.size(); ++i) {
      const auto field = capnp::Schema::from<wire::Request::Body>().getFieldByName(
          kj::StringPtr(kRoutes[i].member.data(), kRoutes[i].member.size()));
      out[i] = Service::Blocking(
          static_cast<wire::Request::Body::Which>(field.getProto().getDiscriminantValue()));
    }
    return out;
  }();
  return all;
}

}  // namespace

bool Dispatcher::Blocking(std::string_view method, std::string_view target) {
  // The check, asked most often, without splitting the path.
  if (method == kRoutes[0].method && target == kRoutes[0].pattern) return RouteBlocking()[0];
  const std::string_view path = target.substr(0, target.find('?'));
  Params params;
  bool path_known = false;
  const Route* route = FindRoute(method, Segments(path), &params, &path_known);
  if (route == nullptr) return false;
  return RouteBlocking()[static_cast<std::size_t>(route - kRoutes.data())];
}

ApiResponse ErrorResponse(unsigned status, std::string_view reason, std::string_view message) {
  ApiResponse r;
  r.status = status;
  r.body = replay::JsonObject().Str("reason", reason).Str("message", message).Done();
  return r;
}

Dispatcher::Dispatcher(Service& service, bool fast_check)
    : service_(service), fast_check_(fast_check) {}

const ApiKey* Dispatcher::KeyOf(const ApiRequest& request) const {
  constexpr std::string_view kBearer = "Bearer ";
  if (!request.authorization.starts_with(kBearer)) return nullptr;
  return service_.Authenticate(std::string_view(request.authorization).substr(kBearer.size()));
}

std::optional<ApiResponse> Dispatcher::TryFastCheck(const ApiRequest& request) {
  CheckBody body;
  if (!TryDecodeCheckBody(request.body, &body)) return std::nullopt;
  Caller caller;
  caller.key = KeyOf(request);
  // The X-On-Behalf-Of headers name an actor, which a check does not use.
  std::optional<Decision> decision =
      service_.TryCheckToken(caller, body.token, body.org_id, body.ip, body.time_us);
  if (!decision) return std::nullopt;
  ApiResponse r;
  r.route = kRoutes[0].pattern;
  AppendDecisionJson(*decision, r.body);
  service_.metrics().CountRequest("http", "ok");
  return r;
}

ApiResponse Dispatcher::Handle(const ApiRequest& request) {
  if (fast_check_ && request.method == kRoutes[0].method && request.target == kRoutes[0].pattern) {
    if (auto r = TryFastCheck(request)) return std::move(*r);
  }
  std::string_view target = request.target;
  const std::size_t q = target.find('?');
  const std::string_view path = target.substr(0, q);
  const std::string_view query = q == std::string_view::npos ? "" : target.substr(q + 1);
  Engine& engine = service_.engine();

  if (path == "/healthz" || path == "/metrics") {
    ApiResponse r;
    r.route = path;
    if (request.method != "GET") {
      r = ErrorResponse(405, "method_not_allowed", request.method + " is not allowed here");
    } else if (path == "/metrics") {
      r.content_type = "text/plain; version=0.0.4";
      r.body = service_.metrics().Prometheus(engine.revision());
    } else {
      capnp::MallocMessageBuilder message;
      auto req = message.initRoot<wire::Request>();
      req.getBody().setHealth();
      auto res = message.getOrphanage().newOrphan<wire::Response>();
      r.status = service_.Handle(Caller{}, req.asReader(), res.get());
      r.body = EncodeResponseBody(res.getReader());
    }
    r.route = path;
    return r;
  }

  const std::vector<std::string_view> segments = Segments(path);
  bool path_known = false;
  Params params;
  const Route* route = FindRoute(request.method, segments, &params, &path_known);
  if (route == nullptr) {
    // Without a valid key, every route is answered alike: which routes exist is not
    // told to a caller who may call none of them.
    ApiResponse r =
        KeyOf(request) == nullptr ? ErrorResponse(401, "unauthenticated", kUnauthenticatedMessage)
        : path_known
            ? ErrorResponse(405, "method_not_allowed", request.method + " is not allowed here")
            : ErrorResponse(404, "not_found", "no such route");
    r.route = "unknown";
    return r;
  }
  auto finish = [&](ApiResponse r) {
    r.route = route->pattern;
    return r;
  };
  for (auto& [name, value] : params) {
    auto text = Unescape(value, /*query=*/false);
    if (!text) return finish(ErrorResponse(400, "invalid_request", "bad escape in the path"));
    value = *text;
  }
  std::size_t start = 0;
  while (start < query.size()) {
    std::size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    const std::string_view pair = query.substr(start, end - start);
    start = end + 1;
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    auto name = Unescape(pair.substr(0, eq), true);
    auto value = Unescape(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
    if (!name || !value) {
      return finish(ErrorResponse(400, "invalid_request", "bad escape in the query"));
    }
    params.emplace_back(std::move(*name), std::move(*value));
  }
  if (!route->has_body && !request.body.empty()) {
    return finish(ErrorResponse(400, "invalid_request", "this route takes no body"));
  }

  capnp::MallocMessageBuilder message(kRequestWords);
  auto req = message.initRoot<wire::Request>();
  if (!request.on_behalf_of.empty() || !request.client_ip.empty() || !request.request_id.empty()) {
    auto on_behalf = req.initOnBehalfOf();
    on_behalf.setUserId(request.on_behalf_of);
    on_behalf.setAsAdmin(request.as_admin);
    on_behalf.setIp(request.client_ip);
    on_behalf.setRequestId(request.request_id);
  }
  capnp::DynamicStruct::Builder body = capnp::toDynamic(req).get("body").as<capnp::DynamicStruct>();
  const auto field =
      body.getSchema().getFieldByName(kj::StringPtr(route->member.data(), route->member.size()));
  if (field.getType().isVoid()) {
    if (!params.empty()) {
      return finish(ErrorResponse(400, "invalid_request",
                                  "unknown parameter '" + params.front().first + "'"));
    }
    body.set(field, capnp::VOID);
  } else {
    auto member = body.init(field).as<capnp::DynamicStruct>();
    if (Status s = DecodeRequest(request.body, params, member); !s.ok()) {
      return finish(ErrorResponse(400, s.reason(), s.message()));
    }
  }

  Caller caller;
  caller.peer_ip = request.peer_ip;
  caller.key = KeyOf(request);
  auto res = message.getOrphanage().newOrphan<wire::Response>();
  ApiResponse r;
  r.status = service_.Handle(caller, req.asReader(), res.get());
  auto answer = res.getReader();
  service_.metrics().CountRequest(
      "http", answer.getBody().isError() ? answer.getBody().getError().getReason().cStr() : "ok");
  r.body = EncodeResponseBody(answer);
  return finish(std::move(r));
}

}  // namespace authledger::server
