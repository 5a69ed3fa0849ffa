#include "tools/server/remote_auditor.h"

#include <utility>
//
#include <capnp/message.h>

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <chrono>

#include "engine/state.h"
#include "replay/event_json.h"
#include "tools/server/wire_json.h"

namespace authledger::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::string Str(capnp::Text::Reader t) { return {t.cStr(), t.size()}; }

std::vector<std::string> Strs(capnp::List<capnp::Text>::Reader list) {
  std::vector<std::string> out;
  for (auto t : list) out.push_back(Str(t));
  return out;
}

// Percent-encodes a path segment or query value.
std::string Escape(const std::string& text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

Status FromHttp(unsigned status, const std::string& reason, const std::string& message) {
  switch (status) {
    case 400:
      return Status::InvalidArgument(reason, message);
    case 401:
    case 403:
      return Status::PermissionDenied(reason, message);
    case 404:
      return Status::NotFound(reason, message);
    case 409:
      return Status::Conflict(reason, message);
    case 422:
      return Status::FailedPrecondition(reason, message);
    case 503:
      return Status::Unavailable(reason, message);
    default:
      return Status::IoError(reason, message);
  }
}

ImpactEntry ImpactOf(wire::ImpactEntry::Reader e) {
  return {Str(e.getTokenPrefix()), Str(e.getUserId()),       Str(e.getOrgId()),
          e.getAllowedBefore(),    Str(e.getReasonBefore()), e.getAllowedAfter(),
          Str(e.getReasonAfter())};
}

std::vector<ImpactEntry> ImpactsOf(capnp::List<wire::ImpactEntry>::Reader list) {
  std::vector<ImpactEntry> out;
  for (auto e : list) out.push_back(ImpactOf(e));
  return out;
}

Decision DecisionOf(wire::Decision::Reader d) {
  return {d.getAllowed(),     Str(d.getReason()), Str(d.getRule()), Str(d.getTokenPrefix()),
          Str(d.getUserId()), Str(d.getOrgId()),  d.getRevision()};
}

class RemoteAuditor final : public Auditor {
 public:
  RemoteAuditor(std::string host, std::string port, std::string key)
      : host_(std::move(host)), port_(std::move(port)), key_(std::move(key)) {}

  // GET (or PATCH with a body) `target`; on 200 decodes the answer into `member` of a
  // Response held by `message`.
  Status Call(http::verb method, const std::string& target, const std::string& body,
              const char* member, capnp::MallocMessageBuilder& message) const {
    try {
      asio::io_context ioc;
      tcp::resolver resolver(ioc);
      beast::tcp_stream stream(ioc);
      stream.expires_after(std::chrono::seconds(60));
      stream.connect(resolver.resolve(host_, port_));
      http::request<http::string_body> req{method, target, 11};
      req.set(http::field::host, host_);
      req.set(http::field::authorization, "Bearer " + key_);
      if (!body.empty()) {
        req.set(http::field::content_type, "application/json");
        req.body() = body;
      }
      req.prepare_payload();
      http::write(stream, req);
      beast::flat_buffer buffer;
      http::response_parser<http::string_body> parser;
      parser.body_limit(256 * 1024 * 1024);
      http::read(stream, buffer, parser);
      auto& res = parser.get();
      beast::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_both, ignored);

      auto response = message.initRoot<wire::Response>();
      auto dynamic_body = capnp::toDynamic(response).get("body").as<capnp::DynamicStruct>();
      if (res.result_int() != 200) {
        auto error = response.getBody().initError();
        if (!DecodeJson(res.body(), capnp::toDynamic(error)).ok()) {
          return FromHttp(res.result_int(), "server_error",
                          "HTTP " + std::to_string(res.result_int()));
        }
        return FromHttp(res.result_int(), Str(error.getReason()), Str(error.getMessage()));
      }
      auto field = dynamic_body.getSchema().getFieldByName(member);
      auto out = dynamic_body.init(field).as<capnp::DynamicStruct>();
      return DecodeJson(res.body(), out);
    } catch (const std::exception& e) {
      return Status::Unavailable("server_unreachable",
                                 "http://" + host_ + ":" + port_ + ": " + e.what());
    }
  }

  std::uint64_t size() const override {
    capnp::MallocMessageBuilder m;
    if (!Call(http::verb::get, "/v1/log/checkpoint", "", "checkpoint", m).ok()) return 0;
    return m.getRoot<wire::Response>().getBody().getCheckpoint().getSize();
  }

  Result<std::uint64_t> SeqOf(const Moment& at) const override {
    if (at.seq) return *at.seq;
    return NotServed("a time's seq");
  }
  Result<StateSummary> StateAt(const Moment&) const override { return NotServed("replay --to"); }
  Status Step(std::uint64_t, std::uint64_t,
              const std::function<bool(const StepEntry&)>&) const override {
    return NotServed("replay --step");
  }
  Result<std::vector<FieldChange>> Diff(const Moment&, const Moment&) const override {
    return NotServed("replay --diff");
  }

  Result<std::vector<PolicyVersion>> PolicyHistory(const std::string& org_id, std::int64_t from_us,
                                                   std::int64_t to_us) const override {
    capnp::MallocMessageBuilder m;
    const std::string target = "/v1/audit/policy/" + Escape(org_id) +
                               "?from_us=" + std::to_string(from_us) +
                               "&to_us=" + std::to_string(to_us);
    if (Status s = Call(http::verb::get, target, "", "policyHistory", m); !s.ok()) return s;
    std::vector<PolicyVersion> out;
    for (auto v : m.getRoot<wire::Response>().getBody().getPolicyHistory().getVersions()) {
      PolicyVersion p;
      p.seq = v.getSeq();
      p.time_us = v.getTimeUs();
      p.actor_kind = Str(v.getActorKind());
      p.actor_id = Str(v.getActorId());
      p.forced = v.getForced();
      p.policy = internal::PolicyFromSchema(v.getPolicy());
      for (auto c : v.getChanges()) {
        p.changes.push_back(
            {Str(c.getEntity()), Str(c.getField()), Str(c.getBefore()), Str(c.getAfter())});
      }
      out.push_back(std::move(p));
    }
    return out;
  }

  Result<AuthenticationPolicy> PolicyAt(const std::string& org_id,
                                        const Moment& at) const override {
    capnp::MallocMessageBuilder m;
    if (Status s = Call(http::verb::get, "/v1/audit/policy/" + Escape(org_id) + "/at" + Query(at),
                        "", "policy", m);
        !s.ok()) {
      return s;
    }
    return internal::PolicyFromSchema(m.getRoot<wire::Response>().getBody().getPolicy());
  }

  Result<TokenReport> Token(const std::string& token_prefix, const std::string& ip) const override {
    capnp::MallocMessageBuilder m;
    std::string target = "/v1/audit/token/" + Escape(token_prefix);
    if (!ip.empty()) target += "?ip=" + Escape(ip);
    if (Status s = Call(http::verb::get, target, "", "tokenReport", m); !s.ok()) return s;
    auto t = m.getRoot<wire::Response>().getBody().getTokenReport();
    TokenReport r;
    r.token_prefix = Str(t.getTokenPrefix());
    r.kind = Str(t.getKind());
    r.owner_user_id = Str(t.getOwnerUserId());
    r.org_id = Str(t.getOrgId());
    r.method = Str(t.getMethod());
    r.session_prefix = Str(t.getSessionPrefix());
    r.created_seq = t.getCreatedSeq();
    r.created_us = t.getCreatedUs();
    r.created_by_kind = Str(t.getCreatedByKind());
    r.created_by_id = Str(t.getCreatedById());
    r.expiry_time_us = t.getExpiryTimeUs();
    r.max_age_seconds = t.getMaxAgeSeconds();
    r.extend_when_used = t.getExtendWhenUsed();
    r.ip_allowlist = Strs(t.getIpAllowlist());
    r.uses = t.getUses();
    r.last_used_us = t.getLastUsedUs();
    r.last_ip = Str(t.getLastIp());
    r.revoked = t.getRevoked();
    r.revoked_seq = t.getRevokedSeq();
    r.revoked_us = t.getRevokedUs();
    r.revocation_reason = Str(t.getRevocationReason());
    r.revocation_cause = t.getRevocationCause();
    r.revocation_cause_type = Str(t.getRevocationCauseType());
    for (auto a : t.getIntervals()) {
      r.intervals.push_back({Str(a.getOrgId()), a.getAllowed(), Str(a.getReason()), a.getFromSeq(),
                             a.getFromUs(), Str(a.getOpenedBy()), a.getToSeq(), a.getToUs(),
                             Str(a.getClosedBy())});
    }
    return r;
  }

  Result<Explanation> Explain(const std::string& token_prefix, const std::string& org_id,
                              const Moment& at, std::optional<std::int64_t> time_us,
                              const std::string& ip) const override {
    std::string query = "?";
    if (at.seq) query += "at_seq=" + std::to_string(*at.seq) + "&";
    if (at.time_us) query += "at_us=" + std::to_string(*at.time_us) + "&";
    if (time_us) query += "time_us=" + std::to_string(*time_us) + "&";
    if (!ip.empty()) query += "ip=" + Escape(ip) + "&";
    query.pop_back();
    capnp::MallocMessageBuilder m;
    if (Status s = Call(http::verb::get,
                        "/v1/audit/explain/" + Escape(token_prefix) + "/" + Escape(org_id) + query,
                        "", "explanation", m);
        !s.ok()) {
      return s;
    }
    auto e = m.getRoot<wire::Response>().getBody().getExplanation();
    Explanation out;
    out.decision = DecisionOf(e.getDecision());
    for (auto t : e.getTrace()) {
      out.trace.push_back({Str(t.getCondition()), t.getPassed(), Str(t.getDetail())});
    }
    return out;
  }

  Result<std::vector<ImpactEntry>> Impact(std::uint64_t seq) const override {
    capnp::MallocMessageBuilder m;
    if (Status s =
            Call(http::verb::get, "/v1/audit/impact/" + std::to_string(seq), "", "impact", m);
        !s.ok()) {
      return s;
    }
    return ImpactsOf(m.getRoot<wire::Response>().getBody().getImpact().getImpact());
  }

  Result<PolicyChange> DryRunPolicy(const std::string& org_id,
                                    const PolicyUpdate& update) const override {
    capnp::MallocMessageBuilder request;
    auto u = request.initRoot<wire::UpdatePolicy>();
    auto flag = [](const std::optional<bool>& v, auto init) {
      if (v) init().setValue(*v);
    };
    flag(update.password_auth_enabled, [&] { return u.initPasswordAuthEnabled(); });
    flag(update.two_factor_required, [&] { return u.initTwoFactorRequired(); });
    flag(update.oauth_enabled, [&] { return u.initOauthEnabled(); });
    if (update.oauth_providers) {
      auto list = u.initOauthProviders(static_cast<unsigned>(update.oauth_providers->size()));
      for (unsigned i = 0; i < list.size(); ++i) list.set(i, (*update.oauth_providers)[i]);
    }
    flag(update.saml_enabled, [&] { return u.initSamlEnabled(); });
    flag(update.saml_allow_external, [&] { return u.initSamlAllowExternal(); });
    flag(update.personal_tokens_enabled, [&] { return u.initPersonalTokensEnabled(); });
    flag(update.personal_tokens_require_allowed_auth_method,
         [&] { return u.initPersonalTokensRequireAllowedAuthMethod(); });
    if (update.expected_version) u.setExpectedVersion(*update.expected_version);
    u.setForce(update.force);
    u.setDryRun(true);
    capnp::MallocMessageBuilder m;
    if (Status s =
            Call(http::verb::patch, "/v1/organization/" + Escape(org_id) + "/config/authentication",
                 EncodeJson(capnp::toDynamic(u.asReader())), "policyChange", m);
        !s.ok()) {
      return s;
    }
    auto c = m.getRoot<wire::Response>().getBody().getPolicyChange();
    PolicyChange out;
    out.before = internal::PolicyFromSchema(c.getPrevious());
    out.after = internal::PolicyFromSchema(c.getPolicy());
    out.impact = ImpactsOf(c.getImpact());
    out.revision = c.getRevision();
    return out;
  }

  Result<WhoReport> Who(const std::string& org_id, const Moment& at) const override {
    capnp::MallocMessageBuilder m;
    if (Status s =
            Call(http::verb::get, "/v1/audit/who/" + Escape(org_id) + Query(at), "", "who", m);
        !s.ok()) {
      return s;
    }
    auto w = m.getRoot<wire::Response>().getBody().getWho();
    WhoReport out;
    out.seq = w.getSeq();
    out.time_us = w.getTimeUs();
    out.org_id = Str(w.getOrgId());
    for (auto u : w.getUsers()) {
      out.users.push_back({Str(u.getUserId()), Str(u.getEmail()), u.getActive(), u.getManaged(),
                           Strs(u.getLoginMethods())});
    }
    for (auto t : w.getTokens()) {
      out.tokens.push_back(
          {Str(t.getTokenPrefix()), Str(t.getKind()), Str(t.getUserId()), Str(t.getMethod())});
    }
    return out;
  }

  Result<EventPage> Events(const EventFilter& f, std::size_t limit) const override {
    std::string query =
        "?limit=" + std::to_string(limit) + "&from_seq=" + std::to_string(f.from_seq) +
        "&to_seq=" + std::to_string(f.to_seq) + "&from_us=" + std::to_string(f.from_us) +
        "&to_us=" + std::to_string(f.to_us);
    auto add = [&](const char* name, const std::string& value) {
      if (!value.empty()) query += std::string("&") + name + "=" + Escape(value);
    };
    add("org_id", f.org_id);
    add("user_id", f.user_id);
    add("token_prefix", f.token_prefix);
    add("actor_id", f.actor_id);
    std::string types;
    for (const auto& t : f.types) types += (types.empty() ? "" : ",") + t;
    add("types", types);
    capnp::MallocMessageBuilder m;
    if (Status s = Call(http::verb::get, "/v1/audit/events" + query, "", "events", m); !s.ok()) {
      return s;
    }
    auto page = m.getRoot<wire::Response>().getBody().getEvents();
    EventPage out;
    out.next_seq = page.getNextSeq();
    for (auto e : page.getEvents()) out.events.push_back(replay::ToAuditEvent(e));
    return out;
  }

 private:
  static Status NotServed(const std::string& what) {
    return Status::Unavailable("not_served",
                               what +
                                   " needs the log itself: run it with --data where the "
                                   "log is");
  }
  static std::string Query(const Moment& at) {
    if (at.seq) return "?seq=" + std::to_string(*at.seq);
    if (at.time_us) return "?time_us=" + std::to_string(*at.time_us);
    return {};
  }

  std::string host_;
  std::string port_;
  std::string key_;
};

}  // namespace

Result<std::unique_ptr<Auditor>> OpenRemoteAuditor(const std::string& url,
                                                   const std::string& api_key) {
  constexpr std::string_view kScheme = "http://";
  auto bad =
      Status::InvalidArgument("server_url_invalid", "want http://host:port, got '" + url + "'");
  if (!url.starts_with(kScheme)) return bad;
  std::string rest = url.substr(kScheme.size());
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size() ||
      rest.find('/') != std::string::npos) {
    return bad;
  }
  std::string host = rest.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (api_key.empty()) {
    return Status::InvalidArgument("api_key_missing",
                                   "set AUTHLEDGER_API_KEY to an auditor or admin key");
  }
  return std::unique_ptr<Auditor>(
      std::make_unique<RemoteAuditor>(host, rest.substr(colon + 1), api_key));
}

}  // namespace authledger::server
