// The child of the snapshot retention crash tests (snapshot_retention_test.cc): an engine
// that writes a snapshot every few events under a retention policy, in a process of its
// own (a child forked from the test would inherit RocksDB's thread pools without their
// threads), until it is killed or kills itself.
//
//   retention_workload DIR KEEP_LATEST INTERVAL DIE_AT_SNAPSHOT
//
// DIE_AT_SNAPSHOT > 0: exits (code 0, nothing closed) from inside the engine's log call
// for its that-many-th "snapshot written" line: after that snapshot is durable, before
// retention runs for it. 0: runs until killed, also writing snapshots itself now and
// then. Exits 3 if the workload ends without dying, 2 if the engine fails.
#include <authledger/engine.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>

namespace {

class DieAtSnapshot : public authledger::Logger {
 public:
  explicit DieAtSnapshot(int n) : n_(n) {}
  void Log(Level, std::string_view message) override {
    if (n_ > 0 && message.starts_with("snapshot written at seq") && ++written_ == n_) ::_exit(0);
  }

 private:
  const int n_;
  std::atomic<int> written_{0};
};

[[noreturn]] void Fail(const std::string& what) {
  std::cerr << "retention_workload: " << what << "\n";
  ::_exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace authledger;
  if (argc != 5) {
    std::cerr << "usage: retention_workload DIR KEEP_LATEST INTERVAL DIE_AT_SNAPSHOT\n";
    return 2;
  }
  const int die_at = std::atoi(argv[4]);
  EngineOptions options;
  options.logger = std::make_shared<DieAtSnapshot>(die_at);
  options.snapshot_retention.keep_latest = static_cast<std::uint32_t>(std::atoi(argv[2]));
  options.snapshot_interval = std::strtoull(argv[3], nullptr, 10);
  auto opened = Engine::Open(argv[1], options);
  if (!opened.ok()) Fail("open: " + opened.status().ToString());
  std::unique_ptr<Engine> engine = std::move(opened).value();
  const Actor admin = Actor::Admin("admin1", "198.51.100.1");
  for (int i = 0; i < 20000; ++i) {
    // Ids never used before, by this run or an earlier one.
    const std::string user = "u" + std::to_string(engine->revision());
    auto registered = engine->RegisterUser(admin, user, user + "@example.org");
    if (!registered.ok()) Fail("register: " + registered.status().ToString());
    auto login = engine->RecordLogin(Actor::User(user), {user, "password", false});
    if (!login.ok()) Fail("login: " + login.status().ToString());
    if (die_at == 0 && i % 7 == 0) {
      if (Status s = engine->WriteSnapshot(); !s.ok()) Fail("snapshot: " + s.ToString());
    }
  }
  ::_exit(3);
}
