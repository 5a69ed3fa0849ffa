// `authledger serve`: the HTTP/JSON server in front of the engine (http_server.h).
//
//   authledger serve --data DIR --listen 127.0.0.1:8080 --keys FILE [--threads N]
//
// Runs until SIGINT or SIGTERM, then shuts down gracefully. Logs go to standard error,
// one line per request, never a key or a token.
//
// Thread-safety: registration and the callback run on the calling thread.
#pragma once

#include <CLI/CLI.hpp>

#include "tools/cli/commands.h"

namespace authledger::server {

void AddServeCommand(CLI::App& app, cli::CommandIo io, int* exit_code);

}  // namespace authledger::server
