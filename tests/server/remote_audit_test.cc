// `authledger audit … --server URL` prints exactly what `--data DIR` prints, for every
// audit subcommand, human and JSON: the remote Auditor is the log's Auditor over HTTP.
#include <cstdlib>

#include "tests/server/server_fixture.h"
#include "tests/support/cli_run.h"
#include "tools/cli/commands.h"
#include "tools/server/remote_auditor.h"

namespace authledger::server {
namespace {

using namespace testing_support;  // NOLINT: the fixture's vocabulary

// `authledger audit ARGS…`, able to reach a server (--server URL).
authledger::testing::CliRun Audit(std::vector<std::string> args) {
  args.insert(args.begin(), "audit");
  return authledger::testing::RunCli(std::move(args),
                                     [](CLI::App& app, cli::CommandIo io, int* code) {
                                       cli::AddAuditCommands(app, io, code, OpenRemoteAuditor);
                                     });
}

class RemoteAuditTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    setenv("AUTHLEDGER_API_KEY", kAuditorKey, 1);
  }
  void TearDown() override { unsetenv("AUTHLEDGER_API_KEY"); }
  std::string Url() { return "http://127.0.0.1:" + std::to_string(server_->port()); }
};

TEST_F(RemoteAuditTest, EverySubcommandPrintsTheSameAsOverTheLog) {
  AliceSession();
  Engine& e = server_->engine();
  const Actor admin = Actor::Admin("admin1", "127.0.0.1");
  PolicyUpdate sso;
  sso.password_auth_enabled = false;
  sso.force = true;
  ASSERT_TRUE(e.UpdatePolicy(admin, "acme", sso).ok());
  auto events = Audit({"events", "--type", "token_created", "--json", "--data", dir_.Sub("data")});
  const auto at = events.out.find("\"token_prefix\":\"");
  ASSERT_NE(at, std::string::npos) << events.out << events.err;
  const std::string prefix = events.out.substr(at + 16, events.out.find('"', at + 16) - at - 16);

  const std::vector<std::vector<std::string>> commands = {
      {"policy", "acme"},
      {"token", prefix},
      {"token", prefix, "--ip", "10.0.0.1"},
      {"explain", prefix, "acme", "--at", "5"},
      {"explain", prefix, "acme"},
      {"impact", "6"},
      {"who", "acme"},
      {"who", "acme", "--at", "4"},
      {"events", "--limit", "3"},
      {"events", "--org", "acme", "--from-seq", "2"},
  };
  for (const auto& command : commands) {
    for (bool json : {false, true}) {
      auto local = command;
      auto remote = command;
      local.insert(local.end(), {"--data", dir_.Sub("data")});
      remote.insert(remote.end(), {"--server", Url()});
      if (json) {
        local.push_back("--json");
        remote.push_back("--json");
      }
      const authledger::testing::CliRun want = Audit(local);
      const authledger::testing::CliRun got = Audit(remote);
      SCOPED_TRACE(::testing::PrintToString(remote));
      EXPECT_EQ(want.code, 0) << want.err;
      EXPECT_EQ(got.code, want.code) << got.err;
      EXPECT_EQ(got.out, want.out);
    }
  }
}

TEST_F(RemoteAuditTest, ErrorsComeBackWithTheServersReason) {
  AliceSession();
  const authledger::testing::CliRun missing = Audit({"token", "nosuch", "--server", Url()});
  EXPECT_EQ(missing.code, 1);
  const authledger::testing::CliRun local = Audit({"token", "nosuch", "--data", dir_.Sub("data")});
  EXPECT_EQ(missing.err, local.err);

  setenv("AUTHLEDGER_API_KEY", kBackendKey, 1);  // a backend may not audit
  const authledger::testing::CliRun forbidden = Audit({"policy", "acme", "--server", Url()});
  EXPECT_EQ(forbidden.code, 1);
  EXPECT_NE(forbidden.err.find("permission_denied"), std::string::npos) << forbidden.err;

  const authledger::testing::CliRun bad_url = Audit({"policy", "acme", "--server", "ftp://x"});
  EXPECT_NE(bad_url.err.find("server_url_invalid"), std::string::npos) << bad_url.err;
  unsetenv("AUTHLEDGER_API_KEY");
  const authledger::testing::CliRun no_key = Audit({"policy", "acme", "--server", Url()});
  EXPECT_NE(no_key.err.find("api_key_missing"), std::string::npos) << no_key.err;
}

}  // namespace
}  // namespace authledger::server
