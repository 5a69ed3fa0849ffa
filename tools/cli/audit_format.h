// Shared pieces of the auditors' subcommands (audit_commands.cc, replay_commands.cc):
// parsing moments and times, the text and JSON forms of audit results, and running a
// subcommand against an Auditor with its errors reported the CLI's way.
//
// Thread-safety: pure functions, except Run (it writes to io).
#pragma once

#include <authledger/audit.h>

#include <CLI/CLI.hpp>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "tools/cli/commands.h"

namespace authledger::cli {

// "123" is a seq; anything else must be an RFC 3339 time; "" is now (the end of the log).
Result<Moment> ParseMoment(const std::string& text);
Result<std::int64_t> ParseTimeArg(const std::string& text);

std::string Time(std::int64_t us);  // RFC 3339, "-" for 0
std::string Yes(bool b);
std::string Allowed(bool allowed, const std::string& reason);
std::string Seq(std::uint64_t seq);  // "-" for 0
std::string ActorText(const std::string& kind, const std::string& id);
// "field: before → after" ("created"/"removed" for a whole entity); a list joined by "; ".
std::string ChangeText(const FieldChange& c);
std::string ChangesText(const std::vector<FieldChange>& changes);
void PrintImpact(std::ostream& out, const std::vector<ImpactEntry>& impact);

std::string PolicyJson(const AuthenticationPolicy& p);
std::string ChangesJson(const std::vector<FieldChange>& changes);
std::string EventJsonOf(const AuditEvent& e);
std::string DecisionJson(const Decision& d);
std::string ImpactJson(const std::vector<ImpactEntry>& impact);

// Options every auditors' subcommand takes.
struct Common {
  std::string data = kDefaultDataDir;
  bool json = false;
  std::string server;           // --server URL: ask a running server instead
  RemoteAuditorFactory remote;  // how to reach one (set when the build has a client)
};
void AddCommon(CLI::App* cmd, Common& c);
// --server URL (the API key from the environment variable AUTHLEDGER_API_KEY), when
// `remote` can reach a server.
void AddServer(CLI::App* cmd, Common& c, RemoteAuditorFactory remote);

// Runs `body` with an Auditor on c.data, or on c.server (a progress bar on a terminal
// if `progress`); reports a failed Status as "authledger: <reason>: <message>" with
// exit code 1.
void Run(CommandIo io, int* exit_code, const Common& c, bool progress,
         const std::function<Status(Auditor&)>& body);

}  // namespace authledger::cli
