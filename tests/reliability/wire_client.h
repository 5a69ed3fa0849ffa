// The server crash test's client of `authledger serve` (tools/server): a request of the
// wire API (schema/wire.capnp) described once, as its member of Request.body and that
// member's fields in JSON, and sent either over the binary protocol (a whole batch
// pipelined in one write, the answers read back in order) or over HTTP/JSON (each
// request on its route, one after the other on a keep-alive connection). Answers are
// reduced to what the crash test needs.
//
// Blocking sockets on 127.0.0.1. When the connection fails (the server was killed), a
// call ends with the answers received so far and says why it stopped; the connection is
// of no use after that.
//
// Thread-safety: a connection is used by one thread at a time.
#pragma once

#include <authledger/status.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace authledger::testing {

struct WireRequest {
  explicit WireRequest(std::string member_name) : member(std::move(member_name)) {}

  // The member of Request.body, by its JSON name ("record_login", "checkpoint").
  std::string member;
  struct Field {
    std::string name;  // its JSON name
    std::string json;  // its value as JSON
    std::string text;  // its value as an HTTP path or query parameter
  };
  std::vector<Field> fields;
  // Whom a command is for (on_behalf_of); an empty user = the API key itself.
  std::string user;
  bool as_admin = false;
  std::string ip;

  WireRequest& Str(const std::string& name, const std::string& value);
  WireRequest& Strs(const std::string& name, const std::vector<std::string>& values);
  WireRequest& Bool(const std::string& name, bool value);
  WireRequest& Num(const std::string& name, std::uint64_t value);
  WireRequest& As(std::string user_id, std::string from_ip = {}, bool admin = false);
};

// One answer, whatever its kind: the fields its kind fills, the others left empty.
struct WireAnswer {
  std::string error;           // the error's reason; empty for a success
  std::uint64_t revision = 0;  // commands; health: the engine's revision
  std::string token_prefix;    // created tokens
  std::string secret;          // created tokens (never printed)
  bool allowed = false;        // decisions
  std::string reason;          // decisions
  std::uint64_t size = 0;      // checkpoints
  std::string root;            // checkpoints
};

struct WireReply {
  std::vector<WireAnswer> answers;  // in the order of the requests; fewer if it broke
  std::string broken;               // why the connection failed; empty if all answered
};

class WireConnection {
 public:
  virtual ~WireConnection() = default;
  // Sends `requests` and reads their answers.
  virtual WireReply Call(const std::vector<WireRequest>& requests) = 0;
};

// A connection to 127.0.0.1:`port`, binary (authenticated with `api_key` before it is
// returned) or HTTP (the key goes with every request). connect_failed if the server is
// not there; authentication_failed if it refuses the key.
Result<std::unique_ptr<WireConnection>> ConnectBinary(std::uint16_t port,
                                                      const std::string& api_key);
Result<std::unique_ptr<WireConnection>> ConnectHttp(std::uint16_t port, const std::string& api_key);

}  // namespace authledger::testing
