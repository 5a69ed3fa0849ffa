// `authledger serve` set-up errors, and settings taken from its config file: each case
// returns before serving, so no server is left running.
#include "tools/server/serve_command.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/asio.hpp>
#include <fstream>
#include <string>
#include <vector>

#include "tests/support/cli_run.h"
#include "tests/support/temp_dir.h"

namespace authledger::server {
namespace {

using testing::CliRun;

// `authledger serve ARGS…`, in this process.
CliRun Serve(std::vector<std::string> args) {
  args.insert(args.begin(), "serve");
  return testing::RunCli(std::move(args), [](CLI::App& app, cli::CommandIo io, int* code) {
    AddServeCommand(app, io, code);
  });
}

class ServeCommandTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& text, mode_t mode = 0600) {
    const std::string path = dir_.Sub(name);
    std::ofstream(path) << text;
    chmod(path.c_str(), mode);
    return path;
  }
  testing::TempDir dir_;
};

TEST_F(ServeCommandTest, KeysAreRequiredFromTheFlagsOrTheConfig) {
  CliRun run = Serve({"--data", dir_.Sub("data")});
  EXPECT_EQ(run.code, 2);
  EXPECT_NE(run.err.find("--keys FILE"), std::string::npos) << run.err;
}

TEST_F(ServeCommandTest, AnUnknownOrMistypedSettingIsRefused) {
  CliRun unknown = Serve({"--config", Write("a.toml", "lisen = \"127.0.0.1:1\"\n")});
  EXPECT_EQ(unknown.code, 2);
  EXPECT_NE(unknown.err.find("config_invalid"), std::string::npos) << unknown.err;
  EXPECT_NE(unknown.err.find("lisen"), std::string::npos) << unknown.err;

  CliRun bad_value = Serve({"--config", Write("b.toml", "log-format = \"xml\"\n")});
  EXPECT_EQ(bad_value.code, 2);
  EXPECT_NE(bad_value.err.find("log-format"), std::string::npos) << bad_value.err;

  CliRun missing = Serve({"--config", dir_.Sub("nosuch.toml")});
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("config_invalid"), std::string::npos) << missing.err;
}

TEST_F(ServeCommandTest, TheConfigFileSuppliesWhatTheCommandLineLeavesOut) {
  const std::string keys = Write("keys", "ops admin admin-key-0123456789\n");
  // A port already taken: serving fails at once, naming the address from the config.
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor taken(
      ioc, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  const std::string address = "127.0.0.1:" + std::to_string(taken.local_endpoint().port());
  const std::string config =
      Write("serve.toml", "[serve]\nkeys = \"" + keys + "\"\nlisten = \"" + address +
                              "\"\ndata = \"" + dir_.Sub("data") + "\"\n");
  CliRun run = Serve({"--config", config});
  EXPECT_EQ(run.code, 1);
  EXPECT_NE(run.err.find("listen_failed"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find(address), std::string::npos) << run.err;

  // A flag beats the file: the key file given on the command line is world-readable.
  const std::string open_keys = Write("open-keys", "ops admin admin-key-0123456789\n", 0644);
  CliRun flag_wins = Serve({"--config", config, "--keys", open_keys});
  EXPECT_EQ(flag_wins.code, 1);
  EXPECT_NE(flag_wins.err.find("key_file_insecure"), std::string::npos) << flag_wins.err;
}

}  // namespace
}  // namespace authledger::server
