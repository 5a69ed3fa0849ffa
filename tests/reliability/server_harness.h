// The parent's side of the server crash test: the real server (`authledger serve`, a
// child process) on a data directory and ephemeral loopback ports, which it writes to
// its --port-file once it listens; the server crash workload (server_crash_workload.cc,
// a second child) driving it and reporting on a pipe everything the server answered;
// and the server killed with SIGKILL as a KillPlan says.
//
// Thread-safety: none; one test thread drives it.
#pragma once

#include <authledger/status.h>

#include <cstdint>
#include <memory>
#include <string>

#include "tests/reliability/child_process.h"
#include "tests/reliability/crash_harness.h"

namespace authledger::testing {

// Paths of the `authledger` executable and of server_crash_workload (compile
// definitions of the test target).
std::string ServerBinary();
std::string ServerWorkloadBinary();

// The admin API key of the servers the test starts.
constexpr const char* kCrashAdminKey = "crash-test-admin-key-0123456789";

// The files of the servers of one test, all under one directory.
struct ServerFiles {
  std::string data_dir;
  std::string keys_file;  // holds kCrashAdminKey, mode 0600
  std::string port_file;
  std::string log_file;  // the servers' standard error, appended to
};

// The files under `dir`, with the key file written.
ServerFiles MakeServerFiles(const std::string& dir);

struct ServerPorts {
  std::uint16_t http = 0;
  std::uint16_t binary = 0;
};

// Starts the server on files.data_dir (after removing a port file left behind).
Result<std::unique_ptr<ChildProcess>> StartServer(const ServerFiles& files);

// The server's ports once it listens; an error if it ends first, or never listens.
Result<ServerPorts> AwaitPorts(ChildProcess& server, const ServerFiles& files);

// Starts the server and, once it listens, the workload; kills the server as `plan`
// says (after_acks 0: delay_us after starting it, perhaps while it is still opening the
// engine), then lets the workload report what it received and end. The returned run
// has an error if either ended by itself before the kill, or the workload did not end
// well after it.
ChildRun RunServerAndKill(const ServerFiles& files, std::uint64_t seed, const KillPlan& plan);

}  // namespace authledger::testing
