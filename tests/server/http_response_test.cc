// The server's own writing of an HTTP answer (http_response.h) against Beast's
// serializer for the message the server used to build: the same bytes for every status
// code, HTTP version, keep-alive setting, content type and body.
#include "tools/server/http_response.h"

#include <gtest/gtest.h>

#include <boost/beast/http.hpp>
#include <random>
#include <sstream>
#include <string>

namespace authledger::server {
namespace {

namespace http = boost::beast::http;

// What Beast writes for the message the server built before http_response.h.
std::string BeastWrites(const ApiResponse& r, unsigned version, bool keep_alive) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), version};
  res.set(http::field::server, "authledger");
  res.set(http::field::content_type,
          boost::beast::string_view(r.content_type.data(), r.content_type.size()));
  res.keep_alive(keep_alive);
  res.body() = r.body;
  res.prepare_payload();
  std::ostringstream out;
  out << res;
  return out.str();
}

std::string WeWrite(const ApiResponse& r, unsigned version, bool keep_alive) {
  std::string out = "kept:";  // appended to, never replaced
  AppendHttpResponse(r, version, keep_alive, out);
  EXPECT_TRUE(out.starts_with("kept:"));
  return out.substr(5);
}

TEST(HttpResponse, ACheckAnswerIsWhatBeastWrites) {
  ApiResponse r;
  r.body = R"({"allowed":true,"reason":"ok"})";
  EXPECT_EQ(WeWrite(r, 11, true),
            "HTTP/1.1 200 OK\r\nServer: authledger\r\nContent-Type: application/json\r\n"
            "Content-Length: 30\r\n\r\n{\"allowed\":true,\"reason\":\"ok\"}");
  EXPECT_EQ(WeWrite(r, 11, true), BeastWrites(r, 11, true));
}

TEST(HttpResponse, EveryStatusVersionAndKeepAliveIsWhatBeastWrites) {
  std::mt19937_64 rng(5);
  // Not 1xx, 204 or 304: answers without a body, which the server never gives (Beast
  // refuses a body for them).
  for (unsigned status = 200; status <= 599; ++status) {
    if (status == 204 || status == 304) continue;
    for (unsigned version : {10u, 11u, 9u, 20u}) {
      for (bool keep_alive : {true, false}) {
        ApiResponse r;
        r.status = status;
        r.content_type = rng() % 2 ? "application/json" : "text/plain; version=0.0.4";
        r.body.assign(rng() % 3 == 0 ? 0 : rng() % 3000, 'x');
        for (char& c : r.body) c = static_cast<char>(rng() % 256);
        ASSERT_EQ(WeWrite(r, version, keep_alive), BeastWrites(r, version, keep_alive))
            << status << " " << version << " " << keep_alive;
      }
    }
  }
}

}  // namespace
}  // namespace authledger::server
