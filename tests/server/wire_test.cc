// The wire API end to end: every route and role over HTTP, the binary protocol
// (authentication, pipelining, hostile frames), both encodings answering alike, slow
// clients cut off, and a restart that keeps everything.
#include <random>
#include <string_view>

#include "replay/event_json.h"
#include "tests/server/server_fixture.h"
#include "tools/server/frame_protocol.h"

namespace authledger::server {
namespace {

using namespace testing_support;  // NOLINT: the fixture's vocabulary

constexpr const char* kPolicyPath = "/v1/organization/acme/config/authentication";

// The value of "name":"…" in a JSON text ("" if absent).
std::string Field(const std::string& json, const std::string& name) {
  const std::string key = "\"" + name + "\":\"";
  const auto at = json.find(key);
  if (at == std::string::npos) return {};
  const auto end = json.find('"', at + key.size());
  return json.substr(at + key.size(), end - at - key.size());
}

class WireTest : public ServerTest {
 protected:
  // Alice's session plus a personal token made from it; returns the token's secret.
  std::string AliceToken() {
    const std::string session = AliceSession();
    Client c = Connect();
    auto token =
        c.Send(http::verb::post, "/v1/session/" + SessionPrefix() + "/token", kBackendKey,
               R"({"description":"ci","max_age_seconds":86400})", {{"X-On-Behalf-Of", "alice"}});
    EXPECT_EQ(token.result_int(), 200u) << token.body();
    token_prefix_ = Field(token.body(), "token_prefix");
    EXPECT_FALSE(session.empty());
    return Field(token.body(), "secret");
  }

  std::string SessionPrefix() {
    auto page = Connect().Send(http::verb::get, "/v1/audit/events?types=token_created&limit=1",
                               kAuditorKey);
    return Field(page.body(), "token_prefix");
  }

  std::uint64_t LogSize() { return server_->engine().revision(); }

