// A fixture for the fault and corruption tests: an engine on a temporary directory with
// a FaultInjector under its log, a hand-moved clock, a small workload whose outcome is
// known, and helpers to find and damage the log's files.
#pragma once

#include <authledger/engine.h>
#include <authledger/log_tools.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "engine/engine_impl.h"
#include "storage/event_log.h"
#include "storage/fault_injection.h"
#include "tests/support/temp_dir.h"

namespace authledger::testing {

// 2026-01-01T00:00:00Z in µs.
inline constexpr std::int64_t kFaultStartUs = 1767225600LL * 1'000'000;

// What the engine logs, kept for the test to read.
class LogLines : public Logger {
 public:
  void Log(Level level, std::string_view message) override {
    std::lock_guard lock(mu_);
    lines_.emplace_back(level, std::string(message));
  }
  // The lines at `level` holding every one of `needles`.
  std::vector<std::string> At(Level level, const std::vector<std::string>& needles) const {
    std::lock_guard lock(mu_);
    std::vector<std::string> found;
    for (const auto& entry : lines_) {
      const std::string& line = entry.second;
      if (entry.first == level &&
          std::all_of(needles.begin(), needles.end(),
                      [&](const std::string& n) { return line.find(n) != std::string::npos; })) {
        found.push_back(line);
      }
    }
    return found;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::pair<Level, std::string>> lines_;
};

class FaultTest : public ::testing::Test {
 protected:
  EngineOptions Options() {
    EngineOptions options;
    options.clock = [now = now_] { return now->load(); };
    options.logger = logger_;
    options.snapshot_interval = 1'000'000;  // snapshots only when a test writes one
    options.fall_back_past_bad_snapshots = fall_back_past_bad_snapshots_;
    return options;
  }
  // Opens the engine with the injector under its log.
  Status TryOpen(bool create = true) {
    storage::EventLogOptions log_options;
    log_options.faults = faults_;
    log_options.snapshot_file_bytes = snapshot_file_bytes_;
    EngineOptions options = Options();
    options.create_if_missing = create;
    auto engine = internal::OpenEngine(dir_, options, log_options, checks_);
    if (!engine.ok()) return engine.status();
    engine_ = std::move(engine).value();
    return Status::Ok();
  }
  void Open() {
    Status s = TryOpen();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  void Close() { engine_.reset(); }
  void Tick() { now_->fetch_add(1'000'000); }

  template <typename T>
  T Must(Result<T> r, const char* what = "") {
    EXPECT_TRUE(r.ok()) << what << ": " << r.status().ToString();
    if (!r.ok()) throw std::runtime_error(r.status().ToString());
    return std::move(r).value();
  }

  // An organization with a member who logged in with a password and made a personal
  // token: every check below is allowed until something is revoked.
  void Seed() {
    Must(engine_->CreateOrganization(admin_, "acme", "Acme Inc"));
    Must(engine_->VerifyDomain(admin_, "acme", "acme.com"));
    Must(engine_->RegisterUser(admin_, "alice", "alice@acme.com"));
    Must(engine_->AddMember(admin_, "acme", "alice"));
    Tick();
    session_ = Must(engine_->RecordLogin(Actor::User("alice"), {"alice", "password", false}));
    Tick();
    personal_ = Must(engine_->CreatePersonalToken(Actor::User("alice"), session_.token_prefix, {}));
    acked_ = personal_.revision;
  }
  // `n` more users, each one acknowledged command; names carry `marker` so that their
  // events can be found in the files.
  void MoreUsers(int n, const std::string& marker = "user") {
    for (int i = 0; i < n; ++i) {
      Tick();
      acked_ = Must(engine_->RegisterUser(admin_, marker + std::to_string(i),
                                          marker + std::to_string(i) + "@example.org"));
    }
  }

  Decision Check(const CreatedToken& token) {
    return engine_->CheckToken(token.secret, "acme", {now_->load(), "203.0.113.7"});
  }

  VerifyReport Verify() {
    auto report = VerifyLog(dir_);
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? *report : VerifyReport{};
  }

  // The files of the log whose name ends with `suffix`, oldest (lowest number) first.
  std::vector<std::string> Files(const std::string& suffix) const {
    std::vector<std::string> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
      const std::string name = entry.path().filename().string();
      if (name.size() > suffix.size() &&
          name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
        files.push_back(entry.path().string());
      }
    }
    std::sort(files.begin(), files.end());
    return files;
  }

