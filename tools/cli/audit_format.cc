#include "tools/cli/audit_format.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <memory>

#include "replay/json_writer.h"
#include "tools/cli/format.h"
#include "tools/cli/progress.h"
#include "tools/cli/table.h"

namespace authledger::cli {

using replay::JsonArray;
using replay::JsonObject;

// ---- Parsing ----

Result<Moment> ParseMoment(const std::string& text) {
  if (text.empty()) return Moment::Now();
  if (std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(c) != 0; })) {
    if (text.size() > 19) {
      return Status::InvalidArgument("invalid_moment", "seq '" + text + "' is too large");
    }
    return Moment::AtSeq(std::stoull(text));
  }
  auto t = ParseTime(text);
  if (!t) {
    return Status::InvalidArgument("invalid_moment", "'" + text +
                                                         "' is neither a seq nor an RFC 3339 "
                                                         "time such as 2026-01-31T14:02:00Z");
  }
  return Moment::AtTime(*t);
}

Result<std::int64_t> ParseTimeArg(const std::string& text) {
  auto t = ParseTime(text);
  if (!t) {
    return Status::InvalidArgument(
        "invalid_time", "'" + text + "' is not an RFC 3339 time such as 2026-01-31T14:02:00Z");
  }
  return *t;
}

// ---- Text forms ----

std::string Time(std::int64_t us) { return us == 0 ? "-" : FormatTime(us); }
std::string Yes(bool b) { return b ? "yes" : "no"; }
std::string Allowed(bool allowed, const std::string& reason) {
  return allowed ? "allowed" : "denied (" + reason + ")";
}
std::string Seq(std::uint64_t seq) { return seq == 0 ? "-" : std::to_string(seq); }

std::string PolicyJson(const AuthenticationPolicy& p) {
  return JsonObject()
      .Num("version", p.version)
      .Bool("password_auth_enabled", p.password_auth_enabled)
      .Bool("two_factor_required", p.two_factor_required)
      .Bool("oauth_enabled", p.oauth_enabled)
      .Strs("oauth_providers", p.oauth_providers)
      .Bool("saml_enabled", p.saml_enabled)
      .Bool("saml_allow_external", p.saml_allow_external)
      .Bool("personal_tokens_enabled", p.personal_tokens_enabled)
      .Bool("personal_tokens_require_allowed_auth_method",
            p.personal_tokens_require_allowed_auth_method)
      .Done();
}

std::string ChangesJson(const std::vector<FieldChange>& changes) {
  JsonArray a;
  for (const auto& c : changes) {
    a.Raw(JsonObject()
              .Str("entity", c.entity)
              .Str("field", c.field)
              .Str("before", c.before)
              .Str("after", c.after)
              .Done());
  }
  return a.Done();
}

std::string ChangeText(const FieldChange& c) {
  if (c.field.empty()) return c.after.empty() ? "removed" : "created";
  return c.field + ": " + (c.before.empty() ? "\"\"" : c.before) + " → " +
         (c.after.empty() ? "\"\"" : c.after);
}

std::string ChangesText(const std::vector<FieldChange>& changes) {
  std::string out;
  for (const auto& c : changes) out += (out.empty() ? "" : "; ") + ChangeText(c);
  return out.empty() ? "-" : out;
}

std::string EventJsonOf(const AuditEvent& e) {
  return JsonObject()
      .Num("seq", e.seq)
      .Num("time_us", e.time_us)
      .Str("time", FormatTime(e.time_us))
      .Str("type", e.type)
      .Str("actor_kind", e.actor_kind)
      .Str("actor_id", e.actor_id)
      .Str("actor_ip", e.actor_ip)
      .Num("cause", e.cause)
      .Raw("event", e.json)
      .Done();
}

std::string ActorText(const std::string& kind, const std::string& id) {
  return id.empty() ? kind : kind + ":" + id;
}

std::string DecisionJson(const Decision& d) {
  return JsonObject()
      .Bool("allowed", d.allowed)
      .Str("reason", d.reason)
      .Str("rule", d.rule)
      .Str("token_prefix", d.token_prefix)
      .Str("user_id", d.user_id)
      .Str("org_id", d.org_id)
      .Num("revision", d.revision)
      .Done();
}

std::string ImpactJson(const std::vector<ImpactEntry>& impact) {
  JsonArray a;
  for (const auto& e : impact) {
    a.Raw(JsonObject()
              .Str("token_prefix", e.token_prefix)
              .Str("user_id", e.user_id)
              .Str("org_id", e.org_id)
              .Bool("allowed_before", e.allowed_before)
              .Str("reason_before", e.reason_before)
              .Bool("allowed_after", e.allowed_after)
              .Str("reason_after", e.reason_after)
              .Done());
  }
  return a.Done();
}

void PrintImpact(std::ostream& out, const std::vector<ImpactEntry>& impact) {
  if (impact.empty()) {
    out << "No decision flips.\n";
    return;
  }
  Table t({"TOKEN", "USER", "ORG", "BEFORE", "AFTER"});
  for (const auto& e : impact) {
    t.Add({e.token_prefix, e.user_id, e.org_id, Allowed(e.allowed_before, e.reason_before),
           Allowed(e.allowed_after, e.reason_after)});
  }
  t.Print(out);
}

// ---- Running a subcommand ----

void AddCommon(CLI::App* cmd, Common& c) {
  cmd->add_option("--data", c.data, "Data directory")->capture_default_str();
  cmd->add_flag("--json", c.json, "Print JSON instead of a table");
}

void AddServer(CLI::App* cmd, Common& c, RemoteAuditorFactory remote) {
  if (!remote) return;
  c.remote = std::move(remote);
  cmd->add_option("--server", c.server,
                  "Ask the server at this URL (http://host:port) instead of reading --data; "
                  "the API key comes from AUTHLEDGER_API_KEY");
}

// Runs `body` with an Auditor on c.data; reports a failed Status as
// "authledger: <reason>: <message>" and exit code 1.
void Run(CommandIo io, int* exit_code, const Common& c, bool progress,
         const std::function<Status(Auditor&)>& body) {
  auto bar = std::make_shared<ProgressBar>(io.err, progress && ProgressBar::IsTerminal(io.err));
  AuditOptions options;
  options.progress = [bar](std::uint64_t done, std::uint64_t total) {
    bar->Update("replaying", done, total);
  };
  auto open = [&]() -> Result<std::unique_ptr<Auditor>> {
    if (c.server.empty()) return Auditor::Open(c.data, options);
    const char* key = std::getenv("AUTHLEDGER_API_KEY");
    return c.remote(c.server, key == nullptr ? std::string() : std::string(key));
  };
  auto auditor = open();
  Status s = auditor.ok() ? body(**auditor) : auditor.status();
  bar->Finish();
  if (!s.ok()) {
    io.err << "authledger: " << s.reason() << ": " << s.message() << "\n";
    *exit_code = 1;
    return;
  }
  *exit_code = 0;
}

}  // namespace authledger::cli
