// server_crash_workload: the driver of the server crash test. Sends random commands to a
// running `authledger serve` over several connections at once (binary ones, each
// pipelining a few commands in one write, and one HTTP/JSON connection), so that the
// server has many commands in flight and commits them in groups, and tells its parent on
// standard output (a pipe) every command whose answer it received (crash_protocol.h).
//
//   server_crash_workload <http port> <binary port> <admin API key> <seed>
//
// Every batch ends with `health` and `checkpoint`: the checkpoint, answered after the
// batch's commands were durable, is reported with them (or none, if the server died
// first). The command mix is the engine workload's (crash_workload.cc) over the same
// universe (workload_universe.h), as the wire API offers it. The driver runs until the
// server is killed: each connection ends when it fails, and once all have, the driver
// exits with status 0 after reporting everything it received. Anything else that goes
// wrong (an answer it does not understand, a request the server calls invalid, an
// unhealthy engine) is printed on standard error (never with a secret) and ends it with
// status 3.
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/reliability/crash_protocol.h"
#include "tests/reliability/wire_client.h"
#include "tests/reliability/workload_universe.h"

namespace authledger::testing {
namespace {

constexpr int kConnections = 6;  // the last over HTTP, the others binary
constexpr int kMostPerBatch = 4;

// Answers that say the client or the server is broken, not that a rule refused.
bool ServerFailure(const std::string& reason) {
  static const std::set<std::string> kFailures = {
      "invalid_request",     "unauthenticated",       "unknown_request",
      "malformed_frame",     "frame_too_large",       "too_many_connections",
      "not_found",           "method_not_allowed",    "body_too_large",
      "answer_out_of_order", "answer_not_understood", "unexpected_answer",
      "error_without_reason"};
  return kFailures.count(reason) > 0 || reason.starts_with("http_5");
}

// The tokens this run made, for every connection to use.
class TokenPool {
 public:
  void Add(Token t) {
    std::lock_guard lock(mu_);
    tokens_.push_back(std::move(t));
  }
  // A random token of `kind` (any kind when empty), or nullopt.
  std::optional<Token> Any(Dice& dice, const std::string& kind = {}) {
    std::lock_guard lock(mu_);
    std::vector<const Token*> matching;
    for (const Token& t : tokens_) {
      if (kind.empty() || t.kind == kind) matching.push_back(&t);
    }
    if (matching.empty()) return std::nullopt;
    return *matching[dice.Pick(static_cast<int>(matching.size()))];
  }

 private:
  std::mutex mu_;
  std::vector<Token> tokens_;
};

// A command to send, and what to report once it is acknowledged.
struct Planned {
  WireRequest request;
  std::string op;  // empty: nothing to report (a check, a dry run)
  std::string subject;
  Token token;  // for the token ops: owner, kind and method (the answer brings the rest)
};

void AddSpec(WireRequest& r, const TokenSpec& spec) {
  if (!spec.description.empty()) r.Str("description", spec.description);
  if (spec.max_age_seconds != 0) r.Num("max_age_seconds", spec.max_age_seconds);
  if (!spec.ip_allowlist.empty()) r.Strs("ip_allowlist", spec.ip_allowlist);
  if (!spec.scopes.empty()) r.Strs("scopes", spec.scopes);
}

void AddPolicy(WireRequest& r, const PolicyUpdate& u) {
  auto flag = [&](const char* name, const std::optional<bool>& value) {
    if (value) r.Bool(name, *value);
  };
  flag("password_auth_enabled", u.password_auth_enabled);
  flag("two_factor_required", u.two_factor_required);
  flag("oauth_enabled", u.oauth_enabled);
  if (u.oauth_providers) r.Strs("oauth_providers", *u.oauth_providers);
  flag("saml_enabled", u.saml_enabled);
  flag("saml_allow_external", u.saml_allow_external);
  flag("personal_tokens_enabled", u.personal_tokens_enabled);
  flag("personal_tokens_require_allowed_auth_method",
       u.personal_tokens_require_allowed_auth_method);
  if (u.force) r.Bool("force", true);
}

class Connection {
 public:
  Connection(std::unique_ptr<WireConnection> wire, std::uint64_t seed, TokenPool& tokens)
      : wire_(std::move(wire)), dice_(seed), tokens_(tokens) {}

  // Sends batches until the connection fails.
  void Run() {
    for (;;) {
      std::vector<Planned> batch;
      const int size = 1 + dice_.Pick(kMostPerBatch);
      for (int i = 0; i < size; ++i) {
        if (auto next = Next()) batch.push_back(std::move(*next));
      }
      std::vector<WireRequest> requests;
      for (const Planned& p : batch) requests.push_back(p.request);
      requests.emplace_back("health");
      requests.emplace_back("checkpoint");
      WireReply reply = wire_->Call(requests);
      Report(batch, reply.answers);
      if (!reply.broken.empty()) return;
    }
  }

