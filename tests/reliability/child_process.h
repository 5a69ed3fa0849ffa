// A child process of the crash tests: started with fork/exec, its standard output read
// from a pipe as lines of the crash protocol (crash_protocol.h) into a ChildRun, its
// standard error appended to a file, killed with SIGKILL and reaped. The destructor
// kills and reaps a child still running, so that a failing test leaves none behind.
//
// Thread-safety: none; one test thread drives it.
#pragma once

#include <authledger/status.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/reliability/crash_protocol.h"

namespace authledger::testing {

// What one child run told us before it died.
struct ChildRun {
  std::optional<std::uint64_t> opened_at;
  std::vector<Ack> acks;
  // Empty if the child ran until our SIGKILL; else what went wrong (it exited by itself,
  // it said something that is not the protocol, it could not be started).
  std::string error;
};

class ChildProcess {
 public:
  // Starts `argv` (argv[0] is the executable's path). With `report_to`, its standard
  // output goes to a pipe whose lines Pump() parses into *report_to (which must outlive
  // the child); else it is inherited. Its standard error is appended to `stderr_file`,
  // or inherited when that is empty.
  static Result<std::unique_ptr<ChildProcess>> Start(const std::vector<std::string>& argv,
                                                     const std::string& stderr_file,
                                                     ChildRun* report_to);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Reads what the child wrote within `timeout`; false at once when its output has
  // ended (or is not captured).
  bool Pump(std::chrono::microseconds timeout);
  // Whether it has exited (reaping it if so).
  bool Exited();
  // SIGKILL, reap, then read whatever it wrote before dying. Empty if it died of this
  // SIGKILL; else how it had ended by itself.
  std::string Kill();
  // Waits up to `limit` for the child to exit by itself, reading its output: empty if it
  // exited with status 0; else how it ended, or that it did not (it is killed then).
  std::string AwaitExit(std::chrono::milliseconds limit);

 private:
  ChildProcess(pid_t pid, int out_fd, ChildRun* report_to);
  void Feed(const char* data, std::size_t size);
  void Reap(bool block);

  pid_t pid_;
  int out_fd_;                 // -1 when standard output is not captured, or at its end
  ChildRun* report_to_;        // borrowed
  std::string pending_;        // an incomplete last line (dropped if the child dies mid-way)
  std::optional<int> status_;  // set once reaped
};

// How a reaped child ended ("exited with status 1", "died of signal 6").
std::string DescribeExit(int status);

// The last `lines` lines of the file at `path` (a server's log, for a failure message).
std::string TailOf(const std::string& path, std::size_t lines);

}  // namespace authledger::testing