  std::string token_prefix_;
};

struct RouteCase {
  http::verb method;
  std::string target;
  std::string body;
  bool backend, admin, auditor;
};

TEST_F(WireTest, EveryRouteAnswersOnlyTheRolesThatMayCallIt) {
  AliceToken();
  const std::string p = token_prefix_;
  const std::vector<RouteCase> routes = {
      {http::verb::post, "/v1/check", R"({"token":"x","org_id":"acme"})", true, true, false},
      {http::verb::post, "/v1/check/personal-token", R"({"session_prefix":"x"})", true, true,
       false},
      {http::verb::post, "/v1/explain", R"({"token_prefix":"x","org_id":"acme"})", true, true,
       false},
      {http::verb::post, "/v1/organization", R"({"org_id":"o2","name":"O"})", false, true, false},
      {http::verb::post, "/v1/organization/acme/domain", R"({"domain":"x.io"})", false, true,
       false},
      {http::verb::delete_, "/v1/organization/acme/domain/x.io", "", false, true, false},
      {http::verb::post, "/v1/organization/acme/idp",
       R"({"idp_id":"okta","name":"Okta","domains":["acme.com"]})", false, true, false},
      {http::verb::delete_, "/v1/organization/acme/idp/okta", "", false, true, false},
      {http::verb::put, "/v1/organization/acme/member/bob", "", false, true, false},
      {http::verb::delete_, "/v1/organization/acme/member/bob", "", false, true, false},
      {http::verb::post, "/v1/organization/acme/member/alice/deactivate", "", false, true, false},
      {http::verb::post, "/v1/organization/acme/member/alice/reactivate", "", false, true, false},
      {http::verb::post, "/v1/organization/acme/application-user",
       R"({"user_id":"app1","name":"CI"})", false, true, false},
      {http::verb::post, "/v1/organization/acme/application-user/app1/token",
       R"({"description":"d"})", false, true, false},
      {http::verb::delete_, "/v1/organization/acme/application-user/app1", "", false, true, false},
      {http::verb::get, kPolicyPath, "", true, true, true},
      {http::verb::patch, kPolicyPath, R"({"two_factor_required":false})", false, true, false},
      {http::verb::patch, std::string(kPolicyPath) + "?dry_run=true", R"({"saml_enabled":false})",
       false, true, true},
      {http::verb::get, "/v1/organization/acme/config/api-client-ip-allowlist", "", true, true,
       true},
      {http::verb::put, "/v1/organization/acme/config/api-client-ip-allowlist",
       R"({"enabled":false,"cidrs":[]})", false, true, false},
      {http::verb::post, "/v1/user", R"({"user_id":"bob","email":"bob@b.io"})", true, true, false},
      {http::verb::post, "/v1/user/bob/two-factor/enable", "", true, true, false},
      {http::verb::post, "/v1/user/bob/two-factor/disable", "", true, true, false},
      {http::verb::post, "/v1/user/bob/expire-tokens", "", false, true, false},
      {http::verb::post, "/v1/login", R"({"user_id":"bob","method":"password"})", true, true,
       false},
      {http::verb::delete_, "/v1/session/nosuch", "", true, true, false},
      {http::verb::delete_, "/v1/token/nosuch", "", true, true, false},
      {http::verb::delete_, "/v1/token/nosuch?org_id=acme", "", false, true, false},
      {http::verb::get, "/v1/audit/policy/acme", "", false, true, true},
      {http::verb::get, "/v1/audit/policy/acme/at?seq=1", "", false, true, true},
      {http::verb::get, "/v1/audit/token/" + p, "", false, true, true},
      {http::verb::get, "/v1/audit/explain/" + p + "/acme?at_seq=7", "", false, true, true},
      {http::verb::get, "/v1/audit/impact/1", "", false, true, true},
      {http::verb::get, "/v1/audit/who/acme", "", false, true, true},
      {http::verb::get, "/v1/audit/events?limit=5", "", false, true, true},
      {http::verb::get, "/v1/log/checkpoint", "", false, true, true},
      {http::verb::get, "/v1/log/proof/inclusion/1", "", false, true, true},
      {http::verb::get, "/v1/log/proof/consistency?old_size=1", "", false, true, true},
  };
  Client c = Connect();
  for (const RouteCase& r : routes) {
    SCOPED_TRACE(std::string(http::to_string(r.method)) + " " + r.target);
    const std::uint64_t before = LogSize();
    auto none = c.Send(r.method, r.target, "", r.body);
    EXPECT_EQ(none.result_int(), 401u) << none.body();
    // Refusals first: they must append nothing.
    for (auto [key, allowed] :
         {std::pair{kBackendKey, r.backend}, std::pair{kAuditorKey, r.auditor}}) {
      if (allowed) continue;
      auto res = c.Send(r.method, r.target, key, r.body);
      EXPECT_EQ(res.result_int(), 403u) << key << ": " << res.body();
      EXPECT_EQ(Field(res.body(), "reason"), "permission_denied");
    }
    EXPECT_EQ(LogSize(), before) << "a refused request appended";
    for (auto [key, allowed] : {std::pair{kAdminKey, r.admin}, std::pair{kBackendKey, r.backend},
                                std::pair{kAuditorKey, r.auditor}}) {
      if (!allowed) continue;
      auto res = c.Send(r.method, r.target, key, r.body);
      EXPECT_NE(res.result_int(), 401u) << res.body();
      EXPECT_NE(res.result_int(), 403u) << res.body();
      EXPECT_NE(Field(res.body(), "reason"), "not_found") << "no such route: " << res.body();
      EXPECT_NE(res.result_int(), 405u) << res.body();
      EXPECT_LT(res.result_int(), 500u) << res.body();
    }
  }
}

TEST_F(WireTest, TheWholeStoryThroughHttp) {
  Client c = Connect();
  auto post = [&](const std::string& target, const std::string& body,
                  const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    auto res = c.Send(http::verb::post, target, kAdminKey, body, headers);
    EXPECT_EQ(res.result_int(), 200u) << target << " " << res.body();
    return res.body();
  };
  post("/v1/organization", R"({"org_id":"acme","name":"Acme"})");
  post("/v1/organization/acme/domain", R"({"domain":"acme.com"})");
  post("/v1/user", R"({"user_id":"alice","email":"alice@acme.com"})");
  EXPECT_EQ(c.Send(http::verb::put, "/v1/organization/acme/member/alice", kAdminKey).result_int(),
            200u);
  const std::string session = post("/v1/login", R"({"user_id":"alice","method":"password"})",
                                   {{"X-On-Behalf-Of", "alice"}});
  const std::string session_prefix = Field(session, "token_prefix");
  const std::string token = post("/v1/session/" + session_prefix + "/token",
                                 R"({"description":"laptop"})", {{"X-On-Behalf-Of", "alice"}});
  const std::string secret = Field(token, "secret");
  ASSERT_FALSE(secret.empty()) << token;

  const std::string check = R"({"token":")" + secret + R"(","org_id":"acme","ip":"10.1.2.3"})";
  EXPECT_NE(post("/v1/check", check).find("\"allowed\":true"), std::string::npos);

  // SSO only, and personal tokens must match an allowed method: the password-made token
  // stops working (soft), and works again when password is allowed again.
  auto sso = c.Send(http::verb::patch, kPolicyPath, kAdminKey,
                    R"({"password_auth_enabled":false,"oauth_enabled":false,)"
                    R"("personal_tokens_require_allowed_auth_method":true,"force":true})");
  EXPECT_EQ(sso.result_int(), 200u) << sso.body();
  EXPECT_NE(sso.body().find("\"impact\":[{"), std::string::npos) << sso.body();
  EXPECT_NE(post("/v1/check", check).find("\"allowed\":false"), std::string::npos);
  c.Send(http::verb::patch, kPolicyPath, kAdminKey, R"({"password_auth_enabled":true})");
  EXPECT_NE(post("/v1/check", check).find("\"allowed\":true"), std::string::npos);

  // Revoked by its owner: denied for good.
  auto revoke = c.Send(http::verb::delete_, "/v1/token/" + Field(token, "token_prefix"),
                       kBackendKey, "", {{"X-On-Behalf-Of", "alice"}});
  EXPECT_EQ(revoke.result_int(), 200u) << revoke.body();
  const std::string denied = post("/v1/check", check);
  EXPECT_NE(denied.find("\"allowed\":false"), std::string::npos) << denied;
  EXPECT_EQ(Field(denied, "reason"), "token_revoked") << denied;

  // The log tells it: the revocation names the owner as actor.
  auto report =
      c.Send(http::verb::get, "/v1/audit/token/" + Field(token, "token_prefix"), kAuditorKey);
  EXPECT_EQ(report.result_int(), 200u) << report.body();
  EXPECT_NE(report.body().find("\"revoked\":true"), std::string::npos) << report.body();
  EXPECT_EQ(report.body().find(secret), std::string::npos) << "a secret in an audit answer";
}

TEST_F(WireTest, BinaryAndHttpGiveIdenticalAnswers) {
  const std::string secret = AliceToken();
  const std::string p = token_prefix_;
  Client http = Connect();
  BinaryClient bin = ConnectBinary();
  bin.Send(std::string(R"({"id":1,"body":{"authenticate":{"api_key":")") + kAdminKey + "\"}}}");
  ASSERT_EQ(bin.ReadBody().value_or(""), "\"admin\"");

  struct Pair {
    http::verb method;
    std::string target, body, wire;
  };
  const std::string check = R"({"token":")" + secret + R"(","org_id":"acme","ip":"10.0.0.1"})";
  // A token's first check records its use in the background: a new event, so a new
  // revision. Done and flushed first, so that both encodings answer at one revision.
  ASSERT_EQ(http.Send(http::verb::post, "/v1/check", kAdminKey, check).result_int(), 200u);
  server_->engine().FlushTokenUse();
  const std::vector<Pair> pairs = {
      {http::verb::post, "/v1/check", check, R"({"check_token":)" + check + "}"},
      {http::verb::post, "/v1/check", R"({"org_id":"acme"})",
       R"({"check_token":{"org_id":"acme"}})"},
      {http::verb::post, "/v1/explain", R"({"token_prefix":")" + p + R"(","org_id":"acme"})",
       R"({"explain":{"token_prefix":")" + p + R"(","org_id":"acme"}})"},
      {http::verb::get, kPolicyPath, "", R"({"get_policy":{"org_id":"acme"}})"},
      {http::verb::get, "/v1/organization/nosuch/config/authentication", "",
       R"({"get_policy":{"org_id":"nosuch"}})"},
      {http::verb::get, "/v1/organization/acme/config/api-client-ip-allowlist", "",
       R"({"get_ip_allowlist":{"org_id":"acme"}})"},
      {http::verb::patch, kPolicyPath, R"({"saml_enabled":false,"dry_run":true})",
       R"({"update_policy":{"org_id":"acme","saml_enabled":false,"dry_run":true}})"},
      {http::verb::patch, kPolicyPath, R"({"saml_enabled":false,"expected_version":9})",
       R"({"update_policy":{"org_id":"acme","saml_enabled":false,"expected_version":9}})"},
      {http::verb::get, "/v1/log/checkpoint", "", R"({"checkpoint":null})"},
      {http::verb::get, "/v1/log/proof/inclusion/3?tree_size=5", "",
       R"({"inclusion_proof":{"seq":3,"tree_size":5}})"},
      {http::verb::get, "/v1/log/proof/consistency?old_size=2&new_size=6", "",
       R"({"consistency_proof":{"old_size":2,"new_size":6}})"},
      {http::verb::get, "/v1/audit/policy/acme", "", R"({"audit_policy":{"org_id":"acme"}})"},
      {http::verb::get, "/v1/audit/policy/acme/at?seq=2", "",
       R"({"policy_at":{"org_id":"acme","seq":2}})"},
      {http::verb::get, "/v1/audit/token/" + p, "",
       R"({"audit_token":{"token_prefix":")" + p + R"("}})"},
      {http::verb::get, "/v1/audit/explain/" + p + "/acme?at_seq=7&ip=10.0.0.1", "",
       R"({"audit_explain":{"token_prefix":")" + p +
           R"(","org_id":"acme","at_seq":7,"ip":"10.0.0.1"}})"},
      {http::verb::get, "/v1/audit/impact/2", "", R"({"audit_impact":{"seq":2}})"},
      {http::verb::get, "/v1/audit/who/acme", "", R"({"audit_who":{"org_id":"acme"}})"},
      {http::verb::get, "/v1/audit/events?types=token_created,member_added&limit=3", "",
       R"({"audit_events":{"types":["token_created","member_added"],"limit":3}})"},
      {http::verb::get, "/v1/audit/impact/999", "", R"({"audit_impact":{"seq":999}})"},
  };
  std::uint64_t id = 2;
  for (const Pair& pair : pairs) {
    SCOPED_TRACE(pair.target + " " + pair.body);
    auto res = http.Send(pair.method, pair.target, kAdminKey, pair.body);
    bin.Send(R"({"id":)" + std::to_string(id++) + R"(,"body":)" + pair.wire + "}");
    auto answer = bin.ReadBody();
    ASSERT_TRUE(answer.has_value());
    EXPECT_EQ(res.body(), *answer);
  }
}

