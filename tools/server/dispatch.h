// The server's API without sockets: one request (method, path, key, body, peer address)
// in, one response (HTTP status, JSON body) out. The HTTP front end (http_server.h)
// and a future binary protocol share it.
//
// Routes (roles: B backend, A admin, R auditor; "-" no key):
//   GET   /healthz                                              -
//   GET   /metrics (Prometheus text; counters only, no ids)      -
//   POST  /v1/check                                             B A
//   GET   /v1/organization/{org_id}/config/authentication       B A R
//   PATCH /v1/organization/{org_id}/config/authentication       A
//   GET   /v1/organization/{org_id}/config/api-client-ip-allowlist  B A R
//   PUT   /v1/organization/{org_id}/config/api-client-ip-allowlist  A
//   GET   /v1/log/checkpoint                                    A R
// Errors are {"reason": <stable code>, "message": ...}.
//
// Thread-safety: Handle may be called from any number of threads at once.
#pragma once

#include <authledger/engine.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "tools/server/api_keys.h"

namespace authledger::server {

struct ApiRequest {
  std::string method;         // "GET", "POST", …
  std::string target;         // path, optionally with a query (ignored)
  std::string authorization;  // the Authorization header's value, or empty
  std::string body;
  std::string peer_ip;
};

struct ApiResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::string route;  // the route's pattern, for logs and metrics; never holds a secret
};

// Counters behind GET /metrics.
class Metrics {
 public:
  void CountCheck(bool allowed, const std::string& reason);
  void CountCommand(bool ok);
  std::string Prometheus(std::uint64_t log_size) const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<bool, std::string>, std::uint64_t> checks_;
  std::uint64_t commands_ok_ = 0;
  std::uint64_t commands_rejected_ = 0;
};

class Dispatcher {
 public:
  // `engine` and `keys` must outlive the dispatcher; `clock` gives µs since the epoch.
  Dispatcher(Engine& engine, const ApiKeys& keys, std::function<std::int64_t()> clock);

  ApiResponse Handle(const ApiRequest& request);

 private:
  ApiResponse Check(const ApiRequest& request);
  ApiResponse Policy(const ApiRequest& request, const ApiKey& key, const std::string& org_id);
  ApiResponse Allowlist(const ApiRequest& request, const ApiKey& key, const std::string& org_id);
  ApiResponse LogCheckpoint();

  Engine& engine_;
  const ApiKeys& keys_;
  std::function<std::int64_t()> clock_;
  Metrics metrics_;
};

// {"reason": reason, "message": message} with `status`.
ApiResponse ErrorResponse(unsigned status, std::string_view reason, std::string_view message);

}  // namespace authledger::server
