#include "tools/server/serve_command.h"

#include <authledger/engine.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "tools/cli/spdlog_logger.h"
#include "tools/server/http_server.h"

namespace authledger::server {
namespace {

struct ServeArgs {
  std::string data = cli::kDefaultDataDir;
  std::string keys;
  ServerOptions options;
};

int Serve(const ServeArgs& args, cli::CommandIo io) {
  auto keys = ApiKeys::Load(args.keys);
  if (!keys.ok()) {
    io.err << "authledger: " << keys.status().ToString() << "\n";
    return 1;
  }
  auto logger = spdlog::stderr_color_mt("authledger-serve");
  EngineOptions engine_options;
  engine_options.logger = std::make_shared<cli::SpdlogLogger>(logger);
  auto engine = Engine::Open(args.data, engine_options);
  if (!engine.ok()) {
    io.err << "authledger: " << engine.status().ToString() << "\n";
    return 1;
  }
  ServerOptions options = args.options;
  options.handle_signals = true;
  options.data_dir = args.data;
  auto server = HttpServer::Start(std::move(*engine), std::move(*keys), std::move(options), logger);
  if (!server.ok()) {
    io.err << "authledger: " << server.status().ToString() << "\n";
    return 1;
  }
  (*server)->Wait();
  return 0;
}

}  // namespace

void AddServeCommand(CLI::App& app, cli::CommandIo io, int* exit_code) {
  auto args = std::make_shared<ServeArgs>();
  auto* cmd = app.add_subcommand("serve", "Serve the engine over HTTP/JSON until SIGINT/SIGTERM");
  cmd->add_option("--data", args->data, "Data directory");
  cmd->add_option("--listen", args->options.listen, "host:port to listen on")
      ->capture_default_str();
  cmd->add_option("--binary-listen", args->options.binary_listen,
                  "host:port for the binary Cap'n Proto protocol (default: off)");
  cmd->add_option("--keys", args->keys, "API key file (`name role key` lines, mode 0600)")
      ->required();
  cmd->add_option("--threads", args->options.threads, "Worker threads (default: one per core)");
  cmd->callback([args, io, exit_code] { *exit_code = Serve(*args, io); });
}

}  // namespace authledger::server
