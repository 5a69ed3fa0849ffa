// <utility> first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it.
#include <utility>
//
#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "tools/server/dispatch.h"
#include "tools/server/http_server.h"

namespace authledger::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr std::size_t kMaxHeaderBytes = 8 * 1024;

std::int64_t SystemMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<tcp::endpoint> ParseListen(const std::string& listen) {
  auto colon = listen.rfind(':');
  auto bad = Status::InvalidArgument("listen_address_invalid",
                                     "want host:port (e.g. 127.0.0.1:8080), got " + listen);
  if (colon == std::string::npos) return bad;
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string port_text = listen.substr(colon + 1);
  if (port_text.empty() || port_text.size() > 5 ||
      port_text.find_first_not_of("0123456789") != std::string::npos) {
    return bad;
  }
  const unsigned long port = std::stoul(port_text);
  if (port > 65535) return bad;
  beast::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return bad;
  return tcp::endpoint(address, static_cast<std::uint16_t>(port));
}

// One connection. Every member is touched only on the connection's strand.
struct Session {
  explicit Session(tcp::socket socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;
  bool reading = false;  // waiting for a request (idle): may be closed at shutdown
};

http::response<http::string_body> MakeResponse(const ApiResponse& r, unsigned version,
                                               bool keep_alive) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), version};
  res.set(http::field::server, "authledger");
  res.set(http::field::content_type, r.content_type);
  res.keep_alive(keep_alive);
  res.body() = r.body;
  res.prepare_payload();
  return res;
}

}  // namespace

struct HttpServer::Impl {
  ServerOptions options;
  std::unique_ptr<Engine> engine;
  ApiKeys keys;
  std::unique_ptr<Dispatcher> dispatcher;
  std::shared_ptr<spdlog::logger> logger;

  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> work{ioc.get_executor()};
  asio::strand<asio::io_context::executor_type> accept_strand{asio::make_strand(ioc)};
  tcp::acceptor acceptor{accept_strand};
  asio::signal_set signals{accept_strand};
  std::vector<std::thread> threads;
  std::uint16_t port = 0;

  std::atomic<bool> stopping{false};
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::uint64_t, std::shared_ptr<Session>> sessions;  // guarded by mu
  std::uint64_t next_id = 0;                                   // guarded by mu
  bool accept_done = false;                                    // guarded by mu
  bool stop_requested = false;                                 // guarded by mu
  bool stop_started = false;                                   // guarded by mu

  Impl(std::unique_ptr<Engine> e, ApiKeys k, ServerOptions o, std::shared_ptr<spdlog::logger> l)
      : options(std::move(o)), engine(std::move(e)), keys(std::move(k)), logger(std::move(l)) {
    if (!options.clock) options.clock = SystemMicros;
    dispatcher = std::make_unique<Dispatcher>(*engine, keys, options.clock);
  }

  asio::awaitable<void> Accept() {
    for (;;) {
      tcp::socket socket(asio::make_strand(ioc));
      beast::error_code ec;
      co_await acceptor.async_accept(socket, asio::redirect_error(asio::use_awaitable, ec));
      if (stopping || ec == asio::error::operation_aborted) break;
      if (ec) {  // e.g. out of file descriptors: wait a little rather than spin
        logger->warn("accept failed: {}", ec.message());
        asio::steady_timer timer(accept_strand, std::chrono::milliseconds(50));
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      std::unique_lock lock(mu);
      if (sessions.size() >= options.max_connections) {
        lock.unlock();
        auto executor = socket.get_executor();
        asio::co_spawn(executor, Refuse(std::move(socket)), asio::detached);
        continue;
      }
      const std::uint64_t id = next_id++;
      auto session = std::make_shared<Session>(std::move(socket));
      sessions.emplace(id, session);
      lock.unlock();
      asio::co_spawn(session->stream.get_executor(), Serve(session, id), asio::detached);
    }
    std::lock_guard lock(mu);
    accept_done = true;
    cv.notify_all();
  }

  asio::awaitable<void> Refuse(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    auto res = MakeResponse(ErrorResponse(503, "too_many_connections", "try again later"), 11,
                            /*keep_alive=*/false);
    stream.expires_after(options.io_timeout);
    beast::error_code ec;
    co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream.close();
    logger->warn("connection refused: limit of {} reached", options.max_connections);
  }

  asio::awaitable<void> Serve(std::shared_ptr<Session> s, std::uint64_t id) {
    beast::error_code ec;
    const std::string peer_ip = s->stream.socket().remote_endpoint(ec).address().to_string();
    beast::flat_buffer buffer;
    try {
      while (!stopping) {
        http::request_parser<http::string_body> parser;
        parser.header_limit(kMaxHeaderBytes);
        parser.body_limit(options.max_body_bytes);
        s->stream.expires_after(options.io_timeout);
        s->reading = true;
        co_await http::async_read(s->stream, buffer, parser,
                                  asio::redirect_error(asio::use_awaitable, ec));
        s->reading = false;
        const auto start = std::chrono::steady_clock::now();
        ApiResponse r;
        unsigned version = 11;
        bool keep_alive = false;
        std::string method = "-";
        if (ec == http::error::body_limit) {
          r = ErrorResponse(
              413, "body_too_large",
              "bodies are limited to " + std::to_string(options.max_body_bytes) + " bytes");
        } else if (ec == http::error::header_limit) {
          r = ErrorResponse(431, "headers_too_large", "headers are too large");
        } else if (ec &&
                   ec.category() == http::make_error_code(http::error::bad_target).category() &&
                   ec != http::error::end_of_stream && ec != http::error::partial_message) {
          r = ErrorResponse(400, "invalid_request", "malformed HTTP request: " + ec.message());
        } else if (ec) {
          break;  // closed, timed out, or cancelled at shutdown
        } else {
          auto& req = parser.get();
          version = req.version();
          keep_alive = req.keep_alive();
          method = std::string(req.method_string());
          ApiRequest request{method, std::string(req.target()),
                             std::string(req[http::field::authorization]), std::move(req.body()),
                             peer_ip};
          try {
            r = dispatcher->Handle(request);
          } catch (const std::exception& e) {
            logger->error("request failed: {}", e.what());
            r = ErrorResponse(500, "internal", "internal error");
          }
        }
        keep_alive = keep_alive && !stopping;  // checked after the work: Stop may have begun
        if (r.route.empty()) r.route = "-";
        auto res = MakeResponse(r, version, keep_alive);
        s->stream.expires_after(options.io_timeout);
        co_await http::async_write(s->stream, res, asio::redirect_error(asio::use_awaitable, ec));
        const auto latency = std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::steady_clock::now() - start);
        // Never the target's query, a header or a body: they may hold secrets.
        logger->info("http peer={} method={} route={} status={} latency_us={}", peer_ip, method,
                     r.route, r.status, latency.count());
        if (ec || !keep_alive) break;
      }
    } catch (const std::exception& e) {
      logger->error("connection failed: {}", e.what());
    }
    s->stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    s->stream.close();
    std::lock_guard lock(mu);
    sessions.erase(id);
    cv.notify_all();
  }

