// The server under test: started in-process on an ephemeral loopback port with a
// temporary data directory and three API keys, with a small synchronous Beast client
// for HTTP and one for the binary protocol.
#pragma once

#include <utility>
//
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <chrono>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/temp_dir.h"
#include "tools/server/http_server.h"
#include "tools/server/wire_json.h"

namespace authledger::server::testing_support {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Response = http::response<http::string_body>;

constexpr std::int64_t kStartUs = 1767225600LL * 1'000'000;  // 2026-01-01T00:00:00Z
constexpr const char* kBackendKey = "backend-key-0123456789";
constexpr const char* kAdminKey = "admin-key-0123456789ab";
constexpr const char* kAuditorKey = "auditor-key-0123456789";

// One keep-alive connection to the server.
class Client {
 public:
  explicit Client(std::uint16_t port) {
    stream_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    stream_.expires_after(std::chrono::seconds(10));
  }

  Response Send(http::verb method, const std::string& target, const std::string& key = {},
                const std::string& body = {},
                const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    if (!key.empty()) req.set(http::field::authorization, "Bearer " + key);
    for (const auto& [name, value] : headers) req.set(name, value);
    if (!body.empty() || method != http::verb::get) {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
      req.prepare_payload();
    }
    http::write(stream_, req);
    return Read();
  }

  // Bytes as they are, for requests a well-behaved client would never send.
  void SendRaw(const std::string& bytes) { asio::write(stream_.socket(), asio::buffer(bytes)); }

  Response Read() {
    Response res;
    http::read(stream_, buffer_, res);
    return res;
  }

  // Whether the server has closed the connection (the next read hits the end).
  bool Closed() {
    beast::error_code ec;
    Response res;
    http::read(stream_, buffer_, res, ec);
    return ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
           ec == asio::error::eof;
  }

 private:
  asio::io_context ioc_;
  beast::tcp_stream stream_{ioc_};
  beast::flat_buffer buffer_;
};

// One connection to the binary port: requests written as JSON of wire::Request (for
// readability), sent as frames; answers read back as frames.
class BinaryClient {
 public:
  explicit BinaryClient(std::uint16_t port) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }

  // The frame of the wire::Request that `json` describes.
  static std::string Frame(const std::string& json) {
    capnp::MallocMessageBuilder message;
    auto request = message.initRoot<wire::Request>();
    Status s = DecodeJson(json, capnp::toDynamic(request));
    EXPECT_TRUE(s.ok()) << json << ": " << s.ToString();
    kj::Array<capnp::word> words = capnp::messageToFlatArray(message);
    return LengthPrefix(words.size() * sizeof(capnp::word)) +
           std::string(reinterpret_cast<const char*>(words.begin()),
                       words.size() * sizeof(capnp::word));
  }
  static std::string LengthPrefix(std::size_t n) {
    std::string out(4, '\0');
    for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
    return out;
  }

  void SendRaw(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }
  void Send(const std::string& json) { SendRaw(Frame(json)); }

  // The next answer as JSON ({"id":…,"body":{…}}), or nullopt once the server closed.
  std::optional<std::string> Read() {
    unsigned char header[4];
    beast::error_code ec;
    asio::read(socket_, asio::buffer(header), ec);
    if (ec) return std::nullopt;
    const std::size_t n =
        header[0] | header[1] << 8 | header[2] << 16 | static_cast<std::size_t>(header[3]) << 24;
    kj::Array<capnp::word> words = kj::heapArray<capnp::word>(n / sizeof(capnp::word));
    asio::read(socket_, asio::buffer(words.begin(), n), ec);
    if (ec) return std::nullopt;
    capnp::FlatArrayMessageReader reader(words);
    return EncodeJson(capnp::toDynamic(reader.getRoot<wire::Response>()));
  }
  // The answer's body member alone, as HTTP would have sent it.
  std::optional<std::string> ReadBody() {
    auto answer = Read();
    if (!answer) return std::nullopt;
    capnp::MallocMessageBuilder message;
    auto response = message.initRoot<wire::Response>();
    EXPECT_TRUE(DecodeJson(*answer, capnp::toDynamic(response)).ok()) << *answer;
    return EncodeResponseBody(response.asReader());
  }
  std::optional<std::string> Call(const std::string& json) {
    Send(json);
    return ReadBody();
  }

 private:
  asio::io_context ioc_;
  tcp::socket socket_{ioc_};
};

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(); }

  void StartServer(std::size_t max_connections = 64) {
    auto keys = ApiKeys::Parse(std::string("ci backend ") + kBackendKey + "\nops admin " +
                               kAdminKey + "\naudit auditor " + kAuditorKey + "\n");
    ASSERT_TRUE(keys.ok()) << keys.status().ToString();
    EngineOptions engine_options;
    engine_options.clock = [] { return kStartUs; };
    auto engine = Engine::Open(dir_.Sub("data"), engine_options);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.binary_listen = "127.0.0.1:0";
    options.data_dir = dir_.Sub("data");
    options.blocking_threads = 8;
    options.io_timeout = io_timeout_;
    options.threads = 2;
    options.max_connections = max_connections;
    options.clock = [slow = slow_clock_] {
      if (slow->load()) std::this_thread::sleep_for(std::chrono::milliseconds(300));
      return kStartUs;
    };
    options.access_log = access_log_;
    auto logger = std::make_shared<spdlog::logger>(
        "server-test", std::make_shared<spdlog::sinks::ostream_sink_mt>(log_));
    auto server =
        HttpServer::Start(std::move(engine).value(), std::move(keys).value(), options, logger);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }

  // Organization acme (managing acme.com) with member alice, logged in by password.
  std::string AliceSession() {
    Engine& e = server_->engine();
    const Actor admin = Actor::Admin("admin1", "127.0.0.1");
    EXPECT_TRUE(e.CreateOrganization(admin, "acme", "Acme").ok());
    EXPECT_TRUE(e.VerifyDomain(admin, "acme", "acme.com").ok());
    EXPECT_TRUE(e.RegisterUser(admin, "alice", "alice@acme.com").ok());
    EXPECT_TRUE(e.AddMember(admin, "acme", "alice").ok());
    auto session = e.RecordLogin(Actor::User("alice"), {"alice", "password", false});
    EXPECT_TRUE(session.ok()) << session.status().ToString();
    return session.ok() ? session->secret : std::string();
  }

  Client Connect() { return Client(server_->port()); }
  BinaryClient ConnectBinary() { return BinaryClient(server_->binary_port()); }

  std::chrono::milliseconds io_timeout_{5000};
  bool access_log_ = false;  // ServerOptions::access_log of the next StartServer
  std::ostringstream log_;   // what the server logs at info level and above
  testing::TempDir dir_;
  std::shared_ptr<std::atomic<bool>> slow_clock_ = std::make_shared<std::atomic<bool>>(false);
  std::unique_ptr<HttpServer> server_;
};

inline bool Has(const Response& res, const std::string& text) {
  return res.body().find(text) != std::string::npos;
}

constexpr const char* kPolicyPath = "/v1/organization/acme/config/authentication";
constexpr const char* kAllowlistPath = "/v1/organization/acme/config/api-client-ip-allowlist";

}  // namespace authledger::server::testing_support
