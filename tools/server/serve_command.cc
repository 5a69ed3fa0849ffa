#include "tools/server/serve_command.h"

#include <authledger/engine.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <fstream>

#include "tools/cli/spdlog_logger.h"
#include "tools/server/http_server.h"

namespace authledger::server {
namespace {

struct ServeArgs {
  std::string data = cli::kDefaultDataDir;
  std::string keys;
  std::string config;
  std::string log_format = "text";
  std::string checkpoint_key;
  std::string port_file;
  std::uint64_t snapshot_interval = EngineOptions().snapshot_interval;
  ServerOptions options;
};

// Sets, from the TOML file at `path`, every option of `cmd` the command line left out.
// (CLI11 reads config files for the top-level app only.)
Status ApplyConfig(CLI::App* cmd, const std::string& path) {
  std::vector<CLI::ConfigItem> items;
  try {
    items = CLI::ConfigTOML().from_file(path);
  } catch (const CLI::Error& e) {
    return Status::InvalidArgument("config_invalid", path + ": " + e.what());
  }
  for (const CLI::ConfigItem& item : items) {
    if (item.name == "++" || item.name == "--") continue;  // a [section] opening or closing
    const bool ours =
        item.parents.empty() || (item.parents.size() == 1 && item.parents[0] == "serve");
    CLI::Option* option = nullptr;
    if (ours && item.name != "config") {
      try {
        option = cmd->get_option("--" + item.name);
      } catch (const CLI::OptionNotFound&) {
        option = nullptr;
      }
    }
    if (option == nullptr) {
      return Status::InvalidArgument("config_invalid",
                                     path + ": unknown setting '" + item.fullname() + "'");
    }
    if (option->count() > 0) continue;  // the command line wins
    try {
      option->add_result(item.inputs);
      option->run_callback();
    } catch (const CLI::Error& e) {
      return Status::InvalidArgument("config_invalid", path + ": " + item.name + ": " + e.what());
    }
  }
  return Status::Ok();
}

// Writes "<http port> <binary port>\n" (0 when the binary protocol is off) to `path`
// through a temporary file and a rename, so that a reader never sees half of it.
Status WritePortFile(const std::string& path, const HttpServer& server) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << server.port() << " " << server.binary_port() << "\n";
    out.flush();
    if (!out) return Status::IoError("port_file_failed", "cannot write " + temporary);
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    return Status::IoError("port_file_failed", "cannot rename " + temporary + " to " + path);
  }
  return Status::Ok();
}

int Serve(ServeArgs& args, CLI::App* cmd, cli::CommandIo io) {
  if (!args.config.empty()) {
    if (Status s = ApplyConfig(cmd, args.config); !s.ok()) {
      io.err << "authledger: " << s.ToString() << "\n";
      return 2;
    }
  }
  if (args.keys.empty()) {
    io.err << "authledger: --keys FILE (or `keys` in the config file) is required\n";
    return 2;
  }
  auto keys = ApiKeys::Load(args.keys);
  if (!keys.ok()) {
    io.err << "authledger: " << keys.status().ToString() << "\n";
    return 1;
  }
  auto logger =
      cli::StderrSpdlog("authledger-serve",
                        args.log_format == "json" ? cli::LogFormat::kJson : cli::LogFormat::kText);
  EngineOptions engine_options;
  engine_options.logger = std::make_shared<cli::SpdlogLogger>(logger);
  engine_options.checkpoint_key_file = args.checkpoint_key;
  engine_options.snapshot_interval = args.snapshot_interval;
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
  if (!args.port_file.empty()) {
    if (Status s = WritePortFile(args.port_file, **server); !s.ok()) {
      io.err << "authledger: " << s.ToString() << "\n";
      return 1;
    }
  }
  (*server)->Wait();
  return 0;
}

}  // namespace

void AddServeCommand(CLI::App& app, cli::CommandIo io, int* exit_code) {
  auto args = std::make_shared<ServeArgs>();
  auto* cmd = app.add_subcommand(
      "serve", "Serve the engine over HTTP/JSON and binary Cap'n Proto until SIGINT/SIGTERM");
  cmd->add_option("--config", args->config,
                  "Read these options from a TOML file (`listen = \"127.0.0.1:8080\"`, …); "
                  "flags on the command line win");
  cmd->add_option("--data", args->data, "Data directory");
  cmd->add_option("--listen", args->options.listen, "host:port to listen on")
      ->capture_default_str();
  cmd->add_option("--binary-listen", args->options.binary_listen,
                  "host:port for the binary Cap'n Proto protocol (default: off)");
  // Required, but checked after parsing: it may come from the config file.
  cmd->add_option("--keys", args->keys, "API key file (`name role key` lines, mode 0600)");
  cmd->add_option("--threads", args->options.threads, "Worker threads (default: one per core)");
  cmd->add_option("--blocking-threads", args->options.blocking_threads,
                  "Threads for commands, audits and proofs (they wait for the disk)")
      ->capture_default_str();
  cmd->add_option("--max-connections", args->options.max_connections,
                  "Connections at once, both ports together")
      ->capture_default_str();
  cmd->add_flag("--access-log", args->options.access_log,
                "Log one line per HTTP request (peer, method, route, status, latency) at info "
                "level; without it those lines are at debug level and not written");
  cmd->add_option("--log-format", args->log_format, "Log lines as text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  cmd->add_option("--checkpoint-key", args->checkpoint_key,
                  "Ed25519 private key (PEM) to sign checkpoints");
  cmd->add_option("--port-file", args->port_file,
                  "Once listening, write the bound ports to this file as one line "
                  "`<http port> <binary port>` (for port 0 in --listen / --binary-listen)");
  cmd->add_option("--snapshot-interval", args->snapshot_interval,
                  "Write a snapshot every this many events")
      ->capture_default_str();
  cmd->callback([args, cmd, io, exit_code] { *exit_code = Serve(*args, cmd, io); });
}

}  // namespace authledger::server
