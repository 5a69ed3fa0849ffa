#include "tests/reliability/server_harness.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>

namespace authledger::testing {

std::string ServerBinary() { return AUTHLEDGER_SERVER_BINARY; }
std::string ServerWorkloadBinary() { return AUTHLEDGER_SERVER_WORKLOAD; }

namespace {

using Clock = std::chrono::steady_clock;

// How long the workload may take to notice that the server is gone and report what it
// received (a guard against a hung workload, not a timing assertion).
constexpr auto kWorkloadGrace = std::chrono::seconds(30);
// How long a restarted server may take to listen (same kind of guard).
constexpr auto kListenGrace = std::chrono::seconds(60);

std::optional<ServerPorts> ReadPorts(const std::string& port_file) {
  std::ifstream in(port_file);
  ServerPorts ports;
  if (!(in >> ports.http >> ports.binary)) return std::nullopt;
  return ports;
}

std::string EndedBySelf(const std::string& how, const ServerFiles& files) {
  return "the server " + how + " by itself; the end of its log:\n" + TailOf(files.log_file, 10);
}

}  // namespace

ServerFiles MakeServerFiles(const std::string& dir) {
  ServerFiles files{dir + "/data", dir + "/api-keys", dir + "/ports", dir + "/server.log"};
  std::ofstream(files.keys_file) << "crash admin " << kCrashAdminKey << "\n";
  ::chmod(files.keys_file.c_str(), 0600);
  return files;
}

Result<std::unique_ptr<ChildProcess>> StartServer(const ServerFiles& files) {
  std::filesystem::remove(files.port_file);
  // Snapshots every 64 events, as in the engine workload, so that kills often cut one
  // short; a few threads, as on the 2-core machine the test runs on.
  return ChildProcess::Start(
      {ServerBinary(), "serve", "--data", files.data_dir, "--keys", files.keys_file, "--listen",
       "127.0.0.1:0", "--binary-listen", "127.0.0.1:0", "--port-file", files.port_file,
       "--snapshot-interval", "64", "--threads", "2", "--blocking-threads", "16"},
      files.log_file, nullptr);
}

Result<ServerPorts> AwaitPorts(ChildProcess& server, const ServerFiles& files) {
  const auto deadline = Clock::now() + kListenGrace;
  while (Clock::now() < deadline) {
    if (auto ports = ReadPorts(files.port_file)) return *ports;
    if (server.Exited()) return Status::Unavailable("server_ended", EndedBySelf("ended", files));
    ::usleep(2'000);
  }
  return Status::Unavailable("server_not_listening",
                             "no port file after " + std::to_string(kListenGrace.count()) + " s");
}

ChildRun RunServerAndKill(const ServerFiles& files, std::uint64_t seed, const KillPlan& plan) {
  ChildRun run;
  auto server = StartServer(files);
  if (!server.ok()) {
    run.error = server.status().ToString();
    return run;
  }
  std::optional<Clock::time_point> kill_at;
  if (plan.after_acks == 0) kill_at = Clock::now() + std::chrono::microseconds(plan.delay_us);
  std::unique_ptr<ChildProcess> workload;
  StuckGuard guard;
  while (run.error.empty()) {
    const auto now = Clock::now();
    if (!kill_at && run.acks.size() >= plan.after_acks) {
      kill_at = now + std::chrono::microseconds(plan.delay_us);
    }
    if (kill_at && now >= *kill_at) break;
    if (!workload) {
      if (auto ports = ReadPorts(files.port_file)) {
        auto started = ChildProcess::Start(
            {ServerWorkloadBinary(), std::to_string(ports->http), std::to_string(ports->binary),
             kCrashAdminKey, std::to_string(seed)},
            "", &run);
        if (!started.ok()) {
          run.error = started.status().ToString();
          break;
        }
        workload = std::move(*started);
      }
    }
    const auto wait = std::min<Clock::duration>(std::chrono::milliseconds(1),
                                                kill_at ? *kill_at - now : Clock::duration::max());
    if (!workload) {
      ::usleep(static_cast<useconds_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(wait).count()));
    } else if (!workload->Pump(std::chrono::duration_cast<std::chrono::microseconds>(wait)) &&
               run.error.empty()) {
      const std::string how = workload->AwaitExit(kWorkloadGrace);
      run.error = "the workload stopped before the server was killed: it " +
                  (how.empty() ? "exited with status 0" : how) + " (see its standard error)";
    }
    if ((*server)->Exited() && run.error.empty()) run.error = EndedBySelf("ended", files);
    if (run.error.empty()) run.error = guard.Check(run);
  }
  const std::string server_ended = (*server)->Kill();
  if (!server_ended.empty() && run.error.empty()) run.error = EndedBySelf(server_ended, files);
  if (workload) {
    const std::string workload_ended = workload->AwaitExit(kWorkloadGrace);
    if (!workload_ended.empty() && run.error.empty()) {
      run.error = "after the server was killed, the workload " + workload_ended +
                  " (see its standard error)";
    }
  }
  return run;
}

}  // namespace authledger::testing
