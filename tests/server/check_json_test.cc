// The fast path of POST /v1/check (check_json.h and the Dispatcher's use of it) held to
// the general path it shortcuts: every body the fast decoder takes decodes to the same
// request through DecodeRequest, every Decision encodes to the same bytes as through
// the codec, and a Dispatcher with the fast path answers every request — chosen, with
// each role and without a key, and random — exactly as one without it, counting the
// same metrics.
#include "tools/server/check_json.h"

#include <capnp/dynamic.h>
#include <capnp/message.h>
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "schema/wire.capnp.h"
#include "tests/fuzz/service_fixture.h"
#include "tools/server/dispatch.h"
#include "tools/server/wire_json.h"

namespace authledger::server {
namespace {

using fuzz::kAdminKey;
using fuzz::kAuditorKey;
using fuzz::kBackendKey;
using fuzz::ServiceFixture;

// `body` through the general decoder, as the fast decoder reports it.
struct Decoded {
  Status status;
  CheckBody check;
  std::string token, org_id, ip;  // what `check`'s views point into
};

Decoded DecodeGenerally(std::string_view body) {
  Decoded out;
  capnp::MallocMessageBuilder message;
  auto check = message.initRoot<wire::Request>().getBody().initCheckToken();
  out.status = DecodeRequest(body, {}, capnp::toDynamic(check));
  if (!out.status.ok()) return out;
  auto r = check.asReader();
  out.token.assign(r.getToken().cStr(), r.getToken().size());
  out.org_id.assign(r.getOrgId().cStr(), r.getOrgId().size());
  out.ip.assign(r.getIp().cStr(), r.getIp().size());
  out.check = {out.token, out.org_id, out.ip, r.getTimeUs()};
  return out;
}

// Whether the fast decoder takes `body`; when it does, the general one must decode the
// same request.
bool DecodesAlike(std::string_view body) {
  CheckBody fast;
  if (!TryDecodeCheckBody(body, &fast)) return false;
  const Decoded general = DecodeGenerally(body);
  EXPECT_TRUE(general.status.ok()) << body << ": " << general.status.ToString();
  EXPECT_EQ(fast.token, general.check.token) << body;
  EXPECT_EQ(fast.org_id, general.check.org_id) << body;
  EXPECT_EQ(fast.ip, general.check.ip) << body;
  EXPECT_EQ(fast.time_us, general.check.time_us) << body;
  return true;
}

// A random edit of `text`: bytes replaced, inserted or removed, drawn mostly from the
// bytes JSON is made of.
std::string Mutate(std::string text, std::mt19937_64& rng) {
  static constexpr std::string_view kAlphabet = "{}[]:,\"\\ \t\r\n0123456789-+.eEtrufalsn_abc";
  auto byte = [&]() -> char {
    if (rng() % 4 == 0) return static_cast<char>(rng() % 256);
    return kAlphabet[rng() % kAlphabet.size()];
  };
  const int edits = 1 + static_cast<int>(rng() % 3);
  for (int i = 0; i < edits; ++i) {
    const std::size_t at = text.empty() ? 0 : rng() % (text.size() + 1);
    switch (rng() % 3) {
      case 0:
        if (at < text.size()) text[at] = byte();
        break;
      case 1:
        text.insert(text.begin() + static_cast<std::ptrdiff_t>(at), byte());
        break;
      default:
        if (at < text.size()) text.erase(at, 1 + rng() % 4);
    }
  }
  return text;
}

// Bodies of the usual shape, varied in order, spacing, and the values' forms.
std::vector<std::string> UsualBodies(std::string_view secret) {
  const std::string s(secret);
  return {
      R"({"token":")" + s + R"(","org_id":"acme","ip":"203.0.113.9"})",
      R"({"token":")" + s + R"(","org_id":"acme"})",
      R"({"org_id":"acme","token":")" + s + R"("})",
      " \t\r\n{ \"token\" : \"" + s + "\" ,\n\"org_id\":\"acme\" , \"ip\":\"10.1.2.3\" } \n",
      R"({"token":")" + s + R"(","org_id":"acme","ip":"10.1.2.3","time_us":1767225600000000})",
      R"({"time_us":0,"token":")" + s + R"(","org_id":"globex"})",
      R"({"token":")" + s + R"(","org_id":"acme","time_us":-5})",
      R"({"token":")" + s + R"(","org_id":"acme","time_us":999999999999999})",
      R"({"token":")" + s + R"(","org_id":"acme","time_us":9007199254740992})",
      R"({"token":")" + s + R"(","org_id":"acme","time_us":-9007199254740992})",
      R"({"token":")" + s + R"(","org_id":"acme","time_us":-0})",
      R"({"token":")" + s + R"(","org_id":"nope","ip":""})",
      R"({"token":"not-a-token","org_id":"acme"})",
      R"({"token":"","org_id":"acme"})",
      R"({"org_id":"acme"})",
      R"({})",
      R"({"token":")" + s + R"(","org_id":"acme","ip":"2001:db8::1"})",
  };
}

// Bodies the fast decoder must leave to the general path (valid or not there).
std::vector<std::string> UnusualBodies() {
  return {
      "",
      "   ",
      "[]",
      "null",
      R"({"token":"t\u0041","org_id":"acme"})",
      R"({"token":"t\"x","org_id":"acme"})",
      R"({"tok\u0065n":"t","org_id":"acme"})",
      "{\"token\":\"t\xc3\xa9\",\"org_id\":\"acme\"}",
      "{\"token\":\"t\x01\",\"org_id\":\"acme\"}",
      R"({"token":null,"org_id":"acme"})",
      R"({"token":"t","token":"u","org_id":"acme"})",
      R"({"token":"t","org_id":"acme","extra":1})",
      R"({"token":"t","org_id":"acme","ip":["x"]})",
      R"({"token":"t","org_id":{"a":"b"}})",
      R"({"token":"t","org_id":"acme","time_us":"5"})",
      R"({"token":"t","org_id":"acme","time_us":1.5})",
      R"({"token":"t","org_id":"acme","time_us":1.0})",
      R"({"token":"t","org_id":"acme","time_us":1e3})",
      R"({"token":"t","org_id":"acme","time_us":01})",
      R"({"token":"t","org_id":"acme","time_us":9007199254740993})",
      R"({"token":"t","org_id":"acme","time_us":-9007199254740993})",
      R"({"token":"t","org_id":"acme","time_us":12345678901234567})",
      R"({"token":"t","org_id":"acme","time_us":-})",
      R"({"token":"t","org_id":"acme","time_us":true})",
      R"({"token":"t","org_id":"acme",})",
      R"({"token":"t","org_id":"acme"} x)",
      R"({"token":"t","org_id":"acme"}{})",
      R"({"token":"t","org_id":"acme")",
      R"({"token":"t" "org_id":"acme"})",
      R"({"token":"t","org_id":"acme)",
      R"({token:"t"})",
      R"({"token":1,"org_id":"acme"})",
  };
}

