#include "tests/reliability/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>

namespace authledger::testing {

Result<std::unique_ptr<ChildProcess>> ChildProcess::Start(const std::vector<std::string>& argv,
                                                          const std::string& stderr_file,
                                                          ChildRun* report_to) {
  std::vector<std::string> args = argv;
  std::vector<char*> pointers;
  for (std::string& a : args) pointers.push_back(a.data());
  pointers.push_back(nullptr);

  auto failed = [](const std::string& what) {
    return Status::IoError("spawn_failed", what + ": " + std::strerror(errno));
  };
  int err_fd = -1;
  if (!stderr_file.empty()) {
    err_fd = ::open(stderr_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (err_fd < 0) return failed("open " + stderr_file);
  }
  int fds[2] = {-1, -1};
  if (report_to != nullptr && ::pipe2(fds, O_CLOEXEC) != 0) {
    Status s = failed("pipe");
    if (err_fd >= 0) ::close(err_fd);
    return s;
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    if (fds[1] >= 0 && ::dup2(fds[1], STDOUT_FILENO) < 0) ::_exit(126);
    if (err_fd >= 0 && ::dup2(err_fd, STDERR_FILENO) < 0) ::_exit(126);
    ::execv(pointers[0], pointers.data());
    ::_exit(127);
  }
  Status s = pid < 0 ? failed("fork") : Status::Ok();
  if (err_fd >= 0) ::close(err_fd);
  if (fds[1] >= 0) ::close(fds[1]);
  if (!s.ok()) {
    if (fds[0] >= 0) ::close(fds[0]);
    return s;
  }
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, fds[0], report_to));
}

ChildProcess::ChildProcess(pid_t pid, int out_fd, ChildRun* report_to)
    : pid_(pid), out_fd_(out_fd), report_to_(report_to) {}

ChildProcess::~ChildProcess() {
  if (!status_) {
    ::kill(pid_, SIGKILL);
    Reap(true);
  }
  if (out_fd_ >= 0) ::close(out_fd_);
}

void ChildProcess::Feed(const char* data, std::size_t size) {
  pending_.append(data, size);
  std::size_t start = 0;
  for (std::size_t nl; (nl = pending_.find('\n', start)) != std::string::npos; start = nl + 1) {
    auto parsed = ParseLine(pending_.substr(start, nl - start));
    if (!parsed) {
      // Never echo the line: it may hold a secret.
      if (report_to_->error.empty())
        report_to_->error = "the child wrote a line that is not the protocol";
      continue;
    }
    if (parsed->opened_at) report_to_->opened_at = parsed->opened_at;
    if (parsed->ack) report_to_->acks.push_back(std::move(*parsed->ack));
  }
  pending_.erase(0, start);
}

bool ChildProcess::Pump(std::chrono::microseconds timeout) {
  if (out_fd_ < 0) return false;
  pollfd p{out_fd_, POLLIN, 0};
  const timespec limit{static_cast<time_t>(timeout.count() / 1'000'000),
                       static_cast<long>(timeout.count() % 1'000'000 * 1000)};
  if (::ppoll(&p, 1, &limit, nullptr) <= 0) return true;  // timeout or EINTR: nothing yet
  char buffer[4096];
  const ssize_t n = ::read(out_fd_, buffer, sizeof buffer);
  if (n < 0) return errno == EINTR || errno == EAGAIN;
  if (n == 0) {
    ::close(out_fd_);
    out_fd_ = -1;
    return false;
  }
  Feed(buffer, static_cast<std::size_t>(n));
  return true;
}

void ChildProcess::Reap(bool block) {
  int status = 0;
  pid_t done;
  while ((done = ::waitpid(pid_, &status, block ? 0 : WNOHANG)) < 0 && errno == EINTR) {
  }
  if (done == pid_) status_ = status;
}

bool ChildProcess::Exited() {
  if (!status_) Reap(false);
  return status_.has_value();
}

std::string ChildProcess::Kill() {
  const bool had_ended = Exited();
  if (!had_ended) {
    ::kill(pid_, SIGKILL);
    Reap(true);
  }
  // Whatever it wrote before dying is still in the pipe.
  while (Pump(std::chrono::seconds(1))) {
  }
  if (!had_ended && WIFSIGNALED(*status_) && WTERMSIG(*status_) == SIGKILL) return {};
  return DescribeExit(*status_);
}

std::string ChildProcess::AwaitExit(std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!Exited() && std::chrono::steady_clock::now() < deadline) {
    if (!Pump(std::chrono::milliseconds(10))) ::usleep(10'000);
  }
  if (!Exited()) {
    Kill();
    return "it was still running after " + std::to_string(limit.count()) + " ms";
  }
  while (Pump(std::chrono::seconds(1))) {
  }
  return WIFEXITED(*status_) && WEXITSTATUS(*status_) == 0 ? std::string() : DescribeExit(*status_);
}

std::string DescribeExit(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "died of signal " + std::to_string(WTERMSIG(status));
  return "ended with wait status " + std::to_string(status);
}

std::string TailOf(const std::string& path, std::size_t lines) {
  std::ifstream in(path);
  std::deque<std::string> last;
  for (std::string line; std::getline(in, line);) {
    last.push_back(line);
    if (last.size() > lines) last.pop_front();
  }
  std::string out;
  for (const std::string& line : last) out += line + "\n";
  return out;
}

}  // namespace authledger::testing