TEST_F(WireTest, BinaryRequestsArePipelinedAndAnsweredInOrder) {
  const std::string secret = AliceToken();
  BinaryClient bin = ConnectBinary();
  std::string burst = BinaryClient::Frame(
      std::string(R"({"id":1,"body":{"authenticate":{"api_key":")") + kBackendKey + "\"}}}");
  constexpr int kChecks = 500;
  for (int i = 0; i < kChecks; ++i) {
    const bool good = i % 3 != 0;
    burst += BinaryClient::Frame(
        R"({"id":)" + std::to_string(100 + i) + R"(,"body":{"check_token":{"token":")" +
        (good ? secret : std::string("wrong")) + R"(","org_id":"acme"}}})");
  }
  bin.SendRaw(burst);  // all at once, before reading anything
  ASSERT_NE(bin.Read().value_or("").find("\"authenticated\":\"backend\""), std::string::npos);
  for (int i = 0; i < kChecks; ++i) {
    auto answer = bin.Read();
    ASSERT_TRUE(answer.has_value()) << i;
    EXPECT_NE(answer->find("\"id\":" + std::to_string(100 + i) + ","), std::string::npos)
        << *answer;
    EXPECT_NE(answer->find(i % 3 != 0 ? "\"allowed\":true" : "\"allowed\":false"),
              std::string::npos)
        << *answer;
  }
}

