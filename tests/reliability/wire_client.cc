#include "tests/reliability/wire_client.h"

#include <capnp/message.h>
#include <capnp/schema.h>
#include <capnp/serialize.h>

#include <array>
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <cctype>
#include <cstdlib>
#include <iostream>
#include <string_view>

#include "replay/json_writer.h"
#include "schema/wire.capnp.h"
#include "tools/server/frame_protocol.h"
#include "tools/server/wire_json.h"

namespace authledger::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// A request this client cannot even encode is a mistake in the test, not the server's.
[[noreturn]] void Bug(const std::string& what) {
  std::cerr << "wire client: " << what << std::endl;
  std::abort();
}

// What the HTTP API does with a member of Request.body (tools/server/dispatch.h): its
// route, whether the fields its path leaves go in a JSON body (else in the query), and
// the member of Response.body its answer is.
struct Route {
  std::string_view member;
  http::verb method;
  std::string_view path;
  bool body;
  std::string_view answer;
};

constexpr std::array kRoutes = {
    Route{"create_organization", http::verb::post, "/v1/organization", true, "revision"},
    Route{"verify_domain", http::verb::post, "/v1/organization/{org_id}/domain", true, "revision"},
    Route{"unverify_domain", http::verb::delete_, "/v1/organization/{org_id}/domain/{domain}",
          false, "revision"},
    Route{"add_idp", http::verb::post, "/v1/organization/{org_id}/idp", true, "revision"},
    Route{"remove_idp", http::verb::delete_, "/v1/organization/{org_id}/idp/{idp_id}", false,
          "revision"},
    Route{"register_user", http::verb::post, "/v1/user", true, "revision"},
    Route{"add_member", http::verb::put, "/v1/organization/{org_id}/member/{user_id}", false,
          "revision"},
    Route{"remove_member", http::verb::delete_, "/v1/organization/{org_id}/member/{user_id}", false,
          "revision"},
    Route{"deactivate_user", http::verb::post,
          "/v1/organization/{org_id}/member/{user_id}/deactivate", false, "revision"},
    Route{"reactivate_user", http::verb::post,
          "/v1/organization/{org_id}/member/{user_id}/reactivate", false, "revision"},
    Route{"create_application_user", http::verb::post, "/v1/organization/{org_id}/application-user",
          true, "revision"},
    Route{"delete_application_user", http::verb::delete_,
          "/v1/organization/{org_id}/application-user/{user_id}", false, "revision"},
    Route{"create_application_token", http::verb::post,
          "/v1/organization/{org_id}/application-user/{app_user_id}/token", true, "created_token"},
    Route{"enable_two_factor", http::verb::post, "/v1/user/{user_id}/two-factor/enable", false,
          "revision"},
    Route{"disable_two_factor", http::verb::post, "/v1/user/{user_id}/two-factor/disable", false,
          "revision"},
    Route{"expire_user_tokens", http::verb::post, "/v1/user/{user_id}/expire-tokens", false,
          "revision"},
    Route{"update_policy", http::verb::patch, "/v1/organization/{org_id}/config/authentication",
          true, "policy_change"},
    Route{"update_ip_allowlist", http::verb::put,
          "/v1/organization/{org_id}/config/api-client-ip-allowlist", true, "allowlist"},
    Route{"record_login", http::verb::post, "/v1/login", true, "created_token"},
    Route{"end_session", http::verb::delete_, "/v1/session/{session_prefix}", false, "revision"},
    Route{"create_personal_token", http::verb::post, "/v1/session/{session_prefix}/token", true,
          "created_token"},
    Route{"revoke_token", http::verb::delete_, "/v1/token/{token_prefix}", false, "revision"},
    Route{"check_token", http::verb::post, "/v1/check", true, "decision"},
    Route{"checkpoint", http::verb::get, "/v1/log/checkpoint", false, "checkpoint"},
    Route{"health", http::verb::get, "/healthz", false, "health"},
};

const Route& RouteOf(const std::string& member) {
  for (const Route& r : kRoutes) {
    if (r.member == member) return r;
  }
  Bug("no HTTP route for " + member);
}

// Percent-encodes all but the unreserved characters of RFC 3986.
std::string Escape(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      out += {'%', kHex[u >> 4], kHex[u & 15]};
    }
  }
  return out;
}

std::string FieldsJson(const std::vector<WireRequest::Field>& fields) {
  replay::JsonObject object;
  for (const auto& f : fields) object.Raw(f.name, f.json);
  return object.Done();
}

// The schema's name of a member of Request.body, from its JSON name ("record_login" is
// recordLogin).
std::string SchemaName(std::string_view json_name) {
  std::string out;
  bool upper = false;
  for (char c : json_name) {
    if (c == '_') {
      upper = true;
    } else {
      out.push_back(upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c);
      upper = false;
    }
  }
  return out;
}

