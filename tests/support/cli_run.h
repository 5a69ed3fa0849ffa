// RunCli: the CLI's subcommands run in this process, as `authledger ARGS…` would run
// them, with the exit code and both output streams captured. The caller says which
// subcommands exist (tools/cli/commands.h), e.g.
//
//   RunCli({"verify", "--data", dir}, [](CLI::App& app, cli::CommandIo io, int* code) {
//     cli::AddLogCommands(app, io, code);
//   });
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "tools/cli/commands.h"

namespace authledger::testing {

struct CliRun {
  int code = -1;
  std::string out;
  std::string err;  // empty with OneStream::kYes: both streams are in `out`
};

// Registers subcommands on the app, writing to `io` and setting `*exit_code`.
using AddCommands = std::function<void(CLI::App& app, cli::CommandIo io, int* exit_code)>;

enum class OneStream { kNo, kYes };

inline CliRun RunCli(std::vector<std::string> args, const AddCommands& add,
                     OneStream one_stream = OneStream::kNo) {
  CLI::App app{"authledger"};
  app.require_subcommand(1);
  std::ostringstream out;
  std::ostringstream separate_err;
  std::ostream& err = one_stream == OneStream::kYes ? out : separate_err;
  CliRun run;
  run.code = 0;
  add(app, {out, err}, &run.code);
  args.insert(args.begin(), "authledger");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    run.code = app.exit(e, out, err);
  }
  run.out = out.str();
  run.err = separate_err.str();
  return run;
}

}  // namespace authledger::testing
