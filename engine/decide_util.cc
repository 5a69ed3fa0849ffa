#include "engine/decide_util.h"

#include <algorithm>
#include <cctype>

#include "engine/cidr.h"

namespace authledger::internal {

namespace {

constexpr std::size_t kMaxIdLength = 128;
constexpr std::size_t kMaxDescription = 1000;
constexpr std::size_t kMaxListEntries = 100;
constexpr std::uint32_t kMinMaxAge = 600;
constexpr std::uint32_t kMaxMaxAge = 315360000;

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

Status Refuse(std::string_view reason, const std::string& message) {
  return Status::Denied(reason, message);
}

storage::EventDraft NewEvent(const DecideContext& ctx, std::uint64_t cause) {
  storage::EventDraft draft;
  auto e = draft.envelope();
  e.setTimeUs(ctx.now_us);
  e.setCause(cause);
  auto actor = e.initActor();
  switch (ctx.actor.kind) {
    case Actor::Kind::kSystem:
      actor.setKind(schema::Actor::Kind::SYSTEM);
      break;
    case Actor::Kind::kUser:
      actor.setKind(schema::Actor::Kind::USER);
      break;
    case Actor::Kind::kAdmin:
      actor.setKind(schema::Actor::Kind::ADMIN);
      break;
    case Actor::Kind::kApiKey:
      actor.setKind(schema::Actor::Kind::API_KEY);
      break;
    case Actor::Kind::kApplication:
      actor.setKind(schema::Actor::Kind::APPLICATION);
      break;
  }
  actor.setId(CapText(ctx.actor.id));
  actor.setIp(CapText(ctx.actor.ip));
  actor.setRequestId(CapText(ctx.actor.request_id));
  return draft;
}

void SetList(capnp::List<capnp::Text>::Builder list, const std::vector<std::string>& items) {
  for (unsigned i = 0; i < list.size(); ++i) list.set(i, CapText(items[i]));
}

Status ValidateId(std::string_view what, const std::string& id) {
  bool ok = !id.empty() && id.size() <= kMaxIdLength &&
            std::all_of(id.begin(), id.end(), [](unsigned char c) {
              return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == ':' || c == '@';
            });
  if (ok) return Status::Ok();
  return Status::InvalidArgument("invalid_id", std::string(what) + " '" + id +
                                                   "' must be 1-128 characters of letters, digits "
                                                   "and - _ . : @");
}

Result<std::string> NormalizeDomain(const std::string& domain) {
  std::string d = Lower(domain);
  bool ok = !d.empty() && d.size() <= 253 && d.find('.') != std::string::npos && d.front() != '.' &&
            d.back() != '.' && d.find("..") == std::string::npos &&
            std::all_of(d.begin(), d.end(),
                        [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '.'; });
  if (!ok)
    return Status::InvalidArgument("invalid_domain", "'" + domain + "' is not a domain name");
  return d;
}

Result<std::string> NormalizeEmail(const std::string& email) {
  auto at = email.rfind('@');
  if (at == std::string::npos || at == 0 || email.size() > 320) {
    return Status::InvalidArgument("invalid_email", "'" + email + "' is not an email address");
  }
  auto domain = NormalizeDomain(email.substr(at + 1));
  if (!domain.ok()) {
    return Status::InvalidArgument("invalid_email", "'" + email + "' has an invalid domain");
  }
  return Lower(email.substr(0, at)) + "@" + *domain;
}

Result<std::vector<std::string>> ValidateTokenSpec(const TokenSpec& spec, std::int64_t now_us) {
  if (spec.description.size() > kMaxDescription) {
    return Status::InvalidArgument("description_too_long",
                                   "a token description holds at most 1000 characters");
  }
  if (spec.expiry_time_us != 0 && spec.max_age_seconds != 0) {
    return Status::InvalidArgument("invalid_expiry",
                                   "give either expiry_time or max_age_seconds, not both");
  }
  if (spec.expiry_time_us != 0 && spec.expiry_time_us <= now_us) {
    return Status::InvalidArgument("invalid_expiry", "expiry_time is in the past");
  }
  if (spec.max_age_seconds != 0 &&
      (spec.max_age_seconds < kMinMaxAge || spec.max_age_seconds > kMaxMaxAge)) {
    return Status::InvalidArgument("invalid_max_age",
                                   "max_age_seconds must be between 600 and 315360000");
  }
  if (spec.extend_when_used && spec.max_age_seconds == 0) {
    return Status::InvalidArgument("invalid_expiry", "extend_when_used needs max_age_seconds");
  }
  if (spec.scopes.size() > kMaxListEntries) {
    return Status::InvalidArgument("too_many_scopes", "a token holds at most 100 scopes");
  }
  auto ranges = ParseCidrList(spec.ip_allowlist, kMaxListEntries);
  if (!ranges.ok()) return ranges.status();
  std::vector<std::string> normalized;
  for (const auto& r : *ranges) normalized.push_back(r.ToString());
  return normalized;
}

Status ValidateMethod(const std::string& method) {
  if (method == "password" || method == "oauth:google" || method == "oauth:microsoft" ||
      method == "oauth:github") {
    return Status::Ok();
  }
  if (method.rfind("saml:", 0) == 0 && method.size() > 5) return Status::Ok();
  return Status::InvalidArgument("unknown_authentication_method",
                                 "'" + method + "' is not an authentication method");
}

}  // namespace authledger::internal
