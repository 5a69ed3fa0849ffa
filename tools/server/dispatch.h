// The HTTP/JSON routes of the server: each route names one request of the wire API
// (schema/wire.capnp); its path parameters, query and JSON body fill that request,
// Service answers it, and the answer's body member goes back as JSON. No sockets here
// (http_server.h has them).
//
// Routes (B backend, A admin, R auditor; "-" no key; bodies are the request's fields):
//   GET    /healthz                                                    -
//   GET    /metrics (Prometheus text)                                  -
//   POST   /v1/check                          check_token              B A
//   POST   /v1/check/personal-token           can_create_personal_token B A
//   POST   /v1/explain                        explain                  B A
//   POST   /v1/organization                   create_organization      A
//   POST   /v1/organization/{org_id}/domain   verify_domain            A
//   DELETE /v1/organization/{org_id}/domain/{domain}        unverify_domain   A
//   POST   /v1/organization/{org_id}/idp      add_idp                  A
//   DELETE /v1/organization/{org_id}/idp/{idp_id}           remove_idp        A
//   PUT    /v1/organization/{org_id}/member/{user_id}       add_member        A
//   DELETE /v1/organization/{org_id}/member/{user_id}       remove_member     A
//   POST   /v1/organization/{org_id}/member/{user_id}/deactivate   deactivate_user  A
//   POST   /v1/organization/{org_id}/member/{user_id}/reactivate   reactivate_user  A
//   POST   /v1/organization/{org_id}/application-user               create_application_user A
//   DELETE /v1/organization/{org_id}/application-user/{user_id}     delete_application_user A
//   POST   /v1/organization/{org_id}/application-user/{app_user_id}/token
//                                             create_application_token A
//   GET    /v1/organization/{org_id}/config/authentication          get_policy     B A R
//   PATCH  /v1/organization/{org_id}/config/authentication          update_policy  A
//          (with "dry_run": true or ?dry_run=true: the impact only  A R)
//   GET    /v1/organization/{org_id}/config/api-client-ip-allowlist get_ip_allowlist B A R
//   PUT    /v1/organization/{org_id}/config/api-client-ip-allowlist update_ip_allowlist A
//   POST   /v1/user                           register_user            B A
//   POST   /v1/user/{user_id}/two-factor/enable   enable_two_factor    B A
//   POST   /v1/user/{user_id}/two-factor/disable  disable_two_factor   B A
//   POST   /v1/user/{user_id}/expire-tokens   expire_user_tokens       A
//   POST   /v1/login                          record_login             B A
//   DELETE /v1/session/{session_prefix}       end_session              B A
//   POST   /v1/session/{session_prefix}/token create_personal_token    B A
//   DELETE /v1/token/{token_prefix}[?org_id=] revoke_token             B A (A with org_id)
//   GET    /v1/audit/policy/{org_id}[?from_us&to_us]                   audit_policy  A R
//   GET    /v1/audit/policy/{org_id}/at[?seq|time_us]                  policy_at     A R
//   GET    /v1/audit/token/{token_prefix}[?ip]                         audit_token   A R
//   GET    /v1/audit/explain/{token_prefix}/{org_id}[?at_seq|at_us&time_us&ip]
//                                                                      audit_explain A R
//   GET    /v1/audit/impact/{seq}                                      audit_impact  A R
//   GET    /v1/audit/who/{org_id}[?seq|time_us]                        audit_who     A R
//   GET    /v1/audit/events[?org_id&user_id&token_prefix&types=a,b&actor_id&from_seq&to_seq
//                           &from_us&to_us&limit]                      audit_events  A R
//   GET    /v1/log/checkpoint                                          checkpoint    A R
//   GET    /v1/log/proof/inclusion/{seq}[?tree_size]                   inclusion_proof A R
//   GET    /v1/log/proof/consistency?old_size&new_size                 consistency_proof A R
// Commands may name the user they act for with the headers X-On-Behalf-Of (user id),
// X-As-Admin (true), X-Client-IP and X-Request-Id. Errors are {"reason", "message"}.
//
// Thread-safety: Handle may be called from any number of threads at once.
#pragma once

#include <authledger/engine.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "tools/server/api_keys.h"
#include "tools/server/service.h"

namespace authledger::server {

struct ApiRequest {
  std::string method;         // "GET", "POST", …
  std::string target;         // path, optionally with a query
  std::string authorization;  // the Authorization header's value, or empty
  std::string body;
  std::string peer_ip;
  std::string on_behalf_of;  // X-On-Behalf-Of
  bool as_admin = false;     // X-As-Admin: true
  std::string client_ip;     // X-Client-IP
  std::string request_id;    // X-Request-Id
};

struct ApiResponse {
  unsigned status = 200;
  std::string_view content_type = "application/json";  // a literal (static storage)
  std::string body;
  std::string route;  // the route's pattern, for logs and metrics; never holds a secret
};

class Dispatcher {
 public:
  // With `fast_check` false, POST /v1/check takes the general path only: the reference
  // its fast path (TryFastCheck) is tested against.
  explicit Dispatcher(Service& service, bool fast_check = true);

  ApiResponse Handle(const ApiRequest& request);
  // Whether the route of (method, target) may wait for the disk (Service::Blocking).
  static bool Blocking(std::string_view method, std::string_view target);

 private:
  // The key of the request's `Authorization: Bearer <key>`, or nullptr.
  const ApiKey* KeyOf(const ApiRequest& request) const;
  // POST /v1/check without the dynamic codec (check_json.h), when its body has the usual
  // shape and the answer is a Decision; nullopt, with nothing done, otherwise.
  std::optional<ApiResponse> TryFastCheck(const ApiRequest& request);

  Service& service_;
  const bool fast_check_;
};

// {"reason": reason, "message": message} with `status`.
ApiResponse ErrorResponse(unsigned status, std::string_view reason, std::string_view message);

}  // namespace authledger::server