// The request as wire::Request JSON, with `id`.
std::string RequestJson(const WireRequest& r, std::uint64_t id) {
  replay::JsonObject request;
  request.Num("id", id);
  if (!r.user.empty()) {
    replay::JsonObject on_behalf;
    on_behalf.Str("user_id", r.user).Bool("as_admin", r.as_admin);
    if (!r.ip.empty()) on_behalf.Str("ip", r.ip);
    request.Raw("on_behalf_of", on_behalf.Done());
  }
  const auto field =
      capnp::Schema::from<wire::Request::Body>().findFieldByName(SchemaName(r.member));
  KJ_IF_MAYBE (f, field) {
    const std::string value = f->getType().isVoid() ? "null" : FieldsJson(r.fields);
    request.Raw("body", replay::JsonObject().Raw(r.member, value).Done());
    return request.Done();
  }
  Bug("no request member " + r.member);
}

WireAnswer AnswerOf(wire::Response::Reader response) {
  WireAnswer a;
  auto body = response.getBody();
  switch (body.which()) {
    case wire::Response::Body::ERROR:
      a.error = body.getError().getReason().cStr();
      if (a.error.empty()) a.error = "error_without_reason";
      break;
    case wire::Response::Body::REVISION:
      a.revision = body.getRevision().getRevision();
      break;
    case wire::Response::Body::CREATED_TOKEN: {
      auto t = body.getCreatedToken();
      a.revision = t.getRevision();
      a.token_prefix = t.getTokenPrefix().cStr();
      a.secret = t.getSecret().cStr();
      break;
    }
    case wire::Response::Body::DECISION: {
      auto d = body.getDecision();
      a.allowed = d.getAllowed();
      a.reason = d.getReason().cStr();
      a.revision = d.getRevision();
      break;
    }
    case wire::Response::Body::POLICY_CHANGE:
      a.revision = body.getPolicyChange().getRevision();
      break;
    case wire::Response::Body::ALLOWLIST:
      a.revision = body.getAllowlist().getRevision();
      break;
    case wire::Response::Body::CHECKPOINT:
      a.size = body.getCheckpoint().getSize();
      a.root = body.getCheckpoint().getRoot().cStr();
      break;
    case wire::Response::Body::HEALTH:
      a.revision = body.getHealth().getRevision();
      break;
    case wire::Response::Body::AUTHENTICATED:
      break;
    default:
      a.error = "unexpected_answer";
      break;
  }
  return a;
}

class BinaryConnection : public WireConnection {
 public:
  explicit BinaryConnection(std::uint16_t port) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec_);
  }
  bool connected() const { return !ec_; }
  std::string failure() const { return ec_.message(); }

  WireReply Call(const std::vector<WireRequest>& requests) override {
    WireReply reply;
    std::string out;
    for (std::size_t i = 0; i < requests.size(); ++i) {
      capnp::MallocMessageBuilder message;
      auto request = message.initRoot<wire::Request>();
      const std::string json = RequestJson(requests[i], ++next_id_);
      if (Status s = server::DecodeJson(json, capnp::toDynamic(request)); !s.ok()) {
        Bug("cannot encode " + requests[i].member + ": " + s.ToString());
      }
      server::AppendFrame(message, out);
    }
    const std::uint64_t first_id = next_id_ - requests.size() + 1;
    asio::write(socket_, asio::buffer(out), ec_);
    while (!ec_ && reply.answers.size() < requests.size()) {
      std::array<unsigned char, 4> header{};
      asio::read(socket_, asio::buffer(header), ec_);
      if (ec_) break;
      const std::size_t n =
          header[0] | header[1] << 8 | header[2] << 16 | static_cast<std::size_t>(header[3]) << 24;
      auto words = kj::heapArray<capnp::word>(n / sizeof(capnp::word));
      asio::read(socket_, asio::buffer(words.begin(), n), ec_);
      if (ec_) break;
      capnp::FlatArrayMessageReader reader(words);
      auto response = reader.getRoot<wire::Response>();
      WireAnswer a = AnswerOf(response);
      if (response.getId() != first_id + reply.answers.size()) a.error = "answer_out_of_order";
      reply.answers.push_back(std::move(a));
    }
    if (ec_) reply.broken = ec_.message();
    return reply;
  }

 private:
  asio::io_context ioc_;
  tcp::socket socket_{ioc_};
  beast::error_code ec_;
  std::uint64_t next_id_ = 0;
};