 private:
  // Reports every acknowledged command of `batch`, with the batch's checkpoint if it
  // came; dies on an answer that says something is broken.
  void Report(const std::vector<Planned>& batch, const std::vector<WireAnswer>& answers) {
    const std::size_t n = batch.size();
    if (answers.size() > n && !answers[n].error.empty()) {
      Die("the server is unhealthy: " + answers[n].error);
    }
    const WireAnswer* checkpoint =
        answers.size() > n + 1 && answers[n + 1].error.empty() ? &answers[n + 1] : nullptr;
    if (answers.size() > n + 1 && checkpoint == nullptr) {
      Die("checkpoint failed: " + answers[n + 1].error);
    }
    for (std::size_t i = 0; i < n && i < answers.size(); ++i) {
      const Planned& p = batch[i];
      const WireAnswer& a = answers[i];
      if (!a.error.empty()) {
        if (ServerFailure(a.error)) Die(p.request.member + " failed: " + a.error);
        continue;
      }
      if (p.op.empty()) continue;
      Ack ack;
      ack.revision = a.revision;
      ack.checkpoint_size = checkpoint != nullptr ? checkpoint->size : 0;
      ack.checkpoint_root = checkpoint != nullptr ? checkpoint->root : kNoCheckpointRoot;
      ack.op = p.op;
      ack.subject = p.subject;
      if (ack.MadeToken()) {
        Token t = p.token;
        t.prefix = a.token_prefix;
        t.secret = a.secret;
        ack.subject = t.prefix;
        ack.owner = t.owner;
        ack.method = t.method;
        ack.secret = t.secret;
        tokens_.Add(std::move(t));
      }
      WriteLine(FormatAck(ack));
    }
  }

  static WireRequest Admin(const char* member) {
    return WireRequest(member).As(kAdminId, kAdminIp, /*admin=*/true);
  }

  static Planned Command(WireRequest r, std::string op, std::string subject) {
    return {std::move(r), std::move(op), std::move(subject), {}};
  }

  static Planned Making(WireRequest r, std::string kind, std::string owner, std::string method) {
    return {std::move(r), kind, {}, {{}, std::move(owner), kind, std::move(method), {}}};
  }

  // The next command of the mix, or nullopt when it needs a token there is none of.
  std::optional<Planned> Next() {
    const int o = dice_.Pick(kOrgs);
    const int u = dice_.Pick(kUsers);
    const int a = dice_.Pick(kApps);
    const std::string user = UserId(u);
    auto as_user = [&](const char* member) { return WireRequest(member).As(user, kUserIp); };
    const int dice = dice_.Pick(100);
    if (dice < 4) {
      return Command(Admin("create_organization")
                         .Str("org_id", Org(o))
                         .Str("name", "Org " + std::to_string(o)),
                     "org", Org(o));
    } else if (dice < 7) {
      return Command(Admin("verify_domain").Str("org_id", Org(o)).Str("domain", Domain(o)),
                     "verify", Org(o));
    } else if (dice < 10) {
      return Command(Admin("add_idp")
                         .Str("org_id", Org(o))
                         .Str("idp_id", Idp(o))
                         .Str("name", "SSO")
                         .Strs("domains", {Domain(o)})
                         .Num("max_age_seconds", 3600)
                         .Bool("extend_when_used", dice_.Coin()),
                     "idp", Org(o));
    } else if (dice < 14) {
      return Command(Admin("register_user").Str("user_id", user).Str("email", Email(u)), "user",
                     user);
    } else if (dice < 20) {
      return Command(Admin("add_member").Str("org_id", Org(o)).Str("user_id", user), "member",
                     user);
    } else if (dice < 23) {
      return Command(Admin("create_application_user")
                         .Str("org_id", AppOrg(a))
                         .Str("user_id", App(a))
                         .Str("name", "deployer"),
                     "app", App(a));
    } else if (dice < 38) {
      const std::string method = kLoginMethods[dice_.Pick(static_cast<int>(kLoginMethods.size()))];
      return Making(as_user("record_login")
                        .Str("user_id", user)
                        .Str("method", method)
                        .Bool("two_factor_used", dice_.Coin()),
                    "session", user, method);
    } else if (dice < 48) {
      const auto session = tokens_.Any(dice_, "session");
      if (!session) return std::nullopt;
      WireRequest r("create_personal_token");
      r.As(session->owner).Str("session_prefix", session->prefix);
      AddSpec(r, dice_.Spec());
      return Making(std::move(r), "personal", session->owner, session->method);
    } else if (dice < 54) {
      WireRequest r = Admin("create_application_token");
      r.Str("org_id", AppOrg(a)).Str("app_user_id", App(a));
      AddSpec(r, dice_.Spec());
      return Making(std::move(r), "application", App(a), "application");
    } else if (dice < 66) {
      // Checks, so that token use is recorded in the background.
      const auto t = tokens_.Any(dice_);
      if (!t) return std::nullopt;
      return Command(WireRequest("check_token")
                         .Str("token", t->secret)
                         .Str("org_id", Org(o))
                         .Str("ip", kUserIp),
                     {}, {});
    } else if (dice < 74) {
      const auto t = tokens_.Any(dice_);
      if (!t) return std::nullopt;
      WireRequest r("revoke_token");
      r.Str("token_prefix", t->prefix);
      if (dice_.Coin()) {
        r.As(t->owner);
      } else {
        r.As(kAdminId, kAdminIp, true).Str("org_id", Org(o));
      }
      return Command(std::move(r), "revoke", t->prefix);
    } else if (dice < 78) {
      const auto s = tokens_.Any(dice_, "session");
      if (!s) return std::nullopt;
      return Command(WireRequest("end_session").As(s->owner).Str("session_prefix", s->prefix),
                     "logout", s->prefix);
    } else if (dice < 84) {
      if (dice_.Coin()) {
        return Command(as_user("enable_two_factor").Str("user_id", user), "2fa_on", user);
      }
      return Command(as_user("disable_two_factor").Str("user_id", user), "2fa_off", user);
    } else if (dice < 89) {
      WireRequest r = Admin("update_policy");
      r.Str("org_id", Org(o));
      AddPolicy(r, dice_.Policy());
      return Command(std::move(r), "policy", Org(o));
    } else if (dice < 91) {
      const std::vector<std::string> cidrs = dice_.AllowlistCidrs();
      return Command(Admin("update_ip_allowlist")
                         .Str("org_id", Org(o))
                         .Bool("enabled", dice_.Coin())
                         .Strs("cidrs", cidrs),
                     "allowlist", Org(o));
    } else if (dice < 93) {
      return Command(as_user("expire_user_tokens").Str("user_id", user), "expire", user);
    } else if (dice < 95) {
      const bool deactivate = dice_.Coin();
      return Command(Admin(deactivate ? "deactivate_user" : "reactivate_user")
                         .Str("org_id", Org(u % 4))
                         .Str("user_id", user),
                     deactivate ? "deactivate" : "reactivate", user);
    } else if (dice < 98) {
      switch (dice_.Pick(4)) {
        case 0:
          return Command(Admin("remove_member").Str("org_id", Org(o)).Str("user_id", user),
                         "unmember", user);
        case 1:
          return Command(Admin("unverify_domain").Str("org_id", Org(o)).Str("domain", Domain(o)),
                         "unverify", Org(o));
        case 2:
          return Command(Admin("remove_idp").Str("org_id", Org(o)).Str("idp_id", Idp(o)), "unidp",
                         Org(o));
        default:
          return Command(
              Admin("delete_application_user").Str("org_id", AppOrg(a)).Str("user_id", App(a)),
              "unapp", App(a));
      }
    }
    WireRequest r = Admin("update_policy");
    r.Str("org_id", Org(o));
    AddPolicy(r, dice_.Policy());
    r.Bool("dry_run", true);
    return Command(std::move(r), {}, {});
  }

