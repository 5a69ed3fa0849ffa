// crash_workload: the child of the crash test. Opens the engine on a data directory and
// runs random commands through the public Engine API until it is killed, telling its
// parent on standard output (a pipe) what each acknowledged command was (see
// crash_protocol.h). It never stops on its own: a failure other than a rejected command
// is printed on standard error (never with a secret) and ends it with status 3.
//
//   crash_workload <data dir> <seed> <engine log file>
//
// The names it uses come from the small fixed universe of workload_universe.h. Tokens
// are only those of this run: only their secrets are known here.
#include <authledger/engine.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tests/reliability/crash_protocol.h"
#include "tests/reliability/workload_universe.h"

namespace authledger::testing {
namespace {

// The engine's messages, every level, appended to a file the parent reads afterwards.
class FileLogger : public Logger {
 public:
  explicit FileLogger(const std::string& path)
      : fd_(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) {
    if (fd_ < 0) Die("cannot open the log file: " + std::string(std::strerror(errno)));
  }
  ~FileLogger() override { ::close(fd_); }
  FileLogger(const FileLogger&) = delete;
  FileLogger& operator=(const FileLogger&) = delete;

  void Log(Level level, std::string_view message) override {
    std::string line = std::to_string(static_cast<int>(level)) + " " + std::string(message) + "\n";
    std::lock_guard lock(mu_);
    if (::write(fd_, line.data(), line.size()) < 0) Die("writing the log file failed");
  }

 private:
  std::mutex mu_;
  int fd_;
};

class Workload {
 public:
  Workload(std::unique_ptr<Engine> engine, std::uint64_t seed)
      : engine_(std::move(engine)), dice_(seed) {}

  [[noreturn]] void Run() {
    WriteLine(FormatOpened(engine_->revision()));
    for (;;) Step();
  }

 private:
  int Pick(int n) { return dice_.Pick(n); }
  bool Coin(double p = 0.5) { return dice_.Coin(p); }

  // A rejected command is part of the workload; a failing engine is not.
  void Rejected(const Status& s) {
    using Code = Status::Code;
    if (s.code() == Code::kIoError || s.code() == Code::kCorruption ||
        s.code() == Code::kUnavailable || !engine_->health().ok()) {
      Die("the engine failed: " + s.ToString());
    }
  }

  // Tells the parent about an acknowledged command, with the log's checkpoint after it.
  void Report(std::uint64_t revision, const std::string& op, const std::string& subject,
              const Token* token = nullptr) {
    Ack ack;
    ack.revision = revision;
    ack.op = op;
    ack.subject = subject;
    if (token != nullptr) {
      ack.owner = token->owner;
      ack.method = token->method;
      ack.secret = token->secret;
    }
    auto checkpoint = engine_->Checkpoint();
    if (!checkpoint.ok()) Die("checkpoint failed: " + checkpoint.status().ToString());
    ack.checkpoint_size = checkpoint->size;
    ack.checkpoint_root = checkpoint->root_hex;
    WriteLine(FormatAck(ack));
  }

  void Command(const Result<std::uint64_t>& r, const std::string& op, const std::string& subject) {
    if (!r.ok()) return Rejected(r.status());
    Report(*r, op, subject);
  }

  void Made(const Result<CreatedToken>& r, const std::string& kind, const std::string& owner,
            const std::string& method) {
    if (!r.ok()) return Rejected(r.status());
    tokens_.push_back({r->token_prefix, owner, kind, method, r->secret});
    Report(r->revision, kind, r->token_prefix, &tokens_.back());
  }

  const Token* AnyToken(const std::string& kind = {}) {
    std::vector<const Token*> matching;
    for (const auto& t : tokens_) {
      if (kind.empty() || t.kind == kind) matching.push_back(&t);
    }
    return matching.empty() ? nullptr : matching[Pick(static_cast<int>(matching.size()))];
  }