  TempDir tmp_;
  std::string dir_ = tmp_.Sub("data");
  std::shared_ptr<LogLines> logger_ = std::make_shared<LogLines>();
  bool fall_back_past_bad_snapshots_ = EngineOptions().fall_back_past_bad_snapshots;
  std::size_t snapshot_file_bytes_ = storage::EventLogOptions().snapshot_file_bytes;
  std::shared_ptr<storage::FaultInjector> faults_ = std::make_shared<storage::FaultInjector>();
  std::shared_ptr<std::atomic<std::int64_t>> now_ =
      std::make_shared<std::atomic<std::int64_t>>(kFaultStartUs);
  Actor admin_ = Actor::Admin("admin1", "198.51.100.1");
  internal::OpenChecks checks_;
  std::unique_ptr<Engine> engine_;
  CreatedToken session_;
  CreatedToken personal_;
  std::uint64_t acked_ = 0;  // revision of the last acknowledged command
};

// The bytes of a file.
inline std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Flips bit 0 of byte `offset` of the file at `path`, in place.
inline void FlipFileByte(const std::string& path, std::size_t offset) {
  std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(static_cast<char>(c ^ 1));
}

// The offset of `needle` in the file at `path`, or npos.
inline std::size_t FindInFile(const std::string& path, const std::string& needle) {
  return ReadBytes(path).find(needle);
}

// Helpers to build a log, find its files and damage them.
class CorruptionTest : public FaultTest {
 protected:
  // Runs a workload in a child process that exits without closing anything, as after
  // a crash: every event since the log was opened is then only in its write-ahead log.
  // Returns the revision the child had acknowledged last.
  std::uint64_t WorkloadThatDies(int users) {
    const std::string acked_file = tmp_.Sub("acked");
    const pid_t pid = ::fork();
    if (pid == 0) {
      try {
        Open();
        Seed();
        MoreUsers(users);
        std::ofstream(acked_file) << acked_;
      } catch (...) {
        ::_exit(2);
      }
      ::_exit(HasFailure() ? 3 : 0);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    std::uint64_t acked = 0;
    std::ifstream(acked_file) >> acked;
    return acked;
  }

  // The write-ahead log holding `needle`.
  std::string WalWith(const std::string& needle) {
    for (const auto& wal : Files(".log")) {
      if (FindInFile(wal, needle) != std::string::npos) return wal;
    }
    ADD_FAILURE() << "no write-ahead log holds " << needle;
    return {};
  }
  std::string TableWith(const std::string& needle) {
    for (const auto& table : Files(".sst")) {
      if (FindInFile(table, needle) != std::string::npos) return table;
    }
    ADD_FAILURE() << "no table file holds " << needle;
    return {};
  }

  // Seq of the event registering user `marker`+i (Seed writes 6 events).
  static std::uint64_t UserSeq(int i) { return 7 + static_cast<std::uint64_t>(i); }
  static std::string Email(int i) { return "user" + std::to_string(i) + "@example.org"; }

  // The offset of `needle` in the stored bytes of event `seq` (the log closed).
  std::size_t FindInEvent(std::uint64_t seq, const std::string& needle) {
    auto log = storage::EventLog::Open(dir_, ReadOnly());
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    auto event = (*log)->Read(seq);
    EXPECT_TRUE(event.ok()) << event.status().ToString();
    auto bytes = event->bytes();
    std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    std::size_t at = text.find(needle);
    EXPECT_NE(at, std::string_view::npos);
    return at;
  }
  static storage::EventLogOptions ReadOnly() {
    storage::EventLogOptions options;
    options.read_only = true;
    options.create_if_missing = false;
    return options;
  }

  Status OpenError() {
    Status s = TryOpen(/*create=*/false);
    Close();
    return s;
  }
};

}  // namespace authledger::testing
