// server_bench: the server under load on loopback, each figure beside the in-process
// check rate of the same run.
//
//   server_bench [--tokens N] [--orgs M] [--seconds S] [--binary-connections C]
//                [--window W] [--http-connections C] [--command-connections C]
//                [--idle K] [--server-log info|off] [--access-log on|off] [--dir D]
//       Fills D through the engine's own commands (M organizations, N/10 users each with
//       a password session and 10 personal tokens), measures CheckToken in this process,
//       closes the engine and serves D from a child process (`serve`, below), then
//       measures: binary checks pipelined (C connections, W frames in flight each); HTTP
//       keep-alive checks closed-loop (C connections, one request in flight each); HTTP
//       latency open-loop at half that rate; token creations over HTTP (C connections,
//       each answer durable); the server's RSS with K idle HTTP, then K idle binary
//       connections. Prints one `row` line per figure (the key, then the value).
//   server_bench serve --dir D --keys F [--listen A] [--populate --tokens N --orgs M
//                      --secrets FILE] [--server-log info|off] [--access-log on|off]
//       The server alone, as `authledger serve` runs it (--access-log on: as
//       `authledger serve --access-log`, a log line per HTTP request); prints
//       "ports HTTP BINARY" and serves until SIGTERM. With --populate it first fills the
//       (empty) D and writes one "secret org_id" line per token to FILE (for wrk; see
//       run_server_bench.sh).
//
// Why a child process: its RSS and CPU time are the server's alone (read from /proc),
// client and server do not share an allocator, `perf record -p` can watch the server
// alone, and each process needs only 10k descriptors for the idle-connection figure.
// The client is one thread on epoll with pre-built requests, so that it takes as little
// of the 2 cores as it can; its CPU share is printed beside every figure.
// <utility> first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it.
#include <utility>
//
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "schema/wire.capnp.h"
#include "tools/bench/bench_support.h"
#include "tools/server/http_server.h"

extern char** environ;

namespace authledger::bench {
namespace {

using server::ApiKeys;
using server::ServerOptions;

constexpr const char* kBackendKey = "server-bench-backend-key-0123456789";
constexpr const char* kCheckIp = "203.0.113.9";
constexpr int kTokensPerUser = 10;

struct Token {
  std::string secret;
  std::string org_id;
};

struct Population {
  std::vector<Token> tokens;
  std::vector<std::pair<std::string, std::string>> sessions;  // (user, session prefix)
};

std::string Fail(const Status& s) { return s.ToString(); }

// Fills `engine` through its commands, from 16 threads so that they share group commits.
Result<Population> Populate(Engine& engine, std::size_t tokens, std::size_t orgs) {
  const Actor admin = Actor::Admin("bench-admin", "198.51.100.1");
  for (std::size_t o = 0; o < orgs; ++o) {
    auto r = engine.CreateOrganization(admin, "org" + std::to_string(o), "Org");
    if (!r.ok()) return r.status();
  }
  const std::size_t users = std::max(orgs, (tokens + kTokensPerUser - 1) / kTokensPerUser);
  Population p;
  p.tokens.resize(users * kTokensPerUser);
  p.sessions.resize(users);
  std::atomic<std::size_t> next{0};
  std::mutex error_mu;
  Status error;
  std::vector<std::thread> workers;
  for (int t = 0; t < 16; ++t) {
    workers.emplace_back([&] {
      for (std::size_t u; (u = next.fetch_add(1)) < users;) {
        const std::string user = "user" + std::to_string(u);
        const std::string org = "org" + std::to_string(u % orgs);
        Status s = engine.RegisterUser(admin, user, user + "@example.org").status();
        if (s.ok()) s = engine.AddMember(admin, org, user).status();
        auto session = engine.RecordLogin(Actor::User(user), {user, "password", false});
        if (s.ok()) s = session.status();
        for (int k = 0; s.ok() && k < kTokensPerUser; ++k) {
          auto token = engine.CreatePersonalToken(Actor::User(user), session->token_prefix, {});
          s = token.status();
          if (s.ok())
            p.tokens[u * kTokensPerUser + static_cast<std::size_t>(k)] = {token->secret, org};
        }
        if (!s.ok()) {
          std::lock_guard lock(error_mu);
          error = s;
          return;
        }
        p.sessions[u] = {user, session->token_prefix};
      }
    });
  }
  for (auto& w : workers) w.join();
  if (!error.ok()) return error;
  p.tokens.resize(tokens);
  return p;
}

// CheckToken calls per second from `threads` threads over every token, for `seconds`.
double InProcessRate(const Engine& engine, const Population& p, int threads, double seconds) {
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> total{0}, denied{0};
  std::vector<std::thread> pool;
  const auto start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::uint64_t n = 0, no = 0;
      std::size_t i = static_cast<std::size_t>(t) * 7919;
      const CheckContext ctx{0, kCheckIp};
      while (!stop.load(std::memory_order_relaxed)) {
        for (int k = 0; k < 64; ++k, ++n) {
          i = (i + 7919) % p.tokens.size();
          if (!engine.CheckToken(p.tokens[i].secret, p.tokens[i].org_id, ctx).allowed) ++no;
        }
      }
      total += n;
      denied += no;
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& th : pool) th.join();
  if (denied.load() != 0)
    std::fprintf(stderr, "warning: %llu in-process denials\n",
                 static_cast<unsigned long long>(denied.load()));
  return static_cast<double>(total.load()) / SecondsSince(start);
}

// ---- The child ----

struct ChildStats {
  double cpu_seconds = 0;
  long rss_kb = 0;
  std::size_t fds = 0;
};

ChildStats ReadChild(pid_t pid) {
  ChildStats s;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  std::getline(stat, text);  // one line; the name in parentheses may hold spaces
  std::istringstream rest(text.substr(std::min(text.size(), text.rfind(')') + 2)));
  std::vector<std::string> fields;
  for (std::string field; rest >> field;) fields.push_back(field);
  if (fields.size() > 12) {
    s.cpu_seconds =
        (std::stod(fields[11]) + std::stod(fields[12])) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) s.rss_kb = std::stol(line.substr(6));
  }
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++s.fds;
  }
  return s;
}

