// A fixed log for the CLI's golden tests, written by the real engine with a fake clock,
// and a way to run any subcommand on it with its output captured.
//
// Token prefixes come from a CSPRNG, and hashes cover them, so the goldens name them by
// order of appearance: <token1>, <hash1>, …; event bytes (long hex) become <bytes>.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/engine/engine_fixture.h"
#include "tests/support/cli_run.h"
#include "tools/cli/commands.h"

namespace authledger::testing {

// The log, audit and replay subcommands.
inline CliRun Cli(std::vector<std::string> args) {
  return RunCli(std::move(args), [](CLI::App& app, cli::CommandIo io, int* code) {
    cli::AddLogCommands(app, io, code);
    cli::AddAuditCommands(app, io, code);
    cli::AddReplayCommands(app, io, code);
  });
}

class CliTest : public EngineTest {
 protected:
  // Eight events at fixed times; snapshots at 6 (written on purpose) and 8 (on close).
  void SetUp() override {
    EngineTest::SetUp();
    ManagedOrg("acme", "acme.com");
    UserIn("alice", "alice@acme.com", "acme");
    Advance(60);
    auto session = Login("alice", "password");
    Advance(60);
    TokenSpec spec;
    spec.description = "deploy key, \"prod\"";
    spec.max_age_seconds = 3600;
    auto personal = PersonalToken(session, "alice", spec);
    ASSERT_TRUE(engine_->WriteSnapshot().ok());
    Advance(60);
    PolicyUpdate update;
    update.two_factor_required = true;
    Must(SetPolicy("acme", update));
    Advance(60);
    Must(engine_->RevokeToken(Actor::User("alice", "203.0.113.9"), personal.token_prefix));
    prefixes_ = {session.token_prefix, personal.token_prefix};
    secrets_ = {session.secret, personal.secret};
    engine_.reset();
  }

  // The output with random parts named by order of appearance.
  std::string Normalized(std::string text) const {
    for (std::size_t i = 0; i < prefixes_.size(); ++i) {
      const std::string name = "<token" + std::to_string(i + 1) + ">";
      for (std::size_t at; (at = text.find(prefixes_[i])) != std::string::npos;) {
        text.replace(at, prefixes_[i].size(), name);
      }
    }
    for (std::size_t at; (at = text.find(dir_.path())) != std::string::npos;) {
      text.replace(at, dir_.path().size(), "<dir>");
    }
    static const std::regex kHex("[0-9a-f]{64,}");
    std::map<std::string, std::string> names;
    std::string out;
    auto begin = std::sregex_iterator(text.begin(), text.end(), kHex);
    std::size_t last = 0;
    for (auto it = begin; it != std::sregex_iterator(); ++it) {
      const std::string hex = it->str();
      out += text.substr(last, static_cast<std::size_t>(it->position()) - last);
      if (hex.size() > 64) {
        out += "<bytes>";
      } else {
        auto [entry, added] = names.emplace(hex, "<hash" + std::to_string(names.size() + 1) + ">");
        out += entry->second;
      }
      last = static_cast<std::size_t>(it->position() + it->length());
    }
    return out + text.substr(last);
  }

  std::vector<std::string> Data() const { return {"--data", dir_.path()}; }
  CliRun Cmd(std::vector<std::string> args) {
    auto data = Data();
    args.insert(args.begin() + 1, data.begin(), data.end());
    return Cli(std::move(args));
  }
  std::string WriteFile(const std::string& name, const std::string& text) {
    std::string path = files_.Sub(name);
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  TempDir files_;
  std::vector<std::string> prefixes_;
  std::vector<std::string> secrets_;
};

}  // namespace authledger::testing