TEST_F(WireTest, BinaryNeedsAnApiKeyWithTheRightRole) {
  AliceSession();
  BinaryClient bin = ConnectBinary();
  auto before = bin.Call(R"({"id":1,"body":{"check_token":{"token":"x","org_id":"acme"}}})");
  EXPECT_EQ(Field(before.value_or(""), "reason"), "unauthenticated");
  auto wrong = bin.Call(R"({"id":2,"body":{"authenticate":{"api_key":"nope"}}})");
  EXPECT_EQ(Field(wrong.value_or(""), "reason"), "unauthenticated");
  bin.Call(std::string(R"({"id":3,"body":{"authenticate":{"api_key":")") + kAuditorKey + "\"}}}");
  const std::uint64_t size = LogSize();
  auto change =
      bin.Call(R"({"id":4,"body":{"update_policy":{"org_id":"acme","saml_enabled":false}}})");
  EXPECT_EQ(Field(change.value_or(""), "reason"), "permission_denied");
  auto org = bin.Call(R"({"id":5,"body":{"create_organization":{"org_id":"x","name":"x"}}})");
  EXPECT_EQ(Field(org.value_or(""), "reason"), "permission_denied");
  EXPECT_EQ(LogSize(), size);
  auto read = bin.Call(R"({"id":6,"body":{"get_policy":{"org_id":"acme"}}})");
  EXPECT_NE(read.value_or("").find("\"password_auth_enabled\":true"), std::string::npos);
}