TEST(CheckJson, UsualBodiesTakeTheFastPathAndDecodeAsTheGeneralPathDoes) {
  for (const std::string& body : UsualBodies("secret-0123456789")) {
    EXPECT_TRUE(DecodesAlike(body)) << body;
  }
}

TEST(CheckJson, EverythingElseIsLeftToTheGeneralPath) {
  for (const std::string& body : UnusualBodies()) {
    CheckBody fast;
    EXPECT_FALSE(TryDecodeCheckBody(body, &fast)) << body;
  }
}

TEST(CheckJson, RandomBodiesDecodeAsTheGeneralPathDecodesThem) {
  std::mt19937_64 rng(20261129);
  std::vector<std::string> seeds = UsualBodies("secret-0123456789");
  for (const std::string& body : UnusualBodies()) seeds.push_back(body);
  int taken = 0, left = 0;
  for (int i = 0; i < 30000; ++i) {
    std::string body = seeds[rng() % seeds.size()];
    const int rounds = static_cast<int>(rng() % 3);
    for (int r = 0; r <= rounds; ++r) body = Mutate(std::move(body), rng);
    (DecodesAlike(body) ? taken : left)++;
    if (::testing::Test::HasFailure()) break;
  }
  // Both sides of the decoder were exercised (about 700 bodies are taken).
  EXPECT_GT(taken, 300);
  EXPECT_GT(left, 10000);
}

