// <utility> first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it.
#include <utility>
//
#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "tools/server/dispatch.h"
#include "tools/server/frame_protocol.h"
#include "tools/server/http_response.h"
#include "tools/server/http_server.h"
#include "tools/server/service.h"

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

constexpr auto kNoDeadline = std::chrono::steady_clock::time_point::max();

// One connection. Every member is touched only on the connection's strand.
struct Session {
  explicit Session(tcp::socket socket)
      : stream(std::move(socket)), watchdog(stream.get_executor()) {}
  beast::tcp_stream stream;
  bool reading = false;  // waiting for a request (idle): may be closed at shutdown
  // HTTP reads and writes go to the socket itself, under one deadline per connection
  // that only moves (Serve and Watchdog), rather than under the stream's timer, which
  // is set and cancelled around every read and write.
  asio::steady_timer watchdog;
  std::chrono::steady_clock::time_point deadline = kNoDeadline;
  bool done = false;  // Serve has finished: the watchdog stops
};

}  // namespace

struct HttpServer::Impl {
  ServerOptions options;
  std::unique_ptr<Engine> engine;
  ApiKeys keys;
  std::unique_ptr<Service> service;
  std::unique_ptr<Dispatcher> dispatcher;
  std::shared_ptr<spdlog::logger> logger;

  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> work{ioc.get_executor()};
  asio::strand<asio::io_context::executor_type> accept_strand{asio::make_strand(ioc)};
  tcp::acceptor acceptor{accept_strand};
  tcp::acceptor binary_acceptor{accept_strand};
  asio::signal_set signals{accept_strand};
  std::vector<std::thread> threads;
  std::unique_ptr<asio::thread_pool> blocking;
  std::uint16_t port = 0;
  std::uint16_t binary_port = 0;
  int accepting = 0;  // accept loops still running; guarded by mu

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
    service = std::make_unique<Service>(*engine, keys, options.data_dir, options.clock);
    dispatcher = std::make_unique<Dispatcher>(*service);
    blocking = std::make_unique<asio::thread_pool>(std::max(1u, options.blocking_threads));
  }

  // Runs `fn` on the blocking pool; the caller resumes on its own strand.
  template <typename Fn>
  asio::awaitable<void> OffThread(Fn fn) {
    co_await asio::co_spawn(
        blocking->get_executor(),
        [&fn]() -> asio::awaitable<void> {
          fn();
          co_return;
        },
        asio::use_awaitable);
  }

  asio::awaitable<void> Accept(tcp::acceptor& from, bool binary) {
    for (;;) {
      tcp::socket socket(asio::make_strand(ioc));
      beast::error_code ec;
      co_await from.async_accept(socket, asio::redirect_error(asio::use_awaitable, ec));
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
        asio::co_spawn(executor, Refuse(std::move(socket), binary), asio::detached);
        continue;
      }
      const std::uint64_t id = next_id++;
      auto session = std::make_shared<Session>(std::move(socket));
      sessions.emplace(id, session);
      lock.unlock();
      if (binary) {
        asio::co_spawn(session->stream.get_executor(), ServeBinary(session, id), asio::detached);
      } else {
        asio::co_spawn(session->stream.get_executor(), Serve(session, id), asio::detached);
      }
    }
    std::lock_guard lock(mu);
    if (--accepting == 0) accept_done = true;
    cv.notify_all();
  }

  asio::awaitable<void> Refuse(tcp::socket socket, bool binary) {
    beast::tcp_stream stream(std::move(socket));
    stream.expires_after(options.io_timeout);
    beast::error_code ec;
    if (binary) {
      std::string out;
      AppendErrorFrame(out, 0, "too_many_connections", "try again later");
      co_await asio::async_write(stream, asio::buffer(out),
                                 asio::redirect_error(asio::use_awaitable, ec));
    } else {
      std::string out;
      AppendHttpResponse(ErrorResponse(503, "too_many_connections", "try again later"), 11,
                         /*keep_alive=*/false, out);
      co_await asio::async_write(stream, asio::buffer(out),
                                 asio::redirect_error(asio::use_awaitable, ec));
    }
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream.close();
    logger->warn("connection refused: limit of {} reached", options.max_connections);
  }

  // Closes the HTTP connection once its deadline has passed; wakes at the deadline it
  // saw, and sleeps again if the deadline has moved since. A read or write in progress
  // then fails and Serve ends.
  asio::awaitable<void> Watchdog(std::shared_ptr<Session> s) {
    beast::error_code ec;
    while (!s->done) {
      s->watchdog.expires_at(s->deadline);
      co_await s->watchdog.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (!s->done && s->deadline <= std::chrono::steady_clock::now()) {
        s->stream.socket().close(ec);
        break;
      }
    }
  }

  asio::awaitable<void> Serve(std::shared_ptr<Session> s, std::uint64_t id) {
    beast::error_code ec;
    const std::string peer_ip = s->stream.socket().remote_endpoint(ec).address().to_string();
    auto& socket = s->stream.socket();
    // The next read or write must be over within io_timeout.
    auto set_deadline = [&] {
      const bool unset = s->deadline == kNoDeadline;
      s->deadline = std::chrono::steady_clock::now() + options.io_timeout;
      if (unset) s->watchdog.cancel();  // asleep until kNoDeadline: re-arm it
    };
    asio::co_spawn(s->stream.get_executor(), Watchdog(s), asio::detached);
    beast::flat_buffer buffer;
    // Kept from one request to the next, so that their strings keep their capacity.
    ApiRequest request;
    request.peer_ip = peer_ip;
    const auto access_level = options.access_log ? spdlog::level::info : spdlog::level::debug;
    std::string out;
    try {
      while (!stopping) {
        http::request_parser<http::string_body> parser;
        parser.header_limit(kMaxHeaderBytes);
        parser.body_limit(options.max_body_bytes);
        set_deadline();
        s->reading = true;
        co_await http::async_read(socket, buffer, parser,
                                  asio::redirect_error(asio::use_awaitable, ec));
        s->reading = false;
        const auto start = std::chrono::steady_clock::now();
        ApiResponse r;
        unsigned version = 11;
        bool keep_alive = false;
        std::string_view method = "-";
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
          auto assign = [](std::string& to, beast::string_view from) {
            to.assign(from.data(), from.size());
          };
          assign(request.method, req.method_string());
          method = request.method;
          assign(request.target, req.target());
          assign(request.authorization, req[http::field::authorization]);
          request.body.swap(req.body());
          assign(request.on_behalf_of, req["X-On-Behalf-Of"]);
          request.as_admin = req["X-As-Admin"] == "true";
          assign(request.client_ip, req["X-Client-IP"]);
          assign(request.request_id, req["X-Request-Id"]);
          auto handle = [&] {
            try {
              r = dispatcher->Handle(request);
            } catch (const std::exception& e) {
              logger->error("request failed: {}", e.what());
              r = ErrorResponse(500, "internal", "internal error");
            }
          };
          if (Dispatcher::Blocking(request.method, request.target)) {
            s->deadline = kNoDeadline;  // no deadline while the server works
            co_await OffThread(handle);
          } else {
            handle();
          }
        }
        keep_alive = keep_alive && !stopping;  // checked after the work: Stop may have begun
        if (r.route.empty()) r.route = "-";
        out.clear();
        AppendHttpResponse(r, version, keep_alive, out);
        set_deadline();
        co_await asio::async_write(socket, asio::buffer(out),
                                   asio::redirect_error(asio::use_awaitable, ec));
        // Never the target's query, a header or a body: they may hold secrets.
        if (logger->should_log(access_level)) {
          const auto latency = std::chrono::duration_cast<std::chrono::microseconds>(
              std::chrono::steady_clock::now() - start);
          logger->log(access_level, "http peer={} method={} route={} status={} latency_us={}",
                      peer_ip, method, r.route, r.status, latency.count());
        }
        if (ec || !keep_alive) break;
      }
    } catch (const std::exception& e) {
      logger->error("connection failed: {}", e.what());
    }
    s->done = true;
    s->watchdog.cancel();
    s->stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    s->stream.close();
    std::lock_guard lock(mu);
    sessions.erase(id);
    cv.notify_all();
  }

  asio::awaitable<void> ServeBinary(std::shared_ptr<Session> s, std::uint64_t id) {
    beast::error_code ec;
    const std::string peer_ip = s->stream.socket().remote_endpoint(ec).address().to_string();
    FrameProtocol protocol(*service, peer_ip, options.max_frame_bytes);
    std::array<unsigned char, 16 * 1024> chunk;
    try {
      while (!stopping) {
        // A frame must arrive whole within io_timeout of its first byte (or of the
        // previous answer when idle): a slow sender is cut off, not waited for.
        if (protocol.idle()) s->stream.expires_after(options.io_timeout);
        s->reading = protocol.idle();
        const std::size_t n = co_await s->stream.async_read_some(
            asio::buffer(chunk), asio::redirect_error(asio::use_awaitable, ec));
        s->reading = false;
        if (ec) break;
        protocol.Receive(chunk.data(), n);
        // Every complete frame of this read is answered, in order, before the answers
        // are written together and anything more is read.
        std::string out;
        FrameProtocol::Step step;
        while ((step = protocol.Next(out)) != FrameProtocol::Step::kNeedMore &&
               step != FrameProtocol::Step::kClose) {
          if (step == FrameProtocol::Step::kBlocking) {
            co_await OffThread([&] { protocol.AnswerBlocking(out); });
          }
        }
        if (!out.empty()) {
          s->stream.expires_after(options.io_timeout);
          co_await asio::async_write(s->stream, asio::buffer(out),
                                     asio::redirect_error(asio::use_awaitable, ec));
          if (ec) break;
          if (!protocol.idle()) s->stream.expires_after(options.io_timeout);
        }
        if (step == FrameProtocol::Step::kClose) break;
      }
    } catch (const std::exception& e) {
      logger->error("binary connection failed: {}", e.what());
    }
    logger->debug("binary peer={} frames={} closed", peer_ip, protocol.frames());
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
      binary_acceptor.close(ec);
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
    blocking->join();  // commands handed to it finish before the engine closes
    ioc.stop();
    for (auto& t : threads) t.join();
    dispatcher.reset();
    service.reset();
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
  if (!impl->options.binary_listen.empty()) {
    auto binary_endpoint = ParseListen(impl->options.binary_listen);
    if (!binary_endpoint.ok()) return binary_endpoint.status();
    auto& binary = impl->binary_acceptor;
    binary.open(binary_endpoint->protocol(), ec);
    if (!ec) binary.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) binary.bind(*binary_endpoint, ec);
    if (!ec) binary.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Status::Unavailable(
          "listen_failed", "cannot listen on " + impl->options.binary_listen + ": " + ec.message());
    }
    impl->binary_port = binary.local_endpoint().port();
  }
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
  raw->accepting = raw->binary_port != 0 ? 2 : 1;
  asio::co_spawn(raw->accept_strand, raw->Accept(raw->acceptor, false), asio::detached);
  if (raw->binary_port != 0) {
    asio::co_spawn(raw->accept_strand, raw->Accept(raw->binary_acceptor, true), asio::detached);
  }
  unsigned threads = raw->options.threads;
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < threads; ++i) raw->threads.emplace_back([raw] { raw->ioc.run(); });
  raw->logger->info(
      "listening on {}:{} (HTTP){} with {} threads", endpoint->address().to_string(), raw->port,
      raw->binary_port != 0 ? " and port " + std::to_string(raw->binary_port) + " (binary)"
                            : std::string(),
      threads);
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

std::uint16_t HttpServer::port() const { return impl_->port; }

std::uint16_t HttpServer::binary_port() const { return impl_->binary_port; }

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
