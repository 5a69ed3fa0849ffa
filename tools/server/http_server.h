// The server's two front ends over one Service (service.h), on Boost.Asio with C++20
// coroutines:
// - HTTP/1.1 JSON (Boost.Beast) on `listen`, routes in dispatch.h, keep-alive;
// - the binary protocol on `binary_listen` (off when empty): length-framed Cap'n Proto
//   wire::Request/Response messages (schema/wire.capnp), pipelined — every complete
//   frame read is answered in order, the answers of one read written together; the
//   connection reads nothing more until they are written (back-pressure).
//
// A pool of threads (one per core by default) runs every connection as a coroutine on
// its own strand. Checks and reads answer on the strand; commands, audit queries and
// proofs, which wait for the disk, run on a separate pool of `blocking_threads` so that
// many commands can share one group commit while checks go on. Every read and write
// has a deadline (a whole request or frame must arrive within io_timeout: slow clients
// are cut off); bodies above max_body_bytes get 413, frames above max_frame_bytes an
// error answer, then the connection is closed; beyond max_connections (both ports
// together) a new connection is refused. Stop() stops accepting, closes idle
// connections, lets requests in flight finish (up to shutdown_grace), joins the threads
// and then destroys the Engine, which closes the log cleanly. No Asio type appears here
// (pimpl).
//
// Thread-safety: Stop and Wait may be called from any thread except the server's own;
// engine() may be used from any thread while the server runs.
#pragma once

#include <authledger/engine.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "tools/server/api_keys.h"

namespace spdlog {
class logger;
}

namespace authledger::server {

struct ServerOptions {
  std::string listen = "127.0.0.1:8080";  // host:port; port 0 picks a free one
  std::string binary_listen;              // host:port of the binary protocol; empty = off
  std::string data_dir;                   // the engine's directory (audit and proof requests)
  unsigned threads = 0;                   // 0 = std::thread::hardware_concurrency()
  unsigned blocking_threads = 64;         // commands, audit queries and proofs
  std::size_t max_connections = 1024;
  std::size_t max_body_bytes = 64 * 1024;
  std::size_t max_frame_bytes = 64 * 1024;
  std::chrono::milliseconds io_timeout{30000};      // per read or write
  std::chrono::milliseconds shutdown_grace{10000};  // for requests in flight at Stop
  bool handle_signals = false;                      // SIGINT/SIGTERM → Stop (Wait returns)
  // The access log: one line per HTTP request (peer, method, route, status, latency)
  // at info level when true, at debug level (not shown by an info logger) when false.
  bool access_log = false;
  std::function<std::int64_t()> clock;  // µs since the epoch; default system
};

class HttpServer {
 public:
  // Binds and starts serving. Errors: bad listen address, port in use.
  static Result<std::unique_ptr<HttpServer>> Start(std::unique_ptr<Engine> engine, ApiKeys keys,
                                                   ServerOptions options,
                                                   std::shared_ptr<spdlog::logger> logger);
  ~HttpServer();  // Stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  std::uint16_t port() const;
  std::uint16_t binary_port() const;  // 0 when the binary protocol is off
  // The engine behind the server (e.g. for setting up state in tests); valid until Stop.
  Engine& engine();
  // Blocks until a signal arrives (with handle_signals) or Stop is called elsewhere.
  void Wait();
  // Graceful shutdown; idempotent.
  void Stop();

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace authledger::server