// A Decision through the general encoder, as Service and Dispatcher produce it.
std::string EncodeGenerally(const Decision& d) {
  capnp::MallocMessageBuilder message;
  auto response = message.initRoot<wire::Response>();
  SetDecision(response.getBody().initDecision(), d);
  return EncodeResponseBody(response.asReader());
}

std::string FastEncoding(const Decision& d) {
  std::string out;
  AppendDecisionJson(d, out);
  return out;
}

TEST(CheckJson, DecisionsEncodeAsTheGeneralPathEncodesThem) {
  Decision d;
  d.allowed = true;
  d.reason = "ok";
  d.rule = "R2";
  d.token_prefix = "alt_0123456789";
  d.user_id = "alice";
  d.org_id = "acme";
  d.revision = 42;
  EXPECT_EQ(FastEncoding(d), EncodeGenerally(d));
  EXPECT_EQ(FastEncoding(d),
            R"({"allowed":true,"reason":"ok","rule":"R2","token_prefix":"alt_0123456789",)"
            R"("user_id":"alice","org_id":"acme","revision":42})");
  EXPECT_EQ(FastEncoding(Decision{}), EncodeGenerally(Decision{}));

  std::mt19937_64 rng(7);
  auto text = [&] {
    std::string s(rng() % 12, ' ');
    for (char& c : s) c = static_cast<char>(rng() % 3 == 0 ? rng() % 256 : 'a' + rng() % 26);
    return s;
  };
  const std::uint64_t kRevisions[] = {
      0, 1, (1ull << 53) - 1, 1ull << 53, (1ull << 53) + 1, (1ull << 60) + 12345, ~0ull};
  for (int i = 0; i < 5000; ++i) {
    Decision r;
    r.allowed = rng() % 2 == 0;
    r.reason = text();
    r.rule = text();
    r.token_prefix = text();
    r.user_id = text();
    r.org_id = text();
    r.revision = i < 7 ? kRevisions[i] : rng() >> (rng() % 64);
    ASSERT_EQ(FastEncoding(r), EncodeGenerally(r)) << i;
  }
}

// The check and request counters of /metrics, by their labels.
std::map<std::string, std::uint64_t> Counters(Service& service) {
  std::map<std::string, std::uint64_t> out;
  std::istringstream lines(service.metrics().Prometheus(0));
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.starts_with("authledger_checks_total{") &&
        !line.starts_with("authledger_requests_total{")) {
      continue;
    }
    const std::size_t space = line.rfind(' ');
    out[line.substr(0, space)] = std::stoull(line.substr(space + 1));
  }
  return out;
}

// What changed between two readings of Counters.
std::map<std::string, std::uint64_t> Delta(const std::map<std::string, std::uint64_t>& before,
                                           const std::map<std::string, std::uint64_t>& after) {
  std::map<std::string, std::uint64_t> out;
  for (const auto& [name, n] : after) {
    const auto it = before.find(name);
    const std::uint64_t was = it == before.end() ? 0 : it->second;
    if (n != was) out[name] = n - was;
  }
  return out;
}

class CheckDispatch : public ::testing::Test {
 protected:
  // No token uses recorded in the background: they would move the revision of answers
  // between the two dispatchers' calls.
  CheckDispatch()
      : fixture_(std::int64_t{1} << 60),
        fast_(fixture_.service()),
        general_(fixture_.service(), false) {}

  // Sends `request` through both dispatchers and expects the same answer and the same
  // counting; returns the answer.
  ApiResponse ExpectAlike(const ApiRequest& request) {
    Service& service = fixture_.service();
    const auto before = Counters(service);
    const ApiResponse general = general_.Handle(request);
    const auto middle = Counters(service);
    const ApiResponse fast = fast_.Handle(request);
    const auto after = Counters(service);
    const std::string what = request.target + " " + request.authorization + " " + request.body;
    EXPECT_EQ(fast.status, general.status) << what;
    EXPECT_EQ(fast.content_type, general.content_type) << what;
    EXPECT_EQ(fast.body, general.body) << what;
    EXPECT_EQ(fast.route, general.route) << what;
    EXPECT_EQ(Delta(middle, after), Delta(before, middle)) << what;
    return fast;
  }