  std::unique_ptr<WireConnection> wire_;
  Dice dice_;
  TokenPool& tokens_;
};

// Dies unless `s` says the server is not there (the parent killed it).
void UnlessGone(const Status& s) {
  if (s.reason() != "connect_failed") Die(s.ToString());
}

}  // namespace
}  // namespace authledger::testing

int main(int argc, char** argv) {
  using namespace authledger::testing;
  if (argc != 5) {
    std::cerr << "usage: server_crash_workload <http port> <binary port> <admin API key> <seed>\n";
    return 2;
  }
  const auto http_port = static_cast<std::uint16_t>(std::strtoul(argv[1], nullptr, 10));
  const auto binary_port = static_cast<std::uint16_t>(std::strtoul(argv[2], nullptr, 10));
  const std::string key = argv[3];
  const std::uint64_t seed = std::strtoull(argv[4], nullptr, 10);

  auto first = ConnectBinary(binary_port, key);
  if (!first.ok()) {
    UnlessGone(first.status());
    return 0;
  }
  WireReply health = (*first)->Call({WireRequest("health")});
  if (!health.broken.empty()) return 0;
  if (!health.answers.front().error.empty()) Die("health: " + health.answers.front().error);
  WriteLine(FormatOpened(health.answers.front().revision));

  // Every connection is made before any sends: once one has, the driver may only end
  // after all threads have reported what they received.
  std::vector<std::unique_ptr<WireConnection>> wires;
  wires.push_back(std::move(*first));
  for (int i = 1; i < kConnections; ++i) {
    auto connected =
        i == kConnections - 1 ? ConnectHttp(http_port, key) : ConnectBinary(binary_port, key);
    if (!connected.ok()) {
      UnlessGone(connected.status());
      break;
    }
    wires.push_back(std::move(*connected));
  }
  TokenPool tokens;
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < wires.size(); ++i) {
    threads.emplace_back([&tokens, wire = std::move(wires[i]), seed = seed * 31 + i]() mutable {
      Connection(std::move(wire), seed, tokens).Run();
    });
  }
  for (std::thread& t : threads) t.join();
  return 0;
}
