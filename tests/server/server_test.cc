// The HTTP server end to end: started in-process on an ephemeral loopback port with a
// temporary data directory, called with a small synchronous Beast client.
#include <utility>
//
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <chrono>
#include <future>
#include <thread>

#include "tests/server/server_fixture.h"

namespace authledger::server {
namespace {

using namespace testing_support;  // NOLINT: the fixture's vocabulary

TEST_F(ServerTest, HealthzNeedsNoKey) {
  auto res = Connect().Send(http::verb::get, "/healthz");
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_TRUE(Has(res, "\"status\":\"ok\"")) << res.body();
}

TEST_F(ServerTest, MissingOrWrongKeyIsUnauthenticated) {
  Client c = Connect();
  auto none = c.Send(http::verb::get, "/v1/log/checkpoint");
  EXPECT_EQ(none.result_int(), 401u);
  EXPECT_TRUE(Has(none, "\"reason\":\"unauthenticated\"")) << none.body();
  auto wrong = c.Send(http::verb::get, "/v1/log/checkpoint", "not-a-key-0123456789");
  EXPECT_EQ(wrong.result_int(), 401u);
  EXPECT_TRUE(Has(wrong, "\"reason\":\"unauthenticated\""));
}

TEST_F(ServerTest, AuditorMayReadButNotPatchThePolicy) {
  AliceSession();
  Client c = Connect();
  EXPECT_EQ(c.Send(http::verb::get, kPolicyPath, kAuditorKey).result_int(), 200u);
  auto res = c.Send(http::verb::patch, kPolicyPath, kAuditorKey, R"({"saml_enabled":false})");
  EXPECT_EQ(res.result_int(), 403u);
  EXPECT_TRUE(Has(res, "\"reason\":\"permission_denied\"")) << res.body();
  auto backend = c.Send(http::verb::patch, kPolicyPath, kBackendKey, R"({"saml_enabled":false})");
  EXPECT_EQ(backend.result_int(), 403u);
  EXPECT_TRUE(Has(c.Send(http::verb::get, kPolicyPath, kAuditorKey), "\"saml_enabled\":true"));
}

TEST_F(ServerTest, BackendCheckIsAllowedThenDeniedWithTheReasonAfterAPolicyChange) {
  const std::string secret = AliceSession();
  Client c = Connect();
  const std::string check = R"({"token":")" + secret + R"(","org_id":"acme","ip":"203.0.113.7"})";
  auto allowed = c.Send(http::verb::post, "/v1/check", kBackendKey, check);
  EXPECT_EQ(allowed.result_int(), 200u);
  EXPECT_TRUE(Has(allowed, "\"allowed\":true")) << allowed.body();
  EXPECT_FALSE(Has(allowed, secret)) << "a check must not echo the secret";

  auto patch =
      c.Send(http::verb::patch, kPolicyPath, kAdminKey, R"({"password_auth_enabled":false})");
  ASSERT_EQ(patch.result_int(), 200u) << patch.body();
  EXPECT_TRUE(Has(patch, "\"user_password_authentication_method_not_allowed\"")) << patch.body();

  auto denied = c.Send(http::verb::post, "/v1/check", kBackendKey, check);
  EXPECT_EQ(denied.result_int(), 200u);
  EXPECT_TRUE(Has(denied, "\"allowed\":false")) << denied.body();
  EXPECT_TRUE(Has(denied, "user_password_authentication_method_not_allowed")) << denied.body();

  auto auditor = c.Send(http::verb::post, "/v1/check", kAuditorKey, check);
  EXPECT_EQ(auditor.result_int(), 403u);
}

TEST_F(ServerTest, PatchIsPartialAndAStaleExpectedVersionConflicts) {
  AliceSession();
  Client c = Connect();
  auto patch = c.Send(http::verb::patch, kPolicyPath, kAdminKey,
                      R"({"two_factor_required":true,"expected_version":1})");
  ASSERT_EQ(patch.result_int(), 200u) << patch.body();
  EXPECT_TRUE(Has(patch, "\"version\":2")) << patch.body();
  EXPECT_TRUE(Has(patch, "\"two_factor_required\":true"));
  EXPECT_TRUE(Has(patch, "\"password_auth_enabled\":true")) << "untouched fields keep their value";
  EXPECT_TRUE(Has(patch, "\"impact\":"));

  auto stale = c.Send(http::verb::patch, kPolicyPath, kAdminKey,
                      R"({"saml_enabled":false,"expected_version":1})");
  EXPECT_EQ(stale.result_int(), 409u);
  EXPECT_TRUE(Has(stale, "\"reason\":\"conflict\"")) << stale.body();
  auto now = c.Send(http::verb::get, kPolicyPath, kAuditorKey);
  EXPECT_TRUE(Has(now, "\"version\":2")) << now.body();
  EXPECT_TRUE(Has(now, "\"saml_enabled\":true"));
}

TEST_F(ServerTest, AllowlistThatBlocksTheCallerIsRefused) {
  AliceSession();
  Client c = Connect();
  auto blocking = c.Send(http::verb::put, kAllowlistPath, kAdminKey,
                         R"({"enabled":true,"cidrs":["10.0.0.0/8"]})");
  EXPECT_EQ(blocking.result_int(), 422u);
  EXPECT_TRUE(Has(blocking, "api_client_ip_allowlist_blocks_caller")) << blocking.body();

  auto ok = c.Send(http::verb::put, kAllowlistPath, kAdminKey,
                   R"({"enabled":true,"cidrs":["127.0.0.0/8","10.0.0.0/8"]})");
  EXPECT_EQ(ok.result_int(), 200u) << ok.body();
  auto read = c.Send(http::verb::get, kAllowlistPath, kBackendKey);
  EXPECT_TRUE(Has(read, "\"enabled\":true")) << read.body();
  EXPECT_TRUE(Has(read, "127.0.0.0/8"));
}

TEST_F(ServerTest, InvalidJsonAndWrongTypesAreInvalidRequest) {
  AliceSession();
  Client c = Connect();
  for (const char* body : {"{not json", "[1,2]", R"({"token":1,"org_id":"acme"})",
                           R"({"org_id":"acme"})", R"({"token":"x","org_id":"acme","extra":1})"}) {
    auto res = c.Send(http::verb::post, "/v1/check", kBackendKey, body);
    EXPECT_EQ(res.result_int(), 400u) << body;
    EXPECT_TRUE(Has(res, "\"reason\":\"invalid_request\"")) << body << " → " << res.body();
  }
  auto patch = c.Send(http::verb::patch, kPolicyPath, kAdminKey, R"({"saml_enabled":"no"})");
  EXPECT_EQ(patch.result_int(), 400u);
}

TEST_F(ServerTest, OversizedBodyIs413AndTheConnectionCloses) {
  Client c = Connect();
  // The header announces the size; the server answers before any body is sent.
  c.SendRaw(
      "POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 100000\r\n\r\n");
  auto res = c.Read();
  EXPECT_EQ(res.result_int(), 413u);
  EXPECT_TRUE(Has(res, "\"reason\":\"body_too_large\"")) << res.body();
  EXPECT_TRUE(c.Closed());
}

TEST_F(ServerTest, UnknownRouteIs404AndWrongMethodIs405) {
  Client c = Connect();
  auto unknown = c.Send(http::verb::get, "/v1/nothing", kAdminKey);
  EXPECT_EQ(unknown.result_int(), 404u);
  EXPECT_TRUE(Has(unknown, "\"reason\":\"not_found\""));
  EXPECT_EQ(c.Send(http::verb::get, "/v1/organization/acme/config/other", kAuditorKey).result_int(),
            404u);
  auto wrong = c.Send(http::verb::delete_, kPolicyPath, kAdminKey);
  EXPECT_EQ(wrong.result_int(), 405u);
  EXPECT_TRUE(Has(wrong, "\"reason\":\"method_not_allowed\""));
}

TEST_F(ServerTest, WithoutAValidKeyNoRouteIsToldApartFromAnother) {
  // Unknown paths, wrong methods and real routes all answer 401 to a caller without a
  // valid key, so routes cannot be probed without one.
  Client c = Connect();
  for (const char* key : {"", "not-a-key"}) {
    for (auto [verb, path] :
         {std::pair{http::verb::get, "/v1/nothing"}, std::pair{http::verb::delete_, kPolicyPath},
          std::pair{http::verb::get, kPolicyPath}}) {
      auto res = c.Send(verb, path, key);
      EXPECT_EQ(res.result_int(), 401u) << path << " key '" << key << "'";
      EXPECT_TRUE(Has(res, "\"reason\":\"unauthenticated\"")) << res.body();
    }
  }
  // /healthz and /metrics need no key.
  EXPECT_EQ(c.Send(http::verb::get, "/healthz").result_int(), 200u);
}

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  Client c = Connect();
  for (int i = 0; i < 20; ++i) {
    auto res = c.Send(http::verb::get, "/healthz");
    ASSERT_EQ(res.result_int(), 200u);
    EXPECT_TRUE(res.keep_alive());
  }
}

TEST_F(ServerTest, CheckpointIsForAuditorsAndAdmins) {
  AliceSession();
  Client c = Connect();
  auto res = c.Send(http::verb::get, "/v1/log/checkpoint", kAuditorKey);
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_TRUE(Has(res, "\"size\":")) << res.body();
  EXPECT_TRUE(Has(res, "\"root\":"));
  EXPECT_EQ(c.Send(http::verb::get, "/v1/log/checkpoint", kBackendKey).result_int(), 403u);
}

TEST_F(ServerTest, MetricsCountChecksByResultAndReason) {
  const std::string secret = AliceSession();
  Client c = Connect();
  c.Send(http::verb::post, "/v1/check", kBackendKey,
         R"({"token":")" + secret + R"(","org_id":"acme"})");
  c.Send(http::verb::post, "/v1/check", kBackendKey, R"({"token":"bogus","org_id":"acme"})");
  auto res = c.Send(http::verb::get, "/metrics");
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_TRUE(Has(res, "authledger_checks_total{result=\"allowed\",reason=\"ok\"} 1"))
      << res.body();
  EXPECT_TRUE(Has(res, "authledger_checks_total{result=\"denied\""));
  EXPECT_TRUE(Has(res, "authledger_log_size "));
  EXPECT_FALSE(Has(res, secret));
}

TEST_F(ServerTest, MalformedRequestLineGets400AndTheServerLivesOn) {
  for (const char* garbage : {"GARBAGE\r\n\r\n", "GET / HTTP/9.9\r\n\r\n", "\x01\x02\x03\r\n\r\n",
                              "GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n"}) {
    Client c = Connect();
    c.SendRaw(garbage);
    auto res = c.Read();
    EXPECT_EQ(res.result_int(), 400u) << garbage;
  }
  EXPECT_EQ(Connect().Send(http::verb::get, "/healthz").result_int(), 200u);
}

TEST_F(ServerTest, ConnectionsBeyondTheLimitGet503) {
  server_.reset();
  StartServer(/*max_connections=*/2);
  Client a = Connect();
  Client b = Connect();
  ASSERT_EQ(a.Send(http::verb::get, "/healthz").result_int(), 200u);
  ASSERT_EQ(b.Send(http::verb::get, "/healthz").result_int(), 200u);
  Client third = Connect();
  auto res = third.Read();
  EXPECT_EQ(res.result_int(), 503u);
  EXPECT_TRUE(Has(res, "too_many_connections"));
  EXPECT_EQ(a.Send(http::verb::get, "/healthz").result_int(), 200u);
}

TEST_F(ServerTest, RequestsAreLoggedOnlyWithTheAccessLog) {
  Client quiet = Connect();
  EXPECT_EQ(quiet.Send(http::verb::get, "/healthz").result_int(), 200u);
  server_->Stop();
  EXPECT_NE(log_.str().find("listening on"), std::string::npos) << log_.str();
  EXPECT_EQ(log_.str().find("route="), std::string::npos) << log_.str();

  server_.reset();
  access_log_ = true;
  StartServer();
  Client logged = Connect();
  EXPECT_EQ(logged.Send(http::verb::get, "/healthz").result_int(), 200u);
  EXPECT_EQ(logged.Send(http::verb::post, "/v1/check", "wrong-key", "{}").result_int(), 401u);
  server_->Stop();
  EXPECT_NE(log_.str().find("method=GET route=/healthz status=200"), std::string::npos)
      << log_.str();
  EXPECT_NE(log_.str().find("method=POST route=/v1/check status=401"), std::string::npos)
      << log_.str();
  EXPECT_EQ(log_.str().find("wrong-key"), std::string::npos) << "a key was logged";
}

TEST_F(ServerTest, StopLetsARequestInFlightFinish) {
  const std::string secret = AliceSession();
  Client idle = Connect();
  ASSERT_EQ(idle.Send(http::verb::get, "/healthz").result_int(), 200u);
  Client busy = Connect();
  slow_clock_->store(true);  // the check below takes ≥ 300 ms
  const std::string body = R"({"token":")" + secret + R"(","org_id":"acme"})";
  busy.SendRaw("POST /v1/check HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
               std::string(kBackendKey) + "\r\nContent-Length: " + std::to_string(body.size()) +
               "\r\n\r\n" + body);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto stopped = std::async(std::launch::async, [this] { server_->Stop(); });
  auto res = busy.Read();
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_TRUE(Has(res, "\"allowed\":true")) << res.body();
  EXPECT_FALSE(res.keep_alive()) << "a stopping server closes after the response";
  EXPECT_EQ(stopped.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_TRUE(idle.Closed());
}

}  // namespace
}  // namespace authledger::server
