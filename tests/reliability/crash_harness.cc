#include "tests/reliability/crash_harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>

namespace authledger::testing {

std::string CrashWorkloadBinary() { return AUTHLEDGER_CRASH_WORKLOAD; }

namespace {

// A child that acknowledges nothing for this long is stuck: the run ends as a failure
// instead of hanging the test (a guard, not a timing assertion).
constexpr auto kStuckAfter = std::chrono::seconds(120);

class LineReader {
 public:
  explicit LineReader(ChildRun& run) : run_(run) {}

  // Feeds bytes read from the pipe; parses every complete line.
  void Feed(const char* data, std::size_t size) {
    pending_.append(data, size);
    std::size_t start = 0;
    for (std::size_t nl; (nl = pending_.find('\n', start)) != std::string::npos; start = nl + 1) {
      Parse(pending_.substr(start, nl - start));
    }
    pending_.erase(0, start);
  }

 private:
  void Parse(const std::string& line) {
    auto parsed = ParseLine(line);
    if (!parsed) {
      // Never echo the line: it may hold a secret.
      if (run_.error.empty()) run_.error = "the child wrote a line that is not the protocol";
      return;
    }
    if (parsed->opened_at) run_.opened_at = parsed->opened_at;
    if (parsed->ack) run_.acks.push_back(std::move(*parsed->ack));
  }

  ChildRun& run_;
  std::string pending_;  // an incomplete last line (dropped if the child dies mid-way)
};

// Reads what is available within `timeout_ms`; false at the end of the stream.
bool Pump(int fd, LineReader& reader, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  int ready = ::poll(&p, 1, timeout_ms);
  if (ready <= 0) return true;  // timeout or EINTR: nothing yet
  char buffer[4096];
  ssize_t n = ::read(fd, buffer, sizeof buffer);
  if (n < 0) return errno == EINTR || errno == EAGAIN;
  if (n == 0) return false;
  reader.Feed(buffer, static_cast<std::size_t>(n));
  return true;
}

}  // namespace

ChildRun RunAndKill(const std::string& data_dir, const std::string& log_file, std::uint64_t seed,
                    const KillPlan& plan) {
  ChildRun run;
  std::string binary = CrashWorkloadBinary();
  std::string dir = data_dir;
  std::string seed_text = std::to_string(seed);
  std::string log = log_file;
  char* argv[] = {binary.data(), dir.data(), seed_text.data(), log.data(), nullptr};

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    run.error = std::string("pipe: ") + std::strerror(errno);
    return run;
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    run.error = std::string("fork: ") + std::strerror(errno);
    ::close(fds[0]);
    ::close(fds[1]);
    return run;
  }
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    if (::dup2(fds[1], STDOUT_FILENO) < 0) ::_exit(126);
    ::execv(argv[0], argv);
    ::_exit(127);
  }
  ::close(fds[1]);

  LineReader reader(run);
  bool open = true;
  auto last_progress = std::chrono::steady_clock::now();
  std::size_t seen = 0;
  while (open && run.error.empty() && run.acks.size() < plan.after_acks) {
    open = Pump(fds[0], reader, 100);
    if (run.acks.size() != seen) {
      seen = run.acks.size();
      last_progress = std::chrono::steady_clock::now();
    } else if (std::chrono::steady_clock::now() - last_progress > kStuckAfter) {
      run.error =
          "the child acknowledged nothing for " + std::to_string(kStuckAfter.count()) + " s";
    }
  }
  if (open && plan.delay_us > 0) ::usleep(plan.delay_us);

  ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  // Whatever it wrote before dying is still in the pipe.
  while (Pump(fds[0], reader, 1000)) {
  }
  ::close(fds[0]);
  if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) && run.error.empty()) {
    run.error = WIFEXITED(status)
                    ? "the child exited by itself with status " +
                          std::to_string(WEXITSTATUS(status)) + " (see its standard error)"
                    : "the child died of signal " + std::to_string(WTERMSIG(status));
  }
  return run;
}

void History::Add(const std::vector<Ack>& acks) {
  for (const Ack& a : acks) {
    acks_.push_back(a);
    last_ = std::max({last_, a.revision, a.checkpoint_size});
    if (a.MadeToken())
      tokens_.push_back({a.subject, a.owner, a.op, a.method, a.secret, a.revision});
  }
}

std::vector<GoneToken> History::GoneTokens() const {
  std::map<std::string, GoneToken> gone;  // by prefix: the first revocation, else expiry
  auto take = [&](const KnownToken& t, const Ack& a) {
    const bool revoked = a.op != "expire";
    auto [it, inserted] = gone.try_emplace(t.prefix, GoneToken{t, a.revision, a.op, revoked});
    if (!inserted && revoked && !it->second.revoked) it->second = {t, a.revision, a.op, true};
  };
  for (const Ack& a : acks_) {
    for (const KnownToken& t : tokens_) {
      if (a.op == "revoke" || a.op == "logout") {
        if (t.prefix == a.subject) take(t, a);
      } else if (a.op == "2fa_on" || a.op == "2fa_off") {
        // The user's password-created sessions and personal tokens, in the same batch.
        if (t.owner == a.subject && t.created_at < a.revision && t.method == "password" &&
            (t.kind == "session" || t.kind == "personal")) {
          take(t, a);
        }
      } else if (a.op == "unapp") {
        if (t.owner == a.subject && t.created_at < a.revision && t.kind == "application") {
          take(t, a);
        }
      } else if (a.op == "expire") {
        if (t.owner == a.subject && t.created_at < a.revision) take(t, a);
      }
    }
  }
  std::vector<GoneToken> out;
  for (auto& [prefix, g] : gone) out.push_back(std::move(g));
  return out;
}

std::uint64_t EnvCount(const char* name, std::uint64_t fallback) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return fallback;
  char* end = nullptr;
  std::uint64_t value = std::strtoull(text, &end, 10);
  return (*end == '\0' && value > 0) ? value : fallback;
}

}  // namespace authledger::testing