TEST_F(WireTest, HostileFramesGetTypedErrorsOrAClosedConnection) {
  AliceSession();
  const std::uint64_t size = LogSize();
  {
    // A length that is not whole words: answered, and the connection goes on.
    BinaryClient bin = ConnectBinary();
    bin.SendRaw(BinaryClient::LengthPrefix(5) + "abcde");
    EXPECT_EQ(Field(bin.ReadBody().value_or(""), "reason"), "malformed_frame");
    // Words that are not a message (a segment table claiming 2^31 segments).
    bin.SendRaw(BinaryClient::LengthPrefix(16) + std::string("\xff\xff\xff\x7f", 4) +
                std::string(12, '\x01'));
    EXPECT_EQ(Field(bin.ReadBody().value_or(""), "reason"), "malformed_frame");
    bin.Send(R"({"id":9,"body":{"health":null}})");
    EXPECT_NE(bin.ReadBody().value_or("").find("\"status\":\"ok\""), std::string::npos);
  }
  {
    // Beyond the frame limit: an error answer, then the connection is closed.
    BinaryClient bin = ConnectBinary();
    bin.SendRaw(BinaryClient::LengthPrefix(64 * 1024 * 1024));
    EXPECT_EQ(Field(bin.ReadBody().value_or(""), "reason"), "frame_too_large");
    EXPECT_FALSE(bin.Read().has_value());
  }
  {
    // A truncated frame, then the client goes away.
    BinaryClient bin = ConnectBinary();
    bin.SendRaw(BinaryClient::LengthPrefix(800) + std::string(100, 'x'));
  }
  // Random frames: every one answered (or the connection closed), nothing appended.
  std::mt19937 rng(42);
  for (int round = 0; round < 50; ++round) {
    BinaryClient bin = ConnectBinary();
    std::string frame = BinaryClient::Frame(
        std::string(R"({"id":1,"body":{"authenticate":{"api_key":")") + kAdminKey + "\"}}}");
    std::string junk(8 * (1 + rng() % 40), '\0');
    for (char& ch : junk) ch = static_cast<char>(rng());
    bin.SendRaw(frame + BinaryClient::LengthPrefix(junk.size()) + junk);
    EXPECT_TRUE(bin.Read().has_value());
    auto answer = bin.Read();
    if (answer) {
      EXPECT_NE(answer->find("\"error\""), std::string::npos) << *answer;
    }
  }
  EXPECT_EQ(LogSize(), size);
  EXPECT_EQ(Connect().Send(http::verb::get, "/healthz").result_int(), 200u);
}

TEST_F(WireTest, SlowClientsAreCutOff) {
  server_.reset();
  io_timeout_ = std::chrono::milliseconds(300);
  StartServer();
  Client http = Connect();
  http.SendRaw("POST /v1/check HTTP/1.1\r\nHost: x\r\n");  // and never the rest
  EXPECT_TRUE(http.Closed());
  BinaryClient bin = ConnectBinary();
  bin.SendRaw(BinaryClient::LengthPrefix(64) + std::string(10, 'x'));
  EXPECT_FALSE(bin.Read().has_value());
}

TEST_F(WireTest, ARestartKeepsEverything) {
  const std::string secret = AliceToken();
  Client c = Connect();
  ASSERT_EQ(c.Send(http::verb::patch, kPolicyPath, kAdminKey, R"({"two_factor_required":true})")
                .result_int(),
            200u);
  const std::string check = R"({"token":")" + secret + R"(","org_id":"acme"})";
  const std::string decision = c.Send(http::verb::post, "/v1/check", kBackendKey, check).body();
  server_->engine().FlushTokenUse();  // the check's use is recorded before the snapshot
  const std::string policy = c.Send(http::verb::get, kPolicyPath, kBackendKey).body();
  const std::string checkpoint = c.Send(http::verb::get, "/v1/log/checkpoint", kAuditorKey).body();

  server_.reset();  // graceful stop: closes the log
  StartServer();
  Client again = Connect();
  std::string after = again.Send(http::verb::post, "/v1/check", kBackendKey, check).body();
  // The same decision, at the revision that now includes the recorded use.
  auto without_revision = [](std::string s) { return s.substr(0, s.find("\"revision\"")); };
  EXPECT_EQ(without_revision(after), without_revision(decision));
  EXPECT_EQ(again.Send(http::verb::get, kPolicyPath, kBackendKey).body(), policy);
  EXPECT_EQ(again.Send(http::verb::get, "/v1/log/checkpoint", kAuditorKey).body(), checkpoint);
}

