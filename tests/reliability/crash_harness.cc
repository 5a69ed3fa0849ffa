#include "tests/reliability/crash_harness.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>

namespace authledger::testing {

std::string CrashWorkloadBinary() { return AUTHLEDGER_CRASH_WORKLOAD; }

std::string StuckGuard::Check(const ChildRun& run) {
  constexpr auto kStuckAfter = std::chrono::seconds(120);
  const auto now = std::chrono::steady_clock::now();
  if (run.acks.size() != seen_) {
    seen_ = run.acks.size();
    last_progress_ = now;
  } else if (now - last_progress_ > kStuckAfter) {
    return "the child acknowledged nothing for " + std::to_string(kStuckAfter.count()) + " s";
  }
  return {};
}

ChildRun RunAndKill(const std::string& data_dir, const std::string& log_file, std::uint64_t seed,
                    const KillPlan& plan) {
  ChildRun run;
  auto child = ChildProcess::Start(
      {CrashWorkloadBinary(), data_dir, std::to_string(seed), log_file}, "", &run);
  if (!child.ok()) {
    run.error = child.status().ToString();
    return run;
  }
  bool open = true;
  StuckGuard guard;
  while (open && run.error.empty() && run.acks.size() < plan.after_acks) {
    open = (*child)->Pump(std::chrono::milliseconds(100));
    if (run.error.empty()) run.error = guard.Check(run);
  }
  if (open && plan.delay_us > 0) ::usleep(plan.delay_us);
  const std::string ended = (*child)->Kill();
  if (!ended.empty() && run.error.empty()) {
    run.error = "the child " + ended + " by itself (see its standard error)";
  }
  return run;
}

KillPlan RandomPlan(std::mt19937_64& rng) {
  if (std::bernoulli_distribution(0.1)(rng)) {
    return {0, std::uniform_int_distribution<std::uint32_t>(0, 300'000)(rng)};
  }
  return {std::uniform_int_distribution<std::uint32_t>(1, 40)(rng),
          std::uniform_int_distribution<std::uint32_t>(0, 5'000)(rng)};
}

void History::Add(const std::vector<Ack>& acks) {
  for (const Ack& a : acks) {
    acks_.push_back(a);
    last_ = std::max({last_, a.revision, a.checkpoint_size});
    if (a.MadeToken())
      tokens_.push_back({a.subject, a.owner, a.op, a.method, a.secret, a.revision});
  }
  std::stable_sort(acks_.begin(), acks_.end(),
                   [](const Ack& a, const Ack& b) { return a.revision < b.revision; });
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