  void Step() {
    const int o = Pick(kOrgs);
    const int u = Pick(kUsers);
    const int a = Pick(kApps);
    const std::string user = UserId(u);
    const Actor as_user = Actor::User(user, kUserIp);
    const int dice = Pick(100);
    if (dice < 4) {
      Command(engine_->CreateOrganization(admin_, Org(o), "Org " + std::to_string(o)), "org",
              Org(o));
    } else if (dice < 7) {
      Command(engine_->VerifyDomain(admin_, Org(o), Domain(o)), "verify", Org(o));
    } else if (dice < 10) {
      Command(engine_->AddIdp(admin_, Org(o), {Idp(o), "SSO", {Domain(o)}, 3600, Coin()}), "idp",
              Org(o));
    } else if (dice < 14) {
      Command(engine_->RegisterUser(admin_, user, Email(u)), "user", user);
    } else if (dice < 20) {
      Command(engine_->AddMember(admin_, Org(o), user), "member", user);
    } else if (dice < 23) {
      Command(engine_->CreateApplicationUser(admin_, AppOrg(a), App(a), "deployer"), "app", App(a));
    } else if (dice < 38) {
      const std::string method = kLoginMethods[Pick(static_cast<int>(kLoginMethods.size()))];
      Made(engine_->RecordLogin(as_user, {user, method, Coin()}), "session", user, method);
    } else if (dice < 48) {
      if (const Token* s = AnyToken("session")) {
        const Token session = *s;  // tokens_ grows below
        Made(engine_->CreatePersonalToken(Actor::User(session.owner), session.prefix, dice_.Spec()),
             "personal", session.owner, session.method);
      }
    } else if (dice < 54) {
      Made(engine_->CreateApplicationToken(admin_, AppOrg(a), App(a), dice_.Spec()), "application",
           App(a), "application");
    } else if (dice < 66) {
      // Checks, so that token use is recorded in the background.
      if (const Token* t = AnyToken()) {
        engine_->CheckToken(t->secret, Org(o), {NowUs(), kUserIp});
      }
    } else if (dice < 74) {
      if (const Token* t = AnyToken()) {
        const std::string prefix = t->prefix;
        if (Coin()) {
          Command(engine_->RevokeToken(Actor::User(t->owner), prefix), "revoke", prefix);
        } else {
          Command(engine_->RevokeToken(admin_, prefix, Org(o)), "revoke", prefix);
        }
      }
    } else if (dice < 78) {
      if (const Token* s = AnyToken("session")) {
        const std::string prefix = s->prefix;
        Command(engine_->EndSession(Actor::User(s->owner), prefix), "logout", prefix);
      }
    } else if (dice < 84) {
      if (Coin()) {
        Command(engine_->EnableTwoFactor(as_user, user), "2fa_on", user);
      } else {
        Command(engine_->DisableTwoFactor(as_user, user), "2fa_off", user);
      }
    } else if (dice < 89) {
      auto change = engine_->UpdatePolicy(admin_, Org(o), dice_.Policy());
      if (!change.ok()) return Rejected(change.status());
      Report(change->revision, "policy", Org(o));
    } else if (dice < 91) {
      const std::vector<std::string> cidrs = dice_.AllowlistCidrs();
      Command(engine_->UpdateIpAllowlist(admin_, Org(o), Coin(), cidrs), "allowlist", Org(o));
    } else if (dice < 93) {
      Command(engine_->ExpireUserTokens(as_user, user), "expire", user);
    } else if (dice < 95) {
      if (Coin()) {
        Command(engine_->DeactivateUser(admin_, Org(u % 4), user), "deactivate", user);
      } else {
        Command(engine_->ReactivateUser(admin_, Org(u % 4), user), "reactivate", user);
      }
    } else if (dice < 98) {
      switch (Pick(4)) {
        case 0:
          Command(engine_->RemoveMember(admin_, Org(o), user), "unmember", user);
          break;
        case 1:
          Command(engine_->UnverifyDomain(admin_, Org(o), Domain(o)), "unverify", Org(o));
          break;
        case 2:
          Command(engine_->RemoveIdp(admin_, Org(o), Idp(o)), "unidp", Org(o));
          break;
        default:
          Command(engine_->DeleteApplicationUser(admin_, AppOrg(a), App(a)), "unapp", App(a));
          break;
      }
    } else if (dice < 99) {
      if (Status s = engine_->WriteSnapshot(); !s.ok()) Rejected(s);
    } else {
      auto dry = engine_->DryRunPolicy(admin_, Org(o), dice_.Policy());
      if (!dry.ok()) Rejected(dry.status());
    }
  }

  std::unique_ptr<Engine> engine_;
  Dice dice_;
  const Actor admin_ = Actor::Admin(kAdminId, kAdminIp);
  std::vector<Token> tokens_;
};

}  // namespace
}  // namespace authledger::testing

int main(int argc, char** argv) {
  using namespace authledger;
  if (argc != 4) {
    std::cerr << "usage: crash_workload <data dir> <seed> <engine log file>\n";
    return 2;
  }
  EngineOptions options;
  options.logger = std::make_shared<testing::FileLogger>(argv[3]);
  // Small, so that background snapshots and token-use batches are often cut short.
  options.snapshot_interval = 64;
  options.token_use_interval_us = 1000;
  auto engine = Engine::Open(argv[1], options);
  if (!engine.ok()) testing::Die("opening the engine failed: " + engine.status().ToString());
  testing::Workload(std::move(engine).value(), std::strtoull(argv[2], nullptr, 10)).Run();
}