TEST_F(WireTest, BadParametersAreInvalidRequests) {
  AliceSession();
  Client c = Connect();
  for (const std::string target :
       {"/v1/audit/impact/abc", "/v1/audit/events?limit=0", "/v1/audit/events?nosuch=1",
        "/v1/audit/events?limit=5000", "/v1/audit/policy/acme/at?seq=-", "/v1/audit/who/a%zz",
        "/v1/log/checkpoint?x=1"}) {
    auto res = c.Send(http::verb::get, target, kAuditorKey);
    EXPECT_EQ(res.result_int(), 400u) << target << " → " << res.body();
  }
  auto dup = c.Send(http::verb::post, "/v1/organization/acme/domain", kAdminKey,
                    R"({"org_id":"other","domain":"x.io"})");
  EXPECT_EQ(dup.result_int(), 400u) << dup.body();
  auto body_on_get = c.Send(http::verb::delete_, "/v1/token/x", kAdminKey, "{}");
  EXPECT_EQ(body_on_get.result_int(), 400u) << body_on_get.body();
  auto wrong_method = c.Send(http::verb::put, "/v1/check", kAdminKey, "{}");
  EXPECT_EQ(wrong_method.result_int(), 405u);
}

TEST_F(WireTest, MetricsCountRequestsAndCommandLatency) {
  AliceToken();
  BinaryClient bin = ConnectBinary();
  bin.Call(R"({"id":1,"body":{"health":null}})");
  const std::string metrics = Connect().Send(http::verb::get, "/metrics").body();
  EXPECT_NE(metrics.find("authledger_command_seconds_bucket{le=\"+Inf\"} 1"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("authledger_requests_total{encoding=\"binary\",outcome=\"ok\"} 1"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("authledger_command_seconds_count 1"), std::string::npos);
}

}  // namespace
}  // namespace authledger::server

namespace authledger::server {
namespace {

using namespace testing_support;  // NOLINT: the fixture's vocabulary

TEST_F(ServerTest, BinaryConnectionsBeyondTheLimitAreRefusedWithATypedError) {
  server_.reset();
  StartServer(/*max_connections=*/2);
  BinaryClient first = ConnectBinary();
  BinaryClient second = ConnectBinary();
  ASSERT_TRUE(first.Call(R"({"id":1,"body":{"health":null}})").has_value());
  ASSERT_TRUE(second.Call(R"({"id":1,"body":{"health":null}})").has_value());
  BinaryClient third = ConnectBinary();
  auto refused = third.ReadBody();
  ASSERT_TRUE(refused.has_value());
  EXPECT_NE(refused->find("too_many_connections"), std::string::npos) << *refused;
  EXPECT_FALSE(third.Read().has_value());
  // The limit counts both ports: HTTP is refused too, and the first ones still work.
  EXPECT_EQ(Connect().Send(http::verb::get, "/healthz").result_int(), 503u);
  EXPECT_TRUE(first.Call(R"({"id":2,"body":{"health":null}})").has_value());
}

}  // namespace
}  // namespace authledger::server

// ---- The JSON text and the frames of the wire API, without a server ----

