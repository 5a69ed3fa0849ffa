// `authledger serve`: the server in front of the engine (http_server.h).
//
//   authledger serve --data DIR --listen 127.0.0.1:8080 [--binary-listen 127.0.0.1:8081]
//                    --keys FILE [--config FILE.toml] [--log-format text|json]
//                    [--access-log] [--port-file FILE] …
//
// With port 0 in --listen / --binary-listen the kernel picks the ports; --port-file
// writes them, once listening, as one line "<http port> <binary port>" (a process that
// starts the server, such as the crash test, reads it there).
// Runs until SIGINT or SIGTERM, then shuts down gracefully. Every option may come from
// the TOML config file instead (same names without the dashes); the command line wins.
// Logs go to standard error, text or JSON lines, never a key, a token or a request
// body; with --access-log also one line per HTTP request (without it those lines are at
// debug level, which is not written: a line per request cost about a tenth of the
// server's CPU per check).
//
// Thread-safety: registration and the callback run on the calling thread.
#pragma once

#include <CLI/CLI.hpp>

#include "tools/cli/commands.h"

namespace authledger::server {

void AddServeCommand(CLI::App& app, cli::CommandIo io, int* exit_code);

}  // namespace authledger::server
