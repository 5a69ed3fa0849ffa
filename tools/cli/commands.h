// The CLI's subcommands for auditors and incident reviewers, registered on the CLI11
// app by group. Each subcommand runs in its CLI11 callback and stores its exit status
// in *exit_code: 0 success, 1 the operation failed (the reason is printed on `err`),
// 3 a verification found a problem.
//
// Every subcommand takes `--data DIR` (default kDefaultDataDir) and opens the log
// read-only, so it can run beside a live engine. Output is a human table by default and
// JSON with `--json`.
//
// Thread-safety: registration and callbacks run on the calling thread.
#pragma once

#include <authledger/audit.h>

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <ostream>
#include <string>

namespace authledger::cli {

inline constexpr const char* kDefaultDataDir = "./authledger-data";

struct CommandIo {
  std::ostream& out;
  std::ostream& err;
};

// checkpoint, prove, verify, export (tools/cli/log_commands.cc).
void AddLogCommands(CLI::App& app, CommandIo io, int* exit_code);
// Opens an Auditor on a running server, given its URL and an API key.
using RemoteAuditorFactory = std::function<Result<std::unique_ptr<Auditor>>(
    const std::string& url, const std::string& api_key)>;

// audit policy|token|explain|impact|who|events (tools/cli/audit_commands.cc); with
// `remote`, each also takes --server URL.
void AddAuditCommands(CLI::App& app, CommandIo io, int* exit_code,
                      RemoteAuditorFactory remote = nullptr);
// replay --to|--step|--diff, policy set --dry-run (tools/cli/replay_commands.cc).
void AddReplayCommands(CLI::App& app, CommandIo io, int* exit_code);
// recover --data DIR [--yes] (tools/cli/recover_command.cc): the one subcommand that
// writes the log; it needs the engine stopped.
void AddRecoverCommand(CLI::App& app, CommandIo io, int* exit_code);

}  // namespace authledger::cli