  void Stop() {
    std::unique_lock lock(mu);
    if (stop_started) return;
    stop_started = true;
    stopping = true;
    lock.unlock();
    asio::post(accept_strand, [this] {
      beast::error_code ec;
      acceptor.close(ec);
      signals.cancel(ec);
    });
    lock.lock();
    for (auto& [id, s] : sessions) {
      asio::post(s->stream.get_executor(), [s = s] {
        if (s->reading) s->stream.cancel();  // idle: nothing in flight to finish
      });
    }
    const bool drained = cv.wait_for(lock, options.shutdown_grace,
                                     [this] { return sessions.empty() && accept_done; });
    lock.unlock();
    if (!drained) logger->warn("shutdown: requests still in flight after the grace period");
    work.reset();
    ioc.stop();
    for (auto& t : threads) t.join();
    dispatcher.reset();
    engine.reset();  // closes the log
    logger->info("server stopped");
    lock.lock();
    stop_requested = true;
    cv.notify_all();
  }
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::Start(std::unique_ptr<Engine> engine, ApiKeys keys,
                                                      ServerOptions options,
                                                      std::shared_ptr<spdlog::logger> logger) {
  auto endpoint = ParseListen(options.listen);
  if (!endpoint.ok()) return endpoint.status();
  auto impl =
      std::make_unique<Impl>(std::move(engine), std::move(keys), std::move(options), logger);
  beast::error_code ec;
  auto& acceptor = impl->acceptor;
  acceptor.open(endpoint->protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(*endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Unavailable("listen_failed",
                               "cannot listen on " + impl->options.listen + ": " + ec.message());
  }
  impl->port = acceptor.local_endpoint().port();
  Impl* raw = impl.get();
  if (raw->options.handle_signals) {
    raw->signals.add(SIGINT);
    raw->signals.add(SIGTERM);
    raw->signals.async_wait([raw](const beast::error_code& error, int signal) {
      if (error) return;
      raw->logger->info("signal {}: shutting down", signal);
      std::lock_guard lock(raw->mu);
      raw->stop_requested = true;
      raw->cv.notify_all();
    });
  }
  asio::co_spawn(raw->accept_strand, raw->Accept(), asio::detached);
  unsigned threads = raw->options.threads;
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < threads; ++i) raw->threads.emplace_back([raw] { raw->ioc.run(); });
  raw->logger->info("listening on {}:{} with {} threads", endpoint->address().to_string(),
                    raw->port, threads);
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

std::uint16_t HttpServer::port() const { return impl_->port; }

Engine& HttpServer::engine() { return *impl_->engine; }

void HttpServer::Wait() {
  {
    std::unique_lock lock(impl_->mu);
    impl_->cv.wait(lock, [this] { return impl_->stop_requested; });
  }
  Stop();
}

void HttpServer::Stop() { impl_->Stop(); }

}  // namespace authledger::server