  static ApiRequest Check(std::string body, std::string key = std::string(kBackendKey)) {
    ApiRequest r;
    r.method = "POST";
    r.target = "/v1/check";
    r.authorization = key.empty() ? std::string() : "Bearer " + key;
    r.body = std::move(body);
    r.peer_ip = "127.0.0.1";
    return r;
  }

  ServiceFixture fixture_;
  Dispatcher fast_;
  Dispatcher general_;
};

TEST_F(CheckDispatch, AllowedAndDeniedChecksAnswerAsTheGeneralPath) {
  for (const ServiceFixture::Token* token :
       {&fixture_.session(), &fixture_.personal(), &fixture_.application()}) {
    for (const std::string& body : UsualBodies(token->secret)) {
      ExpectAlike(Check(body));
      ExpectAlike(Check(body, std::string(kAdminKey)));
    }
  }
  // The fast path is really taken: an allowed check is answered (and the fast decoder
  // takes its body), and its answer is the Decision.
  const std::string body =
      R"({"token":")" + fixture_.application().secret + R"(","org_id":"acme","ip":"10.1.2.3"})";
  CheckBody unused;
  EXPECT_TRUE(TryDecodeCheckBody(body, &unused));
  const ApiResponse r = ExpectAlike(Check(body));
  EXPECT_EQ(r.status, 200u);
  EXPECT_NE(r.body.find(R"("allowed":true)"), std::string::npos) << r.body;
}

TEST_F(CheckDispatch, KeysAndRolesAnswerAsTheGeneralPath) {
  const std::string body =
      R"({"token":")" + fixture_.personal().secret + R"(","org_id":"acme","ip":"10.1.2.3"})";
  EXPECT_EQ(ExpectAlike(Check(body, "")).status, 401u);
  EXPECT_EQ(ExpectAlike(Check(body, "not-a-key")).status, 401u);
  EXPECT_EQ(ExpectAlike(Check(body, std::string(kAuditorKey))).status, 403u);
  ApiRequest basic = Check(body);
  basic.authorization = "Basic " + std::string(kBackendKey);
  EXPECT_EQ(ExpectAlike(basic).status, 401u);
  ApiRequest lower = Check(body);
  lower.authorization = "bearer " + std::string(kBackendKey);
  EXPECT_EQ(ExpectAlike(lower).status, 401u);
  EXPECT_EQ(ExpectAlike(Check(body)).status, 200u);
}

TEST_F(CheckDispatch, OtherTargetsMethodsAndHeadersAnswerAsTheGeneralPath) {
  const std::string body =
      R"({"token":")" + fixture_.personal().secret + R"(","org_id":"acme","ip":"10.1.2.3"})";
  ApiRequest query = Check(body);
  query.target = "/v1/check?ip=10.0.0.1";
  ExpectAlike(query);
  ApiRequest get = Check(body);
  get.method = "GET";
  EXPECT_EQ(ExpectAlike(get).status, 405u);
  ApiRequest slash = Check(body);
  slash.target = "/v1/check/";
  ExpectAlike(slash);
  ApiRequest on_behalf = Check(body);
  on_behalf.on_behalf_of = "alice";
  on_behalf.as_admin = true;
  on_behalf.client_ip = "10.9.9.9";
  on_behalf.request_id = "r-1";
  EXPECT_EQ(ExpectAlike(on_behalf).status, 200u);
}

TEST_F(CheckDispatch, MalformedAndRandomBodiesAnswerAsTheGeneralPath) {
  for (const std::string& body : UnusualBodies()) ExpectAlike(Check(body));
  std::mt19937_64 rng(99);
  std::vector<std::string> seeds = UsualBodies(fixture_.personal().secret);
  for (const std::string& body : UsualBodies(fixture_.application().secret)) {
    seeds.push_back(body);
  }
  const std::string keys[] = {std::string(kBackendKey), std::string(kAdminKey),
                              std::string(kAuditorKey), ""};
  for (int i = 0; i < 3000 && !HasFailure(); ++i) {
    std::string body = seeds[rng() % seeds.size()];
    if (rng() % 4 != 0) body = Mutate(std::move(body), rng);
    ExpectAlike(Check(body, keys[rng() % 4]));
  }
}

}  // namespace
}  // namespace authledger::server
