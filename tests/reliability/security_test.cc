// Security checks: no token secret or API key anywhere in the data directory, the logs
// or the exported events, after the demo, after the crash workload and after the server
// has served requests (every byte of every file searched, in every encoding; see
// secret_scan.h); the data directory is 0700 and the server's key file must be 0600; and
// a request with an auditor key changes nothing.
#include <authledger/engine.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <random>
#include <sstream>

#include "storage/event_log.h"
#include "tests/reliability/crash_harness.h"
#include "tests/reliability/secret_scan.h"
#include "tests/support/cli_run.h"
#include "tests/support/temp_dir.h"
#include "tools/cli/commands.h"
#include "tools/cli/demo.h"
#include "tools/server/http_server.h"

namespace authledger::testing {
namespace {

// Findings, one per line, for a failure message (they never hold a secret).
std::string Lines(const std::vector<std::string>& findings) {
  std::string out;
  for (const auto& f : findings) out += "  " + f + "\n";
  return out;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

unsigned Mode(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// The engine's messages, kept for searching.
class CapturingLogger : public Logger {
 public:
  void Log(Level, std::string_view message) override {
    std::lock_guard lock(mu_);
    text_.append(message).push_back('\n');
  }
  std::string text() const {
    std::lock_guard lock(mu_);
    return text_;
  }

 private:
  mutable std::mutex mu_;
  std::string text_;
};

// Standard error, captured while in scope.
class CapturedStderr {
 public:
  CapturedStderr() : old_(std::cerr.rdbuf(text_.rdbuf())) {}
  ~CapturedStderr() { std::cerr.rdbuf(old_); }
  CapturedStderr(const CapturedStderr&) = delete;
  CapturedStderr& operator=(const CapturedStderr&) = delete;
  std::string text() const { return text_.str(); }

 private:
  std::ostringstream text_;
  std::streambuf* old_;
};

// The SHA-256 of every token the log knows, so that secrets the test never saw are
// recognized; how many there are.
std::size_t AddTokenHashes(const std::string& dir, SecretScanner& scanner) {
  storage::EventLogOptions options;
  options.read_only = true;
  auto log = storage::EventLog::Open(dir, options);
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  if (!log.ok()) return 0;
  std::size_t tokens = 0;
  Status s = (*log)->Scan(1, (*log)->size(), [&](const storage::DecodedEvent& e) {
    if (e.envelope().getEvent().isTokenCreated()) {
      auto hash = e.envelope().getEvent().getTokenCreated().getSecretHash();
      storage::Hash h{};
      EXPECT_EQ(hash.size(), h.size());
      std::copy_n(hash.begin(), std::min(hash.size(), h.size()), h.begin());
      scanner.AddTokenHash(h);
      ++tokens;
    }
    return true;
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return tokens;
}

// One of the CLI's log commands (export, verify, …), run as `authledger` would; `out`
// holds standard output and standard error.
CliRun LogCommand(std::vector<std::string> args) {
  return RunCli(
      std::move(args),
      [](CLI::App& app, cli::CommandIo io, int* code) { cli::AddLogCommands(app, io, code); },
      OneStream::kYes);
}

// The export, in both formats, and what verify prints hold no secret.
void ExpectCliOutputClean(const std::string& dir, const SecretScanner& scanner) {
  const std::vector<std::vector<std::string>> commands = {
      {"export", "--data", dir, "--format", "jsonl"},
      {"export", "--data", dir, "--format", "csv"},
      {"verify", "--data", dir, "--json"},
  };
  for (const auto& args : commands) {
    CliRun run = LogCommand(args);
    ASSERT_EQ(run.code, 0) << args[0] << " failed";  // its output may be what leaks
    EXPECT_GT(run.out.size(), 0u) << args[0];
    auto found = scanner.Scan(run.out, args[0] + " " + args.back());
    EXPECT_TRUE(found.empty()) << Lines(found);
  }
}

// ---- The scanner itself: a clean result means something only if it finds a plant ----

TEST(SecretScanner, FindsAPlantedSecretInEveryForm) {
  const std::string secret =
      "alp_AbCdEfGhIjK"
      "lmnopqrstuvwxyz0123456789-_ABCDE";
  ASSERT_EQ(secret.size(), 47u);
  const std::string b64_of_text = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=";  // context
  SecretScanner known;
  known.AddTokenSecret(secret);
  known.AddApiKey("ops", "admin-key-0123456789ab");
  SecretScanner by_hash;
  by_hash.AddTokenHash(storage::Sha256(secret));

  auto hex = [](std::string_view s) {
    std::string out;
    for (unsigned char c : s) {
      out.push_back("0123456789abcdef"[c >> 4]);
      out.push_back("0123456789abcdef"[c & 15]);
    }
    return out;
  };
  auto base64 = [](std::string_view s) {
    const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::uint32_t acc = 0;
    int bits = 0;
    for (unsigned char c : s) {
      acc = (acc << 8) | c;
      for (bits += 8; bits >= 6; bits -= 6) out.push_back(a[(acc >> (bits - 6)) & 63]);
    }
    if (bits > 0) out.push_back(a[(acc << (6 - bits)) & 63]);
    return out;
  };
  std::vector<std::string> plants = {"xx" + secret + "yy", "{\"k\":\"" + hex(secret) + "\"}"};
  for (std::string lead : {"", "a", "ab"}) {  // every alignment inside a base64 text
    plants.push_back("data:" + base64(lead + secret + "tail bytes") + ";");
  }
  for (const auto& plant : plants) {
    EXPECT_FALSE(known.Scan(plant, "plant").empty()) << "known secret missed";
    EXPECT_FALSE(by_hash.Scan(plant, "plant").empty()) << "secret by hash missed";
  }
  // Only the private part is secret: the public prefix alone is no finding.
  EXPECT_TRUE(known.Scan("token " + secret.substr(0, 15) + " revoked", "log").empty());
  EXPECT_TRUE(by_hash.Scan("als_" + secret.substr(4), "other").empty()) << "another secret";
  EXPECT_FALSE(known.Scan("Bearer admin-key-0123456789ab", "log").empty());
  EXPECT_TRUE(known.Scan(b64_of_text + " nothing here", "clean").empty());
  // And it never reveals what it found.
  for (const auto& f : known.Scan(plants[0], "plant")) {
    EXPECT_EQ(f.find(secret.substr(15)), std::string::npos);
  }
}

// ---- After the demo ----

TEST(Security, TheDemoLeavesNoSecretInItsDataDirectoryOutputOrExport) {
  TempDir tmp;
  const std::string dir = tmp.Sub("data");
  std::ostringstream out;
  std::string err;
  {
    CapturedStderr captured;
    ASSERT_EQ(cli::RunDemo(dir, out), 0) << out.str();
    err = captured.text();
  }
  EXPECT_EQ(Mode(dir), 0700u) << "the data directory must be private";

  SecretScanner scanner;
  // The demo's secrets are never shown to us: anything shaped like one is hashed and
  // compared with the tokens the log knows (a session and a personal token at least).
  EXPECT_GE(AddTokenHashes(dir, scanner), 2u);
  auto found = scanner.ScanDirectory(dir);
  EXPECT_TRUE(found.empty()) << Lines(found);
  EXPECT_GT(scanner.files_scanned, 3u);
  found = scanner.Scan(out.str() + err, "the demo's output");
  EXPECT_TRUE(found.empty()) << Lines(found);
  ExpectCliOutputClean(dir, scanner);
}

// ---- After the crash workload ----

TEST(Security, TheCrashWorkloadLeavesNoSecretOnDiskInItsLogsOrExport) {
  TempDir tmp;
  const std::string dir = tmp.Sub("data");
  const std::string engine_log = tmp.Sub("engine.log");
  std::mt19937_64 rng(std::random_device{}());
  History history;
  for (int kill = 0; kill < 4; ++kill) {
    ChildRun run = RunAndKill(dir, engine_log, rng(), {30, 1000});
    ASSERT_TRUE(run.error.empty()) << run.error;
    history.Add(run.acks);
  }
  ASSERT_GT(history.tokens().size(), 0u) << "the workload made no token";

  // The engine reopened by this process, with checks that record token use.
  auto logger = std::make_shared<CapturingLogger>();
  {
    EngineOptions options;
    options.logger = logger;
    options.token_use_interval_us = 1;
    auto engine = Engine::Open(dir, options);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    const std::int64_t now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();
    for (const KnownToken& t : history.tokens()) {
      for (const char* org : {"o0", "o1", "o2"}) {
        (*engine)->CheckToken(t.secret, org, {now_us, "203.0.113.5"});
      }
    }
    (*engine)->FlushTokenUse();
  }
  EXPECT_EQ(Mode(dir), 0700u) << "the data directory must be private";

  SecretScanner scanner;
  for (const KnownToken& t : history.tokens()) scanner.AddTokenSecret(t.secret);
  EXPECT_GE(AddTokenHashes(dir, scanner), history.tokens().size());
  auto found = scanner.ScanDirectory(dir);
  EXPECT_TRUE(found.empty()) << Lines(found);
  found = scanner.Scan(ReadFile(engine_log), "the workload's engine log");
  EXPECT_TRUE(found.empty()) << Lines(found);
  found = scanner.Scan(logger->text(), "the engine log of the reopened engine");
  EXPECT_TRUE(found.empty()) << Lines(found);
  ExpectCliOutputClean(dir, scanner);
}

// ---- The server ----

constexpr const char* kBackendKey = "backend-key-7Qm2xV9pL4sR8tW1";
constexpr const char* kAdminKey = "admin-key-3Hn6yB0cJ5dK2fG7";
constexpr const char* kAuditorKey = "auditor-key-8Zr4uE1wN6aP9qT3";

std::string KeyFileText() {
  return std::string("ci backend ") + kBackendKey + "\nops admin " + kAdminKey +
         "\naudit auditor " + kAuditorKey + "\n";
}

TEST(Security, TheKeyFileMustBeReadableByItsOwnerOnly) {
  TempDir tmp;
  const std::string path = tmp.Sub("keys");
  std::ofstream(path) << KeyFileText();
  for (unsigned mode : {0644u, 0640u, 0604u, 0660u, 0606u}) {
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    auto keys = server::ApiKeys::Load(path);
    ASSERT_FALSE(keys.ok()) << "mode " << std::oct << mode;
    EXPECT_EQ(keys.status().reason(), "key_file_insecure") << std::oct << mode;
    // Refusing must not quote the file.
    EXPECT_EQ(keys.status().ToString().find(kAdminKey), std::string::npos);
  }
  for (unsigned mode : {0600u, 0400u}) {
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    auto keys = server::ApiKeys::Load(path);
    ASSERT_TRUE(keys.ok()) << std::oct << mode << ": " << keys.status().ToString();
    EXPECT_EQ(keys->size(), 3u);
  }
}

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

// One request on a fresh connection; the status code.
unsigned Send(std::uint16_t port, http::verb method, const std::string& target,
              const std::string& key, const std::string& body) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(std::chrono::seconds(10));
  stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::authorization, "Bearer " + key);
  req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  return res.result_int();
}

class AuditorKey : public ::testing::Test {
 protected:
  void SetUp() override {
    auto keys = server::ApiKeys::Parse(KeyFileText());
    ASSERT_TRUE(keys.ok()) << keys.status().ToString();
    auto engine = Engine::Open(tmp_.Sub("data"));
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    server::ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.threads = 2;
    auto logger = std::make_shared<spdlog::logger>(
        "security-test", std::make_shared<spdlog::sinks::ostream_sink_mt>(server_log_));
    logger->set_level(spdlog::level::trace);
    auto server = server::HttpServer::Start(std::move(engine).value(), std::move(keys).value(),
                                            options, logger);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    Engine& e = server_->engine();
    const Actor admin = Actor::Admin("admin1", "127.0.0.1");
    ASSERT_TRUE(e.CreateOrganization(admin, "acme", "Acme").ok());
    ASSERT_TRUE(e.VerifyDomain(admin, "acme", "acme.com").ok());
    ASSERT_TRUE(e.RegisterUser(admin, "alice", "alice@acme.com").ok());
    ASSERT_TRUE(e.AddMember(admin, "acme", "alice").ok());
    auto session = e.RecordLogin(Actor::User("alice"), {"alice", "password", false});
    ASSERT_TRUE(session.ok()) << session.status().ToString();
    session_secret_ = session->secret;
  }

  std::uint64_t Revision() {
    server_->engine().FlushTokenUse();
    return server_->engine().revision();
  }

  // Every route that changes something (tools/server/dispatch.h), with a body an admin
  // or backend key gets a 200 for. Add new mutating routes here.
  struct Route {
    http::verb method;
    std::string target;
    std::string body;
  };
  std::vector<Route> MutatingRoutes() const {
    return {
        {http::verb::patch, "/v1/organization/acme/config/authentication",
         R"({"two_factor_required":true})"},
        {http::verb::put, "/v1/organization/acme/config/api-client-ip-allowlist",
         R"({"enabled":true,"cidrs":["127.0.0.0/8"]})"},
        // A check records the token's use: a write.
        {http::verb::post, "/v1/check",
         R"({"token":")" + session_secret_ + R"(","org_id":"acme","ip":"127.0.0.1"})"},
        // In an order in which each succeeds for an admin.
        {http::verb::post, "/v1/organization", R"({"org_id":"beta","name":"Beta"})"},
        {http::verb::post, "/v1/organization/beta/domain", R"({"domain":"beta.io"})"},
        {http::verb::post, "/v1/organization/beta/idp",
         R"({"idp_id":"okta","name":"Okta","domains":["beta.io"]})"},
        {http::verb::delete_, "/v1/organization/beta/idp/okta", ""},
        {http::verb::delete_, "/v1/organization/beta/domain/beta.io", ""},
        {http::verb::post, "/v1/user", R"({"user_id":"bob","email":"bob@acme.com"})"},
        {http::verb::put, "/v1/organization/acme/member/bob", ""},
        {http::verb::post, "/v1/organization/acme/member/bob/deactivate", ""},
        {http::verb::post, "/v1/organization/acme/member/bob/reactivate", ""},
        {http::verb::post, "/v1/user/bob/two-factor/enable", ""},
        {http::verb::post, "/v1/user/bob/two-factor/disable", ""},
        {http::verb::post, "/v1/login", R"({"user_id":"bob","method":"password"})"},
        {http::verb::post, "/v1/user/bob/expire-tokens", ""},
        {http::verb::delete_, "/v1/organization/acme/member/bob", ""},
        {http::verb::post, "/v1/organization/acme/application-user",
         R"({"user_id":"app1","name":"CI"})"},
        {http::verb::post, "/v1/organization/acme/application-user/app1/token",
         R"({"description":"ci"})"},
        {http::verb::delete_, "/v1/organization/acme/application-user/app1", ""},
    };
  }

  TempDir tmp_;
  std::ostringstream server_log_;
  std::unique_ptr<server::HttpServer> server_;
  std::string session_secret_;
};

TEST_F(AuditorKey, CanChangeNothing) {
  const std::uint16_t port = server_->port();
  const std::uint64_t before = Revision();
  const auto policy = server_->engine().GetPolicy("acme");
  ASSERT_TRUE(policy.ok());
  for (const Route& r : MutatingRoutes()) {
    EXPECT_EQ(Send(port, r.method, r.target, kAuditorKey, r.body), 403u) << r.target;
  }
  // Any other method on any route, known or not: never a success.
  const std::vector<std::string> targets = {"/v1/check",
                                            "/v1/organization/acme/config/authentication",
                                            "/v1/log/checkpoint",
                                            "/v1/organization/acme/config/api-client-ip-allowlist",
                                            "/v1/organization/acme",
                                            "/v1/tokens",
                                            "/v1/organization/acme/tokens",
                                            "/healthz",
                                            "/metrics"};
  for (http::verb method :
       {http::verb::post, http::verb::put, http::verb::patch, http::verb::delete_}) {
    for (const auto& target : targets) {
      unsigned status = Send(port, method, target, kAuditorKey, "{}");
      EXPECT_TRUE(status >= 400 && status < 500)
          << beast::http::to_string(method) << " " << target << " → " << status;
    }
  }
  EXPECT_EQ(Revision(), before) << "an auditor's request appended events";
  EXPECT_TRUE(*server_->engine().GetPolicy("acme") == *policy);

  // The same requests with the admin and backend keys do change the log: the auditor's
  // 403s were not an artifact of the requests.
  for (const Route& r : MutatingRoutes()) {
    const char* key = r.target == "/v1/check" ? kBackendKey : kAdminKey;
    EXPECT_EQ(Send(port, r.method, r.target, key, r.body), 200u) << r.target;
  }
  EXPECT_GT(Revision(), before);
}

TEST_F(AuditorKey, NoKeyOrSecretReachesTheServerLogOrTheDataDirectory) {
  const std::uint16_t port = server_->port();
  for (const Route& r : MutatingRoutes()) {
    Send(port, r.method, r.target, kAuditorKey, r.body);
    Send(port, r.method, r.target, r.target == "/v1/check" ? kBackendKey : kAdminKey, r.body);
  }
  Send(port, http::verb::post, "/v1/check", "wrong-key-5Xk9", "{}");
  server_->Stop();
  server_.reset();  // closes the engine and its log

  SecretScanner scanner;
  scanner.AddApiKey("backend", kBackendKey);
  scanner.AddApiKey("admin", kAdminKey);
  scanner.AddApiKey("auditor", kAuditorKey);
  scanner.AddApiKey("wrong", "wrong-key-5Xk9");
  scanner.AddTokenSecret(session_secret_);
  ASSERT_GE(AddTokenHashes(tmp_.Sub("data"), scanner), 1u);
  EXPECT_NE(server_log_.str().find("route="), std::string::npos) << "requests were logged";
  auto found = scanner.Scan(server_log_.str(), "the server log");
  EXPECT_TRUE(found.empty()) << Lines(found);
  found = scanner.ScanDirectory(tmp_.Sub("data"));
  EXPECT_TRUE(found.empty()) << Lines(found);
  EXPECT_EQ(Mode(tmp_.Sub("data")), 0700u);
}

}  // namespace
}  // namespace authledger::testing
