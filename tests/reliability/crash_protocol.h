// The lines the crash workloads (crash_workload.cc, server_crash_workload.cc) write to
// their parent, one per acknowledged fact, each in a single write(2) so that a SIGKILL
// never leaves half a line that parses:
//
//   O <revision>                                   the engine opened at this revision (the
//                                                  server's, when the workload first asked)
//   A <rev> <size> <root> <op> <subject>           a command was acknowledged at <rev>;
//                                                  the log's checkpoint right after it was
//                                                  (<size>, <root>); size 0 and root "-"
//                                                  when the server died before answering
//                                                  the checkpoint request that followed
//   A … <op> <prefix> <owner> <method> <secret>    the same for a command that made a token
//                                                  (op = session, personal or application)
//
// <subject> is what the command was about: an org, a user, a token prefix. The pipe is
// the only place a secret travels; the parent never prints one.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <sstream>
#include <string>

namespace authledger::testing {

// What one acknowledged command told the parent.
struct Ack {
  std::uint64_t revision = 0;
  std::uint64_t checkpoint_size = 0;
  std::string checkpoint_root;
  std::string op;
  std::string subject;  // the token prefix for the token ops
  // Token ops only.
  std::string owner;
  std::string method;
  std::string secret;

  bool MadeToken() const { return op == "session" || op == "personal" || op == "application"; }
  bool HasCheckpoint() const { return checkpoint_size != 0; }
};

// The checkpoint root of an Ack whose checkpoint is unknown.
constexpr const char* kNoCheckpointRoot = "-";

inline std::string FormatAck(const Ack& a) {
  std::string line = "A " + std::to_string(a.revision) + " " + std::to_string(a.checkpoint_size) +
                     " " + a.checkpoint_root + " " + a.op + " " + a.subject;
  if (a.MadeToken()) line += " " + a.owner + " " + a.method + " " + a.secret;
  return line + "\n";
}

inline std::string FormatOpened(std::uint64_t revision) {
  return "O " + std::to_string(revision) + "\n";
}

// One parsed line: an Ack, or the revision the engine opened at.
struct ProtocolLine {
  std::optional<Ack> ack;
  std::optional<std::uint64_t> opened_at;
};

// nullopt if `line` (without its newline) is not a line of the protocol.
inline std::optional<ProtocolLine> ParseLine(const std::string& line) {
  std::istringstream in(line);
  std::string tag;
  in >> tag;
  ProtocolLine out;
  if (tag == "O") {
    std::uint64_t revision = 0;
    if (!(in >> revision)) return std::nullopt;
    out.opened_at = revision;
    return out;
  }
  if (tag != "A") return std::nullopt;
  Ack a;
  if (!(in >> a.revision >> a.checkpoint_size >> a.checkpoint_root >> a.op >> a.subject)) {
    return std::nullopt;
  }
  if (a.MadeToken() && !(in >> a.owner >> a.method >> a.secret)) return std::nullopt;
  std::string extra;
  if (in >> extra) return std::nullopt;
  out.ack = std::move(a);
  return out;
}

}  // namespace authledger::testing