struct Child {
  pid_t pid = -1;
  std::uint16_t http_port = 0;
  std::uint16_t binary_port = 0;
};

// Starts `server_bench serve ...` with its stdout on a pipe and its stderr on `log`.
Result<Child> SpawnServer(const std::vector<std::string>& args, const std::string& log) {
  int out[2];
  if (pipe(out) != 0) return Status::Unavailable("spawn_failed", std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  Child child;
  const int rc = posix_spawn(&child.pid, "/proc/self/exe", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  if (rc != 0) {
    close(out[0]);
    return Status::Unavailable("spawn_failed", std::strerror(rc));
  }
  std::string line;
  char c;
  pollfd p{out[0], POLLIN, 0};
  while (poll(&p, 1, 120000) > 0 && read(out[0], &c, 1) == 1 && c != '\n') line += c;
  close(out[0]);
  unsigned http = 0, binary = 0;
  if (std::sscanf(line.c_str(), "ports %u %u", &http, &binary) != 2) {
    kill(child.pid, SIGKILL);
    waitpid(child.pid, nullptr, 0);
    return Status::Unavailable("server_failed", "the server did not start; see " + log);
  }
  child.http_port = static_cast<std::uint16_t>(http);
  child.binary_port = static_cast<std::uint16_t>(binary);
  return child;
}

void RaiseFileLimit() {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
}

std::shared_ptr<spdlog::logger> ServerLogger(const std::string& level) {
  if (level == "off") {
    return std::make_shared<spdlog::logger>("server-bench",
                                            std::make_shared<spdlog::sinks::null_sink_mt>());
  }
  // What `authledger serve` uses: every HTTP request is a line on stderr.
  return spdlog::stderr_color_mt("server-bench");
}

// `server_bench serve`.
int RunServe(const Flags& flags) {
  RaiseFileLimit();
  const std::string dir = flags.Get("dir", "");
  auto tokens = flags.GetU64("tokens", 10000);
  auto orgs = flags.GetU64("orgs", 100);
  const bool populate = flags.Has("populate") && flags.Get("populate", "").empty();
  const std::string secrets = flags.Get("secrets", "");
  const std::string keys_file = flags.Get("keys", "");
  ServerOptions options;
  options.listen = flags.Get("listen", "127.0.0.1:0");
  options.binary_listen = flags.Get("binary-listen", "127.0.0.1:0");
  auto logger = ServerLogger(flags.Get("server-log", "info"));
  const std::string access_log = flags.Get("access-log", "off");
  options.access_log = access_log == "on";
  Status args = !tokens.ok() ? tokens.status() : !orgs.ok() ? orgs.status() : RequireAllRead(flags);
  if (args.ok() && (dir.empty() || keys_file.empty())) {
    args = Status::InvalidArgument("bad_flag", "serve needs --dir and --keys");
  }
  if (args.ok() && access_log != "on" && access_log != "off") {
    args = Status::InvalidArgument("bad_flag", "--access-log is on or off");
  }
  if (!args.ok()) {
    std::fprintf(stderr, "server_bench serve: %s\n", Fail(args).c_str());
    return 2;
  }
  EngineOptions engine_options;
  engine_options.token_use_interval_us = std::int64_t{1} << 60;  // steady state (engine_bench)
  auto engine = Engine::Open(dir, engine_options);
  if (!engine.ok()) {
    std::fprintf(stderr, "server_bench serve: %s\n", Fail(engine.status()).c_str());
    return 1;
  }
  if (populate) {
    auto p = Populate(**engine, *tokens, *orgs);
    if (!p.ok()) {
      std::fprintf(stderr, "server_bench serve: %s\n", Fail(p.status()).c_str());
      return 1;
    }
    std::ofstream out(secrets);
    for (const Token& t : p->tokens) out << t.secret << ' ' << t.org_id << '\n';
  }
  auto keys = ApiKeys::Load(keys_file);
  if (!keys.ok()) {
    std::fprintf(stderr, "server_bench serve: %s\n", Fail(keys.status()).c_str());
    return 1;
  }
  options.data_dir = dir;
  options.max_connections = 25000;
  options.handle_signals = true;
  auto server =
      server::HttpServer::Start(std::move(*engine), std::move(*keys), std::move(options), logger);
  if (!server.ok()) {
    std::fprintf(stderr, "server_bench serve: %s\n", Fail(server.status()).c_str());
    return 1;
  }
  std::printf("ports %u %u\n", (*server)->port(), (*server)->binary_port());
  std::fflush(stdout);
  (*server)->Wait();
  return 0;
}

// ---- The client: one thread, epoll, pre-built requests ----

int Connect(std::uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

void SetNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

std::string Frame(capnp::MessageBuilder& message) {
  kj::Array<capnp::word> words = capnp::messageToFlatArray(message);
  const auto bytes = words.asBytes();
  const auto n = static_cast<std::uint32_t>(bytes.size());
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[static_cast<std::size_t>(i)] = static_cast<char>(n >> (8 * i));
  out.append(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
  return out;
}

std::string CheckFrame(std::uint64_t id, const Token& t) {
  capnp::MallocMessageBuilder message;
  auto request = message.initRoot<wire::Request>();
  request.setId(id);
  auto check = request.getBody().initCheckToken();
  check.setToken(t.secret);
  check.setOrgId(t.org_id);
  check.setIp(kCheckIp);
  return Frame(message);
}

std::string HttpRequest(const std::string& target, const std::string& body,
                        const std::string& extra_headers) {
  return "POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + kBackendKey +
         "\r\nContent-Type: application/json\r\n" + extra_headers +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// One connection of the client: bytes to send, bytes received, requests in flight.
struct Conn {
  int fd = -1;
  std::string out;
  std::size_t out_at = 0;
  std::string in;
  struct Pending {
    std::uint64_t id;
    Clock::time_point intended;  // when it was due (paced load), else when it was sent
    Clock::time_point sent;
  };
  std::deque<Pending> inflight;
  std::size_t next = 0;  // the next token or session to use
  bool want_write = false;
};

class Poller {
 public:
  Poller() : fd_(epoll_create1(EPOLL_CLOEXEC)) {}
  ~Poller() { close(fd_); }
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  void Add(Conn& c, std::size_t index) {
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.u64 = index;
    epoll_ctl(fd_, EPOLL_CTL_ADD, c.fd, &e);
  }
  // Sends what `c` has queued; asks for EPOLLOUT while some of it is left. False on error.
  bool Flush(Conn& c, std::size_t index) {
    while (c.out_at < c.out.size()) {
      const ssize_t n = send(c.fd, c.out.data() + c.out_at, c.out.size() - c.out_at, MSG_NOSIGNAL);
      if (n < 0 && errno == EAGAIN) break;
      if (n <= 0) return false;
      c.out_at += static_cast<std::size_t>(n);
    }
    if (c.out_at == c.out.size()) {
      c.out.clear();
      c.out_at = 0;
    }
    const bool want = !c.out.empty();
    if (want != c.want_write) {
      epoll_event e{};
      e.events = EPOLLIN | (want ? EPOLLOUT : 0u);
      e.data.u64 = index;
      epoll_ctl(fd_, EPOLL_CTL_MOD, c.fd, &e);
      c.want_write = want;
    }
    return true;
  }
  // Ready connections (indexes), waiting at most `timeout_ns`.
  std::vector<std::size_t>& Wait(std::int64_t timeout_ns) {
    epoll_event events[256];
    timespec ts{static_cast<time_t>(timeout_ns / 1000000000),
                static_cast<long>(timeout_ns % 1000000000)};
    const int n = epoll_pwait2(fd_, events, 256, &ts, nullptr);
    ready_.clear();
    for (int i = 0; i < n; ++i) ready_.push_back(events[i].data.u64);
    return ready_;
  }

 private:
  int fd_;
  std::vector<std::size_t> ready_;
};

// Reads what is available into c.in; false when the peer closed or failed.
bool Receive(Conn& c) {
  char buffer[64 * 1024];
  for (;;) {
    const ssize_t n = recv(c.fd, buffer, sizeof(buffer), 0);
    if (n > 0) {
      c.in.append(buffer, static_cast<std::size_t>(n));
      if (static_cast<std::size_t>(n) < sizeof(buffer)) return true;
      continue;
    }
    return n < 0 && errno == EAGAIN;
  }
}

// One complete HTTP response at the front of `in`: its status and body; `used` bytes.
bool TakeHttpResponse(const std::string& in, std::size_t& used, unsigned& status,
                      std::string_view& body) {
  const std::size_t end = in.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  const std::size_t length_at = in.find("Content-Length: ");
  if (length_at == std::string::npos || length_at > end) return false;
  const std::size_t length = std::strtoul(in.c_str() + length_at + 16, nullptr, 10);
  if (in.size() < end + 4 + length) return false;
  status = static_cast<unsigned>(std::strtoul(in.c_str() + 9, nullptr, 10));
  body = std::string_view(in).substr(end + 4, length);
  used = end + 4 + length;
  return true;
}

struct LoadResult {
  double rate = 0;        // answers per second in the measured window
  double server_cpu = 0;  // cores, over the window
  double client_cpu = 0;  // cores, over the window
  LatencySample latency;  // from the intended send time
  LatencySample service;  // from the actual send time
};

// Runs `seconds` of load after `warmup` seconds; `on_ready(conn, index, measuring)` reads
// and refills one connection and returns the answers it counted (or -1 on error).
template <typename OnReady, typename OnTick>
Result<LoadResult> Drive(pid_t server, std::vector<Conn>& conns, double warmup, double seconds,
                         OnReady on_ready, OnTick on_tick) {
  Poller poller;
  for (std::size_t i = 0; i < conns.size(); ++i) {
    SetNonBlocking(conns[i].fd);
    poller.Add(conns[i], i);
  }
  LoadResult r;
  const auto start = Clock::now();
  const auto measure_from =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(warmup));
  const auto end = measure_from + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(seconds));
  bool measuring = false;
  double cpu0 = 0, server_cpu0 = 0;
  std::uint64_t answers = 0;
  std::int64_t timeout_ns = on_tick(poller, Clock::now(), false);
  for (;;) {
    const auto now = Clock::now();
    if (!measuring && now >= measure_from) {
      measuring = true;
      cpu0 = CpuSeconds();
      server_cpu0 = ReadChild(server).cpu_seconds;
    }
    if (now >= end) break;
    for (std::size_t i : poller.Wait(std::min<std::int64_t>(timeout_ns, 10'000'000))) {
      const long n = on_ready(poller, conns[i], i, measuring, r);
      if (n < 0) return Status::Unavailable("load_failed", "a connection failed");
      if (measuring) answers += static_cast<std::uint64_t>(n);
    }
    timeout_ns = on_tick(poller, Clock::now(), measuring);
  }
  const double elapsed = SecondsSince(measure_from);
  r.rate = static_cast<double>(answers) / elapsed;
  r.client_cpu = (CpuSeconds() - cpu0) / elapsed;
  r.server_cpu = (ReadChild(server).cpu_seconds - server_cpu0) / elapsed;
  for (auto& c : conns) close(c.fd);
  r.latency.Finish();
  r.service.Finish();
  return r;
}

// Binary checks, pipelined: `window` frames in flight on each connection.
Result<LoadResult> BinaryLoad(const Child& child, const std::vector<Token>& tokens,
                              std::size_t connections, std::size_t window, double seconds) {
  std::vector<std::string> frames;
  frames.reserve(tokens.size());
  for (std::size_t i = 0; i < tokens.size(); ++i) frames.push_back(CheckFrame(i, tokens[i]));
  capnp::MallocMessageBuilder auth;
  auto request = auth.initRoot<wire::Request>();
  request.getBody().initAuthenticate().setApiKey(kBackendKey);
  const std::string auth_frame = Frame(auth);
  std::vector<Conn> conns(connections);
  for (std::size_t c = 0; c < connections; ++c) {
    conns[c].fd = Connect(child.binary_port);
    if (conns[c].fd < 0) return Status::Unavailable("connect_failed", std::strerror(errno));
    conns[c].out = auth_frame;
    conns[c].inflight.push_back({0, Clock::now(), Clock::now()});
    conns[c].next = c * tokens.size() / connections;
  }
  std::vector<capnp::word> scratch(8192);
  auto refill = [&](Poller& poller, Conn& c, std::size_t index) {
    while (c.inflight.size() < window) {
      c.next = (c.next + 7919) % tokens.size();
      c.out += frames[c.next];
      c.inflight.push_back({c.next, Clock::time_point(), Clock::time_point()});
    }
    return poller.Flush(c, index);
  };
  auto on_ready = [&](Poller& poller, Conn& c, std::size_t index, bool, LoadResult&) -> long {
    if (!Receive(c)) return -1;
    long answers = 0;
    std::size_t at = 0;
    while (c.in.size() - at >= 4) {
      const auto* p = reinterpret_cast<const unsigned char*>(c.in.data() + at);
      const std::size_t n = p[0] | p[1] << 8 | p[2] << 16 | static_cast<std::size_t>(p[3]) << 24;
      if (c.in.size() - at - 4 < n) break;
      if (n / sizeof(capnp::word) > scratch.size()) return -1;
      std::memcpy(scratch.data(), p + 4, n);
      at += 4 + n;
      capnp::FlatArrayMessageReader reader(
          kj::ArrayPtr<const capnp::word>(scratch.data(), n / sizeof(capnp::word)));
      auto response = reader.getRoot<wire::Response>();
      const std::uint64_t expected = c.inflight.front().id;
      const bool is_auth = c.inflight.size() > 0 && response.getBody().isAuthenticated();
      c.inflight.pop_front();
      if (response.getId() != expected ||
          (!is_auth &&
           !(response.getBody().isDecision() && response.getBody().getDecision().getAllowed()))) {
        std::fprintf(stderr, "binary: unexpected answer (id %llu, expected %llu)\n",
                     static_cast<unsigned long long>(response.getId()),
                     static_cast<unsigned long long>(expected));
        return -1;
      }
      if (!is_auth) ++answers;
    }
    c.in.erase(0, at);
    if (!refill(poller, c, index)) return -1;
    return answers;
  };
  auto start_tick = [&, started = false](Poller& poller, Clock::time_point, bool) mutable {
    if (!started) {
      started = true;
      for (std::size_t i = 0; i < conns.size(); ++i) refill(poller, conns[i], i);
    }
    return std::int64_t{10'000'000};
  };
  return Drive(child.pid, conns, 1.0, seconds, on_ready, start_tick);
}

// HTTP requests, one in flight per connection. With `rate` > 0 the requests are paced
// (open loop: request k is due at start + k/rate, whichever connection is idle then);
// otherwise each connection sends its next request as soon as an answer arrives.
// With `own` each connection sends requests[its index % size] every time, else the
// connections walk through all of them.
Result<LoadResult> HttpLoad(const Child& child, const std::vector<std::string>& requests, bool own,
                            std::size_t connections, double seconds, double rate,
                            std::string_view must_contain) {
  std::vector<Conn> conns(connections);
  for (std::size_t c = 0; c < connections; ++c) {
    conns[c].fd = Connect(child.http_port);
    if (conns[c].fd < 0) return Status::Unavailable("connect_failed", std::strerror(errno));
    conns[c].next = c * 7919;
  }
  std::vector<std::size_t> idle;
  std::uint64_t sent = 0;
  Clock::time_point paced_start;
  auto send = [&](Poller& poller, std::size_t index, Clock::time_point intended) {
    Conn& c = conns[index];
    c.next = own ? index % requests.size() : (c.next + 7919) % requests.size();
    c.out += requests[c.next];
    c.inflight.push_back({0, intended, Clock::now()});
    ++sent;
    return poller.Flush(c, index);
  };
  auto due = [&](std::uint64_t k) {
    return paced_start + std::chrono::duration_cast<Clock::duration>(
                             std::chrono::duration<double>(static_cast<double>(k) / rate));
  };
  auto on_tick = [&](Poller& poller, Clock::time_point now, bool) -> std::int64_t {
    if (paced_start == Clock::time_point()) {
      paced_start = now;
      for (std::size_t i = 0; i < conns.size(); ++i) {
        if (rate > 0) {
          idle.push_back(i);
        } else {
          send(poller, i, now);
        }
      }
    }
    if (rate <= 0) return 10'000'000;
    while (!idle.empty() && due(sent) <= now) {
      const std::size_t i = idle.back();
      idle.pop_back();
      send(poller, i, due(sent));
    }
    if (idle.empty()) return 10'000'000;
    return std::max<std::int64_t>(0, std::chrono::nanoseconds(due(sent) - now).count());
  };
  auto on_ready = [&](Poller& poller, Conn& c, std::size_t index, bool measuring,
                      LoadResult& r) -> long {
    if (!Receive(c)) return -1;
    long answers = 0;
    std::size_t used = 0;
    unsigned status = 0;
    std::string_view body;
    while (!c.in.empty() && TakeHttpResponse(c.in, used, status, body)) {
      if (status != 200 || body.find(must_contain) == std::string_view::npos) {
        std::fprintf(stderr, "http: unexpected answer %u %.*s\n", status,
                     static_cast<int>(body.size()), body.data());
        return -1;
      }
      const auto now = Clock::now();
      if (measuring) {
        r.latency.Add(now - c.inflight.front().intended);
        r.service.Add(now - c.inflight.front().sent);
      }
      c.inflight.pop_front();
      c.in.erase(0, used);
      ++answers;
      if (rate > 0) {
        idle.push_back(index);
      } else if (!send(poller, index, now)) {
        return -1;
      }
    }
    return answers;
  };
  return Drive(child.pid, conns, 1.0, seconds, on_ready, on_tick);
}

struct IdleResult {
  std::size_t opened = 0;
  std::size_t accepted = 0;
  long rss_before_kb = 0;
  long rss_after_kb = 0;
};

// Opens `count` connections to `port` and sends nothing; the server's RSS once it holds
// them all (its descriptor count says so), then closes them and waits for the server to.
IdleResult IdleConnections(const Child& child, std::uint16_t port, std::size_t count) {
  IdleResult r;
  const ChildStats before = ReadChild(child.pid);
  r.rss_before_kb = before.rss_kb;
  std::vector<int> fds;
  fds.reserve(count);
  while (fds.size() < count) {
    const int fd = Connect(port);
    if (fd < 0) {
      std::fprintf(stderr, "idle: connection %zu failed: %s\n", fds.size(), std::strerror(errno));
      break;
    }
    fds.push_back(fd);
  }
  r.opened = fds.size();
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  ChildStats after = ReadChild(child.pid);
  while (after.fds < before.fds + r.opened && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    after = ReadChild(child.pid);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // every session reading
  after = ReadChild(child.pid);
  r.accepted = after.fds - std::min(after.fds, before.fds);
  r.rss_after_kb = after.rss_kb;
  for (int fd : fds) close(fd);
  const auto closed_by = Clock::now() + std::chrono::seconds(20);
  while (ReadChild(child.pid).fds > before.fds + 16 && Clock::now() < closed_by) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return r;
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

// "row <key> <value> <unit> | <cpu> | <note>": one figure; the script takes medians of
// the value per key.
void Row(const char* key, double value, const char* unit, const LoadResult* load,
         const std::string& note) {
  std::string cpu;
  if (load != nullptr) {
    char text[200];
    const double total = load->server_cpu + load->client_cpu;
    std::snprintf(text, sizeof(text),
                  "server %.2f cores (%.0f/s per core), client %.2f (%.0f%% of CPU used)",
                  load->server_cpu, load->server_cpu > 0 ? value / load->server_cpu : 0.0,
                  load->client_cpu, total > 0 ? 100 * load->client_cpu / total : 0.0);
    cpu = text;
  }
  std::printf("row %-28s %12.1f %-10s | %-76s | %s\n", key, value, unit, cpu.c_str(), note.c_str());
  std::fflush(stdout);
}

std::string Ratio(double a, double b, const char* of) {
  char text[96];
  std::snprintf(text, sizeof(text), "%.2fx %s", b > 0 ? a / b : 0.0, of);
  return text;
}

// Every figure measured against the server; 0, or 1 after the first failure.
int RunLoads(const Child& child, const Population& p, double in_process, double seconds,
             std::size_t binary_connections, std::size_t window, std::size_t http_connections,
             std::size_t command_connections, std::size_t idle) {
  auto failed = [](const char* what, const Status& s) {
    std::fprintf(stderr, "server_bench: %s: %s\n", what, Fail(s).c_str());
    return 1;
  };
  auto binary = BinaryLoad(child, p.tokens, binary_connections, window, seconds);
  if (!binary.ok()) return failed("binary", binary.status());
  Row("binary_checks", binary->rate, "checks/s", &*binary,
      std::to_string(binary_connections) + " connections x " + std::to_string(window) +
          " in flight; " + Ratio(binary->rate, in_process, "in-process 2t") + "; target >= 500000");

  std::vector<std::string> checks;
  checks.reserve(p.tokens.size());
  for (const Token& t : p.tokens) {
    checks.push_back(HttpRequest("/v1/check",
                                 R"({"token":")" + t.secret + R"(","org_id":")" + t.org_id +
                                     R"(","ip":")" + kCheckIp + R"("})",
                                 ""));
  }
  auto http = HttpLoad(child, checks, false, http_connections, seconds, 0, "\"allowed\":true");
  if (!http.ok()) return failed("http", http.status());
  Row("http_checks", http->rate, "checks/s", &*http,
      std::to_string(http_connections) + " keep-alive connections, 1 in flight each; " +
          Ratio(http->rate, in_process, "in-process 2t") + "; target >= 100000");
  Row("http_closed_p99_us", http->latency.PercentileUs(99), "us", nullptr,
      "closed loop at the maximum (queueing included)");

  const double half = http->rate / 2;
  auto paced = HttpLoad(child, checks, false, http_connections, seconds, half, "\"allowed\":true");
  if (!paced.ok()) return failed("http paced", paced.status());
  Row("http_half_rate", paced->rate, "checks/s", &*paced,
      "open loop, paced at half of http_checks");
  Row("http_half_p50_us", paced->latency.PercentileUs(50), "us", nullptr,
      "from the time each request was due");
  Row("http_half_p99_us", paced->latency.PercentileUs(99), "us", nullptr,
      "from the time each request was due; target <= 1000");
  Row("http_half_p999_us", paced->latency.PercentileUs(99.9), "us", nullptr, "");
  Row("http_half_sent_p99_us", paced->service.PercentileUs(99), "us", nullptr,
      "from the time it was written (without the client's own lateness)");

  std::vector<std::string> creations;
  for (std::size_t c = 0; c < command_connections && c < p.sessions.size(); ++c) {
    const auto& [user, session] = p.sessions[c];
    creations.push_back(HttpRequest("/v1/session/" + session + "/token",
                                    R"({"description":"server bench"})",
                                    "X-On-Behalf-Of: " + user + "\r\n"));
  }
  auto commands =
      HttpLoad(child, creations, true, command_connections, seconds, 0, "\"secret\":\"");
  if (!commands.ok()) return failed("commands", commands.status());
  Row("commands", commands->rate, "commands/s", &*commands,
      std::to_string(command_connections) +
          " connections, personal-token creations, each answered once durable");
  Row("commands_p50_us", commands->latency.PercentileUs(50), "us", nullptr, "");
  Row("commands_p99_us", commands->latency.PercentileUs(99), "us", nullptr, "");

  for (const bool is_binary : {false, true}) {
    const IdleResult r =
        IdleConnections(child, is_binary ? child.binary_port : child.http_port, idle);
    const double grown = static_cast<double>(r.rss_after_kb - r.rss_before_kb) * 1024.0;
    char note[200];
    std::snprintf(note, sizeof(note),
                  "%zu opened, %zu held by the server; RSS %.1f -> %.1f MiB (%.0f B/connection)",
                  r.opened, r.accepted, static_cast<double>(r.rss_before_kb) / 1024.0,
                  static_cast<double>(r.rss_after_kb) / 1024.0,
                  r.accepted > 0 ? grown / static_cast<double>(r.accepted) : 0.0);
    Row(is_binary ? "idle_binary_rss_mib" : "idle_http_rss_mib",
        static_cast<double>(r.rss_after_kb) / 1024.0, "MiB", nullptr, note);
    Row(is_binary ? "idle_binary_bytes_per_conn" : "idle_http_bytes_per_conn",
        r.accepted > 0 ? grown / static_cast<double>(r.accepted) : 0.0, "B", nullptr, "");
  }
  return 0;
}

int RunBench(const Flags& flags) {
  auto tokens = flags.GetU64("tokens", 10000);
  auto orgs = flags.GetU64("orgs", 100);
  auto seconds = flags.GetDouble("seconds", 5);
  auto binary_connections = flags.GetU64("binary-connections", 4);
  auto window = flags.GetU64("window", 256);
  auto http_connections = flags.GetU64("http-connections", 64);
  auto command_connections = flags.GetU64("command-connections", 64);
  auto idle = flags.GetU64("idle", 10000);
  const std::string log_level = flags.Get("server-log", "info");
  const std::string access_log = flags.Get("access-log", "off");
  const bool keep = flags.Has("keep") && flags.Get("keep", "").empty();
  std::string dir = flags.Get("dir", "");
  for (const Status& s : {tokens.status(), orgs.status(), seconds.status(),
                          binary_connections.status(), window.status(), http_connections.status(),
                          command_connections.status(), idle.status(), RequireAllRead(flags)}) {
    if (!s.ok()) {
      std::fprintf(stderr, "server_bench: %s\n", Fail(s).c_str());
      return 2;
    }
  }
  if (*tokens == 0 || *orgs == 0) {
    std::fprintf(stderr, "server_bench: --tokens and --orgs must be positive\n");
    return 2;
  }
  if (dir.empty()) {
    dir = (std::filesystem::temp_directory_path() /
           ("authledger-server-bench-" + std::to_string(getpid())))
              .string();
  }
  std::error_code ec;
  if (std::filesystem::exists(dir, ec) && !std::filesystem::is_empty(dir, ec)) {
    std::fprintf(stderr, "server_bench: %s is not empty; the benchmark starts from nothing\n",
                 dir.c_str());
    return 2;
  }
  RaiseFileLimit();
  prctl(PR_SET_TIMERSLACK, 1UL);  // the paced load's waits end on time, not 50 us late
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  std::printf("server_bench: %u cores, load average %s, RLIMIT_NOFILE %llu, server log %s\n",
              std::thread::hardware_concurrency(), LoadAverage().c_str(),
              static_cast<unsigned long long>(files.rlim_cur), log_level.c_str());

  Population population;
  double in_process = 0;
  {
    EngineOptions options;
    options.token_use_interval_us = std::int64_t{1} << 60;  // steady state, as in the server
    auto engine = Engine::Open(dir, options);
    if (!engine.ok()) {
      std::fprintf(stderr, "server_bench: %s\n", Fail(engine.status()).c_str());
      return 1;
    }
    const auto fill = Clock::now();
    auto p = Populate(**engine, *tokens, *orgs);
    if (!p.ok()) {
      std::fprintf(stderr, "server_bench: populate: %s\n", Fail(p.status()).c_str());
      return 1;
    }
    population = std::move(*p);
    std::printf(
        "populated %zu tokens of %zu users over %llu organizations in %.1f s (%llu events)\n",
        population.tokens.size(), population.sessions.size(),
        static_cast<unsigned long long>(*orgs), SecondsSince(fill),
        static_cast<unsigned long long>((*engine)->revision()));
    const double one = InProcessRate(**engine, population, 1, *seconds);
    Row("in_process_check_1t", one, "checks/s", nullptr, "CheckToken in this process, 1 thread");
    const double two = InProcessRate(**engine, population, 2, *seconds);
    Row("in_process_check_2t", two, "checks/s", nullptr,
        "2 threads: the comparison for the loopback figures");
    in_process = two;
  }  // closing the engine writes a snapshot; the server opens from it

  const std::string keys = dir + ".keys";
  const std::string log = dir + ".server.log";
  {
    const int fd = open(keys.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const std::string line = std::string("bench backend ") + kBackendKey + "\n";
    if (fd < 0 || write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
      std::fprintf(stderr, "server_bench: cannot write %s\n", keys.c_str());
      return 1;
    }
    close(fd);
  }
  auto child = SpawnServer({"server_bench", "serve", "--dir", dir, "--keys", keys, "--server-log",
                            log_level, "--access-log", access_log},
                           log);
  if (!child.ok()) {
    std::fprintf(stderr, "server_bench: %s\n", Fail(child.status()).c_str());
    return 1;
  }
  std::printf("server: pid %d, HTTP port %u, binary port %u, RSS %.1f MiB\n", child->pid,
              child->http_port, child->binary_port,
              static_cast<double>(ReadChild(child->pid).rss_kb) / 1024.0);
  const int status = RunLoads(*child, population, in_process, *seconds, *binary_connections,
                              *window, *http_connections, *command_connections, *idle);
  kill(child->pid, SIGTERM);
  waitpid(child->pid, nullptr, 0);
  std::printf("load average at the end: %s\n", LoadAverage().c_str());
  if (!keep) {
    std::filesystem::remove_all(dir, ec);
    std::filesystem::remove(keys, ec);
    std::filesystem::remove(log, ec);
  }
  return status;
}

}  // namespace
}  // namespace authledger::bench

namespace {

int Main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // each line as it comes, also into a pipe
  auto flags = authledger::bench::Flags::Parse(argc, argv, {"populate", "keep"});
  if (!flags.ok()) {
    std::fprintf(stderr, "server_bench: %s\n", flags.status().ToString().c_str());
    return 2;
  }
  if (!flags->positional().empty() && flags->positional().front() == "serve") {
    return authledger::bench::RunServe(*flags);
  }
  if (!flags->positional().empty()) {
    std::fprintf(stderr, "usage: server_bench [serve] [--flag value ...]; see the header\n");
    return 2;
  }
  return authledger::bench::RunBench(*flags);
}

}  // namespace

int main(int argc, char** argv) {
  return authledger::bench::GuardedMain("server_bench", Main, argc, argv);
}
