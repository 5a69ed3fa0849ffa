// What the two crash workloads share (crash_workload.cc runs its commands through the
// engine, server_crash_workload.cc through the server): the small fixed universe of
// names they act on, the random choices of a command's arguments, and how a line goes
// to the parent.
//
// The universe (3 organizations, 10 users, 4 application users) is small so that a run
// on a directory an earlier run left behind keeps working on the same entities;
// commands the state refuses (a user registered twice, …) append nothing and are simply
// not reported.
//
// Thread-safety: the functions are pure or write with one write(2); a Dice is used by
// one thread.
#pragma once

#include <authledger/engine.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <random>
#include <string>
#include <vector>

namespace authledger::testing {

constexpr int kOrgs = 3;
constexpr int kUsers = 10;
constexpr int kApps = 4;

inline std::string Org(int i) { return "o" + std::to_string(i); }
inline std::string Domain(int i) { return "d" + std::to_string(i) + ".example"; }
inline std::string Idp(int i) { return "idp" + std::to_string(i); }
inline std::string UserId(int j) { return "u" + std::to_string(j); }
// Users of domains d0..d2 are managed by o0..o2; those of d3 by nobody.
inline std::string Email(int j) { return UserId(j) + "@" + Domain(j % 4); }
inline std::string App(int j) { return "a" + std::to_string(j); }
inline std::string AppOrg(int j) { return Org(j % kOrgs); }

// Login methods, password twice as likely as each other.
constexpr std::array<const char*, 7> kLoginMethods = {
    "password", "password", "oauth:google", "oauth:github", "saml:idp0", "saml:idp1", "saml:idp2"};

// A token a workload made, with its secret (only the workload that made it knows it).
struct Token {
  std::string prefix;
  std::string owner;
  std::string kind;  // session, personal, application
  std::string method;
  std::string secret;
};

// The administrator the workloads act as, and the address users act from.
constexpr const char* kAdminId = "root";
constexpr const char* kAdminIp = "198.51.100.1";
constexpr const char* kUserIp = "203.0.113.5";

inline std::int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Ends the workload with status 3 after saying why (never with a secret).
[[noreturn]] inline void Die(const std::string& why) {
  std::cerr << program_invocation_short_name << ": " << why << std::endl;
  std::_Exit(3);
}

// Writes a whole line to standard output with one write(2) (a pipe writes up to PIPE_BUF
// bytes atomically, so lines from several threads never mix).
inline void WriteLine(const std::string& line) {
  std::size_t done = 0;
  while (done < line.size()) {
    ssize_t n = ::write(STDOUT_FILENO, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) Die("writing to the parent failed: " + std::string(std::strerror(errno)));
    done += static_cast<std::size_t>(n);
  }
}

// The workloads' random choices.
class Dice {
 public:
  explicit Dice(std::uint64_t seed) : rng_(seed) {}

  int Pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  bool Coin(double p = 0.5) { return std::bernoulli_distribution(p)(rng_); }

  // A partial policy update: each field set or left alone at random.
  PolicyUpdate Policy() {
    PolicyUpdate u;
    auto maybe = [&](std::optional<bool>& field) {
      if (Coin(0.3)) field = Coin();
    };
    maybe(u.password_auth_enabled);
    maybe(u.two_factor_required);
    maybe(u.oauth_enabled);
    maybe(u.saml_enabled);
    maybe(u.saml_allow_external);
    maybe(u.personal_tokens_enabled);
    maybe(u.personal_tokens_require_allowed_auth_method);
    if (Coin(0.2)) {
      std::vector<std::string> providers;
      for (const char* p : {"github", "google", "microsoft"}) {
        if (Coin()) providers.emplace_back(p);
      }
      u.oauth_providers = providers;
    }
    u.force = Coin(0.1);
    return u;
  }

  TokenSpec Spec() {
    TokenSpec spec;
    if (Coin(0.3)) spec.description = "crash workload token";
    if (Coin(0.3)) spec.max_age_seconds = 3600;
    if (Coin(0.2)) spec.ip_allowlist = {"203.0.113.0/24"};
    if (Coin(0.2)) spec.scopes = {"project:read"};
    return spec;
  }

  // The CIDRs of an allowlist update; one in five shuts the administrator out (refused).
  std::vector<std::string> AllowlistCidrs() {
    std::vector<std::string> cidrs = {"198.51.100.0/24"};
    if (Coin()) cidrs.emplace_back("203.0.113.0/24");
    if (Coin(0.2)) cidrs = {"10.0.0.0/8"};
    return cidrs;
  }

 private:
  std::mt19937_64 rng_;
};

}  // namespace authledger::testing
