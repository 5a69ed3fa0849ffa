// authledger: the command-line tool. Subcommands: demo, and the auditors' log and
// audit tools (tools/cli/commands.h).
#include <CLI/CLI.hpp>
#include <iostream>

#include "tools/cli/commands.h"
#include "tools/cli/demo.h"
#include "tools/server/remote_auditor.h"
#include "tools/server/serve_command.h"

int main(int argc, char** argv) {
  CLI::App app{"authledger: authentication policy decisions over a tamper-evident event log"};
  app.require_subcommand(1);

  std::string demo_dir;
  auto* demo = app.add_subcommand("demo", "Play the seed story on a fresh data directory");
  demo->add_option("--data", demo_dir, "Data directory (default: a new temporary one)");

  int exit_code = 0;
  authledger::cli::CommandIo io{std::cout, std::cerr};
  authledger::cli::AddLogCommands(app, io, &exit_code);
  authledger::cli::AddAuditCommands(app, io, &exit_code, authledger::server::OpenRemoteAuditor);
  authledger::cli::AddReplayCommands(app, io, &exit_code);
  authledger::cli::AddRecoverCommand(app, io, &exit_code);
  authledger::server::AddServeCommand(app, io, &exit_code);

  try {
    app.parse(argc, argv);
    if (*demo) return authledger::cli::RunDemo(demo_dir, std::cout);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::cerr << "authledger: " << e.what() << "\n";
    return 1;
  }
  return exit_code;
}