namespace authledger::server {
namespace {

// `token` as a check's token, encoded to JSON; the token that JSON decodes to.
std::string TokenRoundTrip(const std::string& token) {
  capnp::MallocMessageBuilder message;
  auto check = message.initRoot<wire::Request>().getBody().initCheckToken();
  check.setToken(capnp::Text::Reader(token.c_str(), token.size()));
  const std::string json = EncodeJson(capnp::toDynamic(check.asReader()));
  capnp::MallocMessageBuilder again;
  auto decoded = again.initRoot<wire::Request>().getBody().initCheckToken();
  Status s = DecodeJson(json, capnp::toDynamic(decoded));
  EXPECT_TRUE(s.ok()) << json << ": " << s.ToString();
  auto text = decoded.asReader().getToken();
  return std::string(text.cStr(), text.size());
}

// The token that the JSON string literal `literal` decodes to in a check, or the
// decoder's error reason prefixed with "error: ".
std::string TokenOf(const std::string& literal) {
  capnp::MallocMessageBuilder message;
  auto check = message.initRoot<wire::Request>().getBody().initCheckToken();
  Status s = DecodeJson(R"({"token":)" + literal + "}", capnp::toDynamic(check));
  if (!s.ok()) return "error: " + std::string(s.reason());
  auto text = check.asReader().getToken();
  return std::string(text.cStr(), text.size());
}

TEST(WireJson, EveryStringEncodesToJsonThatDecodesToTheSameBytes) {
  std::string every_byte;
  for (int c = 0; c < 256; ++c) {
    const std::string one(1, static_cast<char>(c));
    EXPECT_EQ(TokenRoundTrip(one), one) << "byte " << c;
    every_byte += one;
  }
  EXPECT_EQ(TokenRoundTrip(every_byte), every_byte);
  for (const std::string& s : {std::string("\\u000c\f"), std::string("a\fb\x0b\x1f\\\""),
                               std::string("caf\xc3\xa9 \xf0\x9f\x98\x80"),
                               std::string("\xff\xfe not UTF-8"), std::string("nul\0inside", 11)}) {
    EXPECT_EQ(TokenRoundTrip(s), s);
  }
}

TEST(WireJson, UnicodeEscapesDecodeToUtf8) {
  EXPECT_EQ(TokenOf(R"("\u000c\u000C\f")"), "\f\f\f");
  EXPECT_EQ(TokenOf(R"("\u001f\u007f")"), "\x1f\x7f");
  EXPECT_EQ(TokenOf(R"("caf\u00e9 caf\u00E9")"), "caf\xc3\xa9 caf\xc3\xa9");
  EXPECT_EQ(TokenOf(R"("\u20ac\uffff")"), "\xe2\x82\xac\xef\xbf\xbf");
  EXPECT_EQ(TokenOf(R"("\ud83d\ude00")"), "\xf0\x9f\x98\x80");  // a surrogate pair
  EXPECT_EQ(TokenOf(R"("\u0000")"), std::string(1, '\0'));
  EXPECT_EQ(TokenOf(R"("\"\\\/\b\n\r\t")"), "\"\\/\b\n\r\t");
}

TEST(WireJson, MalformedJsonIsAnInvalidRequest) {
  for (const std::string literal :
       {R"("\ud83d")", R"("\ud83dx")", R"("\ud83d\u0041")", R"("\ude00")", R"("\u00g0")",
        R"("\u00")", R"("\x")", R"("abc)", "\"a\x01\"", "\"a\nb\"", "\"a\tb\""}) {
    EXPECT_EQ(TokenOf(literal), "error: invalid_request") << literal;
  }
  for (const std::string& body : std::vector<std::string>{
           R"({"token":"a",})", R"({"token":"a"} x)", std::string(R"({"token":"a"})") + '\0',
           R"({"time_us":01})", R"({"time_us":1.})", R"({"time_us":1e})", R"({"time_us":-})",
           R"({"time_us":1e999})", R"({"token" "a"})", R"({token:"a"})", R"([1,])"}) {
    capnp::MallocMessageBuilder message;
    auto check = message.initRoot<wire::Request>().getBody().initCheckToken();
    EXPECT_EQ(DecodeJson(body, capnp::toDynamic(check)).reason(), "invalid_request") << body;
  }
  capnp::MallocMessageBuilder message;
  auto check = message.initRoot<wire::Request>().getBody().initCheckToken();
  Status deep = DecodeJson(R"({"token":)" + std::string(16, '[') + std::string(16, ']') + "}",
                           capnp::toDynamic(check));
  EXPECT_NE(deep.message().find("nest too deeply"), std::string_view::npos) << deep.ToString();
  EXPECT_TRUE(
      DecodeJson(" {\"token\" : \"a\" , \"time_us\":-1.5e3 }\r\n", capnp::toDynamic(check)).ok());
  EXPECT_EQ(check.asReader().getTimeUs(), -1500);
}

TEST(WireJson, EventsWithControlCharactersDecodeToTheSameEvent) {
  capnp::MallocMessageBuilder message;
  auto event = message.initRoot<schema::Envelope>();
  event.setSeq(7);
  auto created = event.initEvent().initOrganizationCreated();
  created.setOrgId("acme");
  created.setName("Acme\f\x0b\x1a caf\xc3\xa9");
  const std::string json = replay::EventJson(event.asReader());
  capnp::MallocMessageBuilder again;
  auto decoded = again.initRoot<schema::Envelope>();
  ASSERT_TRUE(DecodeEventJson(json, decoded).ok()) << json;
  EXPECT_EQ(std::string(decoded.asReader().getEvent().getOrganizationCreated().getName().cStr()),
            "Acme\f\x0b\x1a caf\xc3\xa9");
  EXPECT_EQ(replay::EventJson(decoded.asReader()), json);
}

// The frames a decoder takes from `stream` fed in reads of `read` bytes, each as
// "kind:length", the message's bytes after it.
std::vector<std::string> Frames(std::string_view stream, std::size_t read,
                                std::size_t max_frame_bytes = 1024) {
  FrameDecoder decoder(max_frame_bytes);
  std::vector<std::string> frames;
  for (std::size_t at = 0; at < stream.size(); at += read) {
    const std::string_view chunk = stream.substr(at, read);
    decoder.Receive(reinterpret_cast<const unsigned char*>(chunk.data()), chunk.size());
    for (FrameDecoder::Frame f = decoder.Next(); f.kind != FrameDecoder::Frame::Kind::kNeedMore;
         f = decoder.Next()) {
      std::string frame = std::to_string(static_cast<int>(f.kind)) + ":" + std::to_string(f.length);
      if (f.kind == FrameDecoder::Frame::Kind::kMessage) {
        frame.append(reinterpret_cast<const char*>(f.words.asBytes().begin()), f.length);
      }
      frames.push_back(frame);
      if (f.kind == FrameDecoder::Frame::Kind::kTooLarge) return frames;
    }
  }
  return frames;
}

TEST(FrameDecoder, TheFramesDoNotDependOnHowTheStreamIsCut) {
  using testing_support::BinaryClient;
  const std::string stream = BinaryClient::Frame(R"({"id":1,"body":{"health":null}})") +
                             BinaryClient::LengthPrefix(5) + "abcde" +
                             BinaryClient::LengthPrefix(0) +
                             BinaryClient::Frame(R"({"id":2,"body":{"checkpoint":null}})") +
                             BinaryClient::LengthPrefix(16);  // truncated
  const std::vector<std::string> whole = Frames(stream, stream.size());
  ASSERT_EQ(whole.size(), 4u);
  EXPECT_EQ(whole[1],
            std::to_string(static_cast<int>(FrameDecoder::Frame::Kind::kMalformed)) + ":5");
  EXPECT_EQ(whole[2],
            std::to_string(static_cast<int>(FrameDecoder::Frame::Kind::kMalformed)) + ":0");
  for (std::size_t read = 1; read < stream.size(); ++read) {
    EXPECT_EQ(Frames(stream, read), whole) << "reads of " << read;
  }
}

TEST(FrameDecoder, ALengthOverTheLimitEndsTheStream) {
  using testing_support::BinaryClient;
  const std::string stream = BinaryClient::Frame(R"({"id":1,"body":{"health":null}})") +
                             BinaryClient::LengthPrefix(1025) +
                             BinaryClient::Frame(R"({"id":2,"body":{"health":null}})");
  for (std::size_t read : {std::size_t{1}, std::size_t{3}, stream.size()}) {
    const std::vector<std::string> frames = Frames(stream, read);
    ASSERT_EQ(frames.size(), 2u) << "reads of " << read;
    EXPECT_EQ(frames[1],
              std::to_string(static_cast<int>(FrameDecoder::Frame::Kind::kTooLarge)) + ":1025");
  }
  FrameDecoder decoder(64);
  const std::string oversize = BinaryClient::LengthPrefix(0xffffffffu);
  decoder.Receive(reinterpret_cast<const unsigned char*>(oversize.data()), oversize.size());
  EXPECT_EQ(decoder.Next().kind, FrameDecoder::Frame::Kind::kTooLarge);
  EXPECT_EQ(decoder.Next().kind, FrameDecoder::Frame::Kind::kTooLarge);
  EXPECT_EQ(decoder.frames(), 0u);
}

}  // namespace
}  // namespace authledger::server