class HttpConnection : public WireConnection {
 public:
  HttpConnection(std::uint16_t port, std::string api_key) : api_key_(std::move(api_key)) {
    stream_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec_);
  }
  bool connected() const { return !ec_; }
  std::string failure() const { return ec_.message(); }

  WireReply Call(const std::vector<WireRequest>& requests) override {
    WireReply reply;
    for (const WireRequest& r : requests) {
      http::response<http::string_body> res;
      http::write(stream_, Http(r), ec_);
      if (!ec_) http::read(stream_, buffer_, res, ec_);
      if (ec_) break;
      const bool ok = res.result() == http::status::ok;
      const std::string answer(ok ? RouteOf(r.member).answer : "error");
      capnp::MallocMessageBuilder message;
      auto response = message.initRoot<wire::Response>();
      const std::string json = "{\"body\":{\"" + answer + "\":" + res.body() + "}}";
      WireAnswer a;
      if (server::DecodeJson(json, capnp::toDynamic(response)).ok()) {
        a = AnswerOf(response.asReader());
      } else {
        a.error = "answer_not_understood";
      }
      if (!ok && a.error.empty()) a.error = "error_without_reason";
      if (res.result_int() >= 500) a.error = "http_" + std::to_string(res.result_int());
      reply.answers.push_back(std::move(a));
    }
    if (ec_) reply.broken = ec_.message();
    return reply;
  }

 private:
  http::request<http::string_body> Http(const WireRequest& r) const {
    const Route& route = RouteOf(r.member);
    std::string target(route.path);
    std::vector<WireRequest::Field> rest;
    for (const auto& f : r.fields) {
      const std::string placeholder = "{" + f.name + "}";
      if (const auto at = target.find(placeholder); at != std::string::npos) {
        target.replace(at, placeholder.size(), Escape(f.text));
      } else {
        rest.push_back(f);
      }
    }
    if (!route.body && !rest.empty()) {
      char separator = '?';
      for (const auto& f : rest) {
        target += separator + Escape(f.name) + "=" + Escape(f.text);
        separator = '&';
      }
    }
    http::request<http::string_body> req{route.method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::authorization, "Bearer " + api_key_);
    if (!r.user.empty()) {
      req.set("X-On-Behalf-Of", r.user);
      if (r.as_admin) req.set("X-As-Admin", "true");
    }
    if (!r.ip.empty()) req.set("X-Client-IP", r.ip);
    if (route.body) {
      req.set(http::field::content_type, "application/json");
      req.body() = FieldsJson(rest);
    }
    req.prepare_payload();
    return req;
  }

  const std::string api_key_;
  asio::io_context ioc_;
  beast::tcp_stream stream_{ioc_};
  beast::flat_buffer buffer_;
  beast::error_code ec_;
};

}  // namespace

WireRequest& WireRequest::Str(const std::string& name, const std::string& value) {
  fields.push_back({name, replay::JsonString(value), value});
  return *this;
}

WireRequest& WireRequest::Strs(const std::string& name, const std::vector<std::string>& values) {
  replay::JsonArray array;
  std::string text;
  for (const std::string& v : values) {
    array.Str(v);
    text += (text.empty() ? "" : ",") + v;
  }
  fields.push_back({name, array.Done(), text});
  return *this;
}

WireRequest& WireRequest::Bool(const std::string& name, bool value) {
  fields.push_back({name, value ? "true" : "false", value ? "true" : "false"});
  return *this;
}

WireRequest& WireRequest::Num(const std::string& name, std::uint64_t value) {
  fields.push_back({name, std::to_string(value), std::to_string(value)});
  return *this;
}

WireRequest& WireRequest::As(std::string user_id, std::string from_ip, bool admin) {
  user = std::move(user_id);
  ip = std::move(from_ip);
  as_admin = admin;
  return *this;
}

Result<std::unique_ptr<WireConnection>> ConnectBinary(std::uint16_t port,
                                                      const std::string& api_key) {
  auto connection = std::make_unique<BinaryConnection>(port);
  if (!connection->connected()) {
    return Status::Unavailable(
        "connect_failed", "binary port " + std::to_string(port) + ": " + connection->failure());
  }
  WireRequest authenticate("authenticate");
  authenticate.Str("api_key", api_key);
  WireReply reply = connection->Call({authenticate});
  if (!reply.broken.empty()) return Status::Unavailable("connect_failed", reply.broken);
  if (!reply.answers.front().error.empty()) {
    return Status::PermissionDenied("authentication_failed", reply.answers.front().error);
  }
  return std::unique_ptr<WireConnection>(std::move(connection));
}

Result<std::unique_ptr<WireConnection>> ConnectHttp(std::uint16_t port,
                                                    const std::string& api_key) {
  auto connection = std::make_unique<HttpConnection>(port, api_key);
  if (!connection->connected()) {
    return Status::Unavailable("connect_failed",
                               "HTTP port " + std::to_string(port) + ": " + connection->failure());
  }
  return std::unique_ptr<WireConnection>(std::move(connection));
}

}  // namespace authledger::testing
