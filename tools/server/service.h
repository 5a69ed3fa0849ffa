// The server's API without sockets or encodings: one wire::Request (schema/wire.capnp)
// in, one wire::Response out. The binary protocol and the HTTP/JSON routes both call
// it, so both answer every request identically.
//
// Who may do what (roles of the caller's API key):
//   backend  checks and explain; register users; logins, sessions, personal tokens;
//            the owner's own revocations; 2FA; reading policies and allowlists.
//   admin    everything a backend may, plus organization set-up (domains, IdPs,
//            members, application users and their tokens), policy and allowlist
//            updates, revocations by an organization, expiring a user's tokens, and
//            every audit and log request.
//   auditor  audit and log requests, reading policies and allowlists, and policy
//            dry runs — nothing that appends to the log.
// `health` needs no key. A request without a valid key gets `unauthenticated`, one
// its role may not make `permission_denied`.
//
// Audit requests read the log through an Auditor opened read-only beside the engine
// and reopened when the engine has moved past it, so they see every event durable
// when they start.
//
// Thread-safety: Handle may be called from any number of threads at once.
#pragma once

#include <authledger/audit.h>
#include <authledger/engine.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "schema/wire.capnp.h"
#include "tools/server/api_keys.h"

namespace authledger::server {

// Counters behind GET /metrics.
// Counted on every request from any thread: counters live in per-thread shards (an
// uncontended lock and no allocation once a key has been seen) and are added up when
// scraped.
class Metrics {
 public:
  void CountCheck(bool allowed, const std::string& reason);
  // A command that reached the engine, with how long it took to become durable (or
  // to be refused).
  void CountCommand(bool ok, std::int64_t latency_us);
  void CountRequest(std::string_view encoding, std::string_view outcome);
  std::string Prometheus(std::uint64_t log_size);

 private:
  static constexpr std::array<std::int64_t, 12> kBucketsUs = {
      100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000};
  struct alignas(64) Shard {
    std::mutex mu;
    // "allowed|reason" / "encoding|outcome" → count
    std::map<std::string, std::uint64_t, std::less<>> checks;
    std::map<std::string, std::uint64_t, std::less<>> requests;
  };
  static constexpr std::size_t kShards = 16;
  static void Count(Shard& shard, std::map<std::string, std::uint64_t, std::less<>> Shard::*map,
                    std::string_view a, std::string_view b);
  Shard& MyShard();

  std::array<Shard, kShards> shards_;
  mutable std::mutex mu_;  // the command counters below
  std::uint64_t commands_ok_ = 0;
  std::uint64_t commands_rejected_ = 0;
  std::array<std::uint64_t, kBucketsUs.size()> latency_buckets_{};
  std::uint64_t latency_count_ = 0;
  std::int64_t latency_sum_us_ = 0;
};

// The message of a 401 (`unauthenticated`): a route other than /healthz and /metrics was
// called without a valid API key.
inline constexpr std::string_view kUnauthenticatedMessage =
    "a valid API key is required (`Authorization: Bearer <key>`, or `authenticate` first on "
    "the binary protocol)";

// Who is calling: the key (nullptr = none or not valid) and the peer's address.
struct Caller {
  const ApiKey* key = nullptr;
  std::string peer_ip;
};

class Service {
 public:
  // `engine` and `keys` must outlive the service; `data_dir` is the engine's directory
  // (for audit and proof requests); `clock` gives µs since the epoch.
  Service(Engine& engine, const ApiKeys& keys, std::string data_dir,
          std::function<std::int64_t()> clock);
  ~Service();

  // Answers `request` into `response` (its id copied) and returns the HTTP status that
  // goes with the answer (200, or the error's).
  unsigned Handle(const Caller& caller, wire::Request::Reader request,
                  wire::Response::Builder response);

  // The Decision that Handle answers to a CheckToken {token, org_id, ip, time_us} from
  // `caller`, counted in the metrics as Handle counts it, when that is the answer: the
  // caller's key may check, and token and org_id are given. nullopt otherwise, with
  // nothing done or counted (the front end then asks Handle, which says what is wrong).
  // The fast path of POST /v1/check (dispatch.cc).
  std::optional<Decision> TryCheckToken(const Caller& caller, std::string_view token,
                                        std::string_view org_id, std::string_view ip,
                                        std::int64_t time_us);

  // Whether answering may wait for the disk (commands, audit queries, proofs), so that
  // a front end runs it off its network threads.
  static bool Blocking(wire::Request::Body::Which which);

  // The key whose secret is `secret`, or nullptr.
  const ApiKey* Authenticate(std::string_view secret) const { return keys_.Find(secret); }

  Metrics& metrics() { return metrics_; }
  Engine& engine() { return engine_; }

 private:
  struct Call;
  unsigned Dispatch(Call& call);
  // A check, counted in the metrics: what both Handle and TryCheckToken run.
  Decision CheckToken(std::string_view token, std::string_view org_id, std::string_view ip,
                      std::int64_t time_us);
  unsigned Audit(Call& call);
  Result<std::shared_ptr<const Auditor>> CurrentAuditor();

  Engine& engine_;
  const ApiKeys& keys_;
  std::string data_dir_;
  std::function<std::int64_t()> clock_;
  Metrics metrics_;
  std::mutex auditor_mu_;
  std::shared_ptr<const Auditor> auditor_;  // guarded by auditor_mu_
};

// Fills `response` with an error and returns `status`.
unsigned SetError(wire::Response::Builder response, unsigned status, std::string_view reason,
                  std::string_view message);

}  // namespace authledger::server
