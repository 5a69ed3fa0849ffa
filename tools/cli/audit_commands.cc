// The auditors' subcommands: `audit policy|token|explain|impact|who|events`, `replay`
// (state at a moment, the step-through walk, the diff of two moments) and
// `policy set … --dry-run`. Each opens the log read-only through the Auditor.
#include <authledger/audit.h>

#include <CLI/CLI.hpp>
#include <cctype>
#include <optional>

#include "replay/json_writer.h"
#include "tools/cli/commands.h"
#include "tools/cli/format.h"
#include "tools/cli/progress.h"
#include "tools/cli/table.h"

namespace authledger::cli {
namespace {

using replay::JsonArray;
using replay::JsonObject;

// ---- Parsing ----

// "123" is a seq; anything else must be an RFC 3339 time.
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

Result<bool> ParseBool(const std::string& text) {
  if (text == "true") return true;
  if (text == "false") return false;
  return Status::InvalidArgument("invalid_bool", "'" + text + "' is neither true nor false");
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

std::string ChangesText(const std::vector<FieldChange>& changes, bool with_entity) {
  std::string out;
  for (const auto& c : changes) {
    if (!out.empty()) out += "; ";
    if (with_entity) out += c.entity + " ";
    out += c.field.empty() ? (c.after.empty() ? "removed" : "created")
                           : c.field + ": " + (c.before.empty() ? "\"\"" : c.before) + " → " +
                                 (c.after.empty() ? "\"\"" : c.after);
  }
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

struct Common {
  std::string data = kDefaultDataDir;
  bool json = false;
};

void AddCommon(CLI::App* cmd, Common& c) {
  cmd->add_option("--data", c.data, "Data directory")->capture_default_str();
  cmd->add_flag("--json", c.json, "Print JSON instead of a table");
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
  auto auditor = Auditor::Open(c.data, options);
  Status s = auditor.ok() ? body(**auditor) : auditor.status();
  bar->Finish();
  if (!s.ok()) {
    io.err << "authledger: " << s.reason() << ": " << s.message() << "\n";
    *exit_code = 1;
    return;
  }
  *exit_code = 0;
}

// ---- audit policy ----

void AddPolicyHistory(CLI::App* audit, CommandIo io, int* exit_code) {
  auto* cmd = audit->add_subcommand("policy", "Every version of an organization's policy");
  auto common = std::make_shared<Common>();
  auto org = std::make_shared<std::string>();
  auto from = std::make_shared<std::string>();
  auto to = std::make_shared<std::string>();
  cmd->add_option("ORG", *org, "Organization id")->required();
  cmd->add_option("--from", *from, "Only versions at or after this time (RFC 3339)");
  cmd->add_option("--to", *to, "Only versions at or before this time (RFC 3339)");
  AddCommon(cmd, *common);
  cmd->callback([=] {
    Run(io, exit_code, *common, false, [&](Auditor& a) -> Status {
      std::int64_t from_us = 0, to_us = 0;
      if (!from->empty()) {
        auto t = ParseTimeArg(*from);
        if (!t.ok()) return t.status();
        from_us = *t;
      }
      if (!to->empty()) {
        auto t = ParseTimeArg(*to);
        if (!t.ok()) return t.status();
        to_us = *t;
      }
      auto history = a.PolicyHistory(*org, from_us, to_us);
      if (!history.ok()) return history.status();
      if (common->json) {
        JsonArray versions;
        for (const auto& v : *history) {
          versions.Raw(JsonObject()
                           .Num("seq", v.seq)
                           .Num("time_us", v.time_us)
                           .Str("time", FormatTime(v.time_us))
                           .Str("actor_kind", v.actor_kind)
                           .Str("actor_id", v.actor_id)
                           .Bool("forced", v.forced)
                           .Raw("policy", PolicyJson(v.policy))
                           .Raw("changes", ChangesJson(v.changes))
                           .Done());
        }
        io.out << JsonObject().Str("org_id", *org).Raw("versions", versions.Done()).Done() << "\n";
        return Status::Ok();
      }
      io.out << "Policy of " << *org << ": " << history->size() << " version(s)\n";
      Table t({"VERSION", "SEQ", "TIME", "ACTOR", "CHANGES"});
      for (const auto& v : *history) {
        std::vector<FieldChange> shown;
        for (const auto& c : v.changes) {
          if (c.field != "version") shown.push_back(c);
        }
        t.Add({std::to_string(v.policy.version) + (v.forced ? " (forced)" : ""),
               std::to_string(v.seq), FormatTime(v.time_us), ActorText(v.actor_kind, v.actor_id),
               ChangesText(shown, false)});
      }
      t.Print(io.out);
      return Status::Ok();
    });
  });
}

// ---- audit token ----

void AddToken(CLI::App* audit, CommandIo io, int* exit_code) {
  auto* cmd = audit->add_subcommand(
      "token", "A token's creation, uses, revocation and the intervals it could reach each org");
  auto common = std::make_shared<Common>();
  auto prefix = std::make_shared<std::string>();
  auto ip = std::make_shared<std::string>();
  cmd->add_option("PREFIX", *prefix, "Token prefix (the public part of the secret)")->required();
  cmd->add_option("--ip", *ip, "Evaluate IP allowlists for requests from this address");
  AddCommon(cmd, *common);
  cmd->callback([=] {
    Run(io, exit_code, *common, false, [&](Auditor& a) -> Status {
      auto r = a.Token(*prefix, *ip);
      if (!r.ok()) return r.status();
      if (common->json) {
        JsonArray intervals;
        for (const auto& i : r->intervals) {
          intervals.Raw(JsonObject()
                            .Str("org_id", i.org_id)
                            .Bool("allowed", i.allowed)
                            .Str("reason", i.reason)
                            .Num("from_seq", i.from_seq)
                            .Num("from_us", i.from_us)
                            .Str("from", FormatTime(i.from_us))
                            .Str("opened_by", i.opened_by)
                            .Num("to_seq", i.to_seq)
                            .Num("to_us", i.to_us)
                            .Str("to", i.to_us ? FormatTime(i.to_us) : "")
                            .Str("closed_by", i.closed_by)
                            .Done());
        }
        io.out << JsonObject()
                      .Str("token_prefix", r->token_prefix)
                      .Str("kind", r->kind)
                      .Str("owner_user_id", r->owner_user_id)
                      .Str("org_id", r->org_id)
                      .Str("auth_method", r->method)
                      .Str("session_token_prefix", r->session_prefix)
                      .Num("created_seq", r->created_seq)
                      .Num("created_us", r->created_us)
                      .Str("created_by_kind", r->created_by_kind)
                      .Str("created_by_id", r->created_by_id)
                      .Num("expiry_time_us", r->expiry_time_us)
                      .Num("max_age_seconds", r->max_age_seconds)
                      .Bool("extend_when_used", r->extend_when_used)
                      .Strs("ip_allowlist", r->ip_allowlist)
                      .Num("uses", r->uses)
                      .Num("last_used_us", r->last_used_us)
                      .Str("last_ip", r->last_ip)
                      .Bool("revoked", r->revoked)
                      .Num("revoked_seq", r->revoked_seq)
                      .Num("revoked_us", r->revoked_us)
                      .Str("revocation_reason", r->revocation_reason)
                      .Num("revocation_cause", r->revocation_cause)
                      .Str("revocation_cause_type", r->revocation_cause_type)
                      .Raw("intervals", intervals.Done())
                      .Done()
               << "\n";
        return Status::Ok();
      }
      io.out << "Token " << r->token_prefix << " (" << r->kind << ")\n";
      Table info({"FIELD", "VALUE"});
      info.Add({"owner", r->owner_user_id});
      if (!r->org_id.empty()) info.Add({"organization", r->org_id});
      info.Add({"created", Time(r->created_us) + " at seq " + std::to_string(r->created_seq) +
                               " by " + ActorText(r->created_by_kind, r->created_by_id)});
      info.Add({"method", r->method});
      if (!r->session_prefix.empty()) info.Add({"session", r->session_prefix});
      info.Add({"expiry", r->expiry_time_us ? FormatTime(r->expiry_time_us) : "none"});
      info.Add({"max age", r->max_age_seconds
                               ? std::to_string(r->max_age_seconds) + " s" +
                                     (r->extend_when_used ? ", extended when used" : "")
                               : "none"});
      if (!r->ip_allowlist.empty()) {
        std::string list;
        for (const auto& c : r->ip_allowlist) list += (list.empty() ? "" : ",") + c;
        info.Add({"ip allowlist", list});
      }
      info.Add({"recorded uses", std::to_string(r->uses) +
                                     (r->uses ? ", last " + FormatTime(r->last_used_us) + " from " +
                                                    (r->last_ip.empty() ? "unknown" : r->last_ip)
                                              : "")});
      info.Add({"revoked",
                r->revoked ? Time(r->revoked_us) + " at seq " + std::to_string(r->revoked_seq) +
                                 " (" + r->revocation_reason +
                                 (r->revocation_cause
                                      ? ", caused by seq " + std::to_string(r->revocation_cause) +
                                            " " + r->revocation_cause_type
                                      : "") +
                                 ")"
                           : "no"});
      info.Print(io.out);
      io.out << "\nAccess by organization" << (ip->empty() ? " (IP allowlists aside)" : "")
             << ":\n";
      Table t({"ORG", "FROM", "TO", "DECISION", "OPENED BY", "CLOSED BY"});
      for (const auto& i : r->intervals) {
        auto boundary = [](std::uint64_t seq, const std::string& by) {
          return seq ? "seq " + std::to_string(seq) + " " + by : by;
        };
        t.Add({i.org_id, FormatTime(i.from_us), i.to_us ? FormatTime(i.to_us) : "(end of log)",
               Allowed(i.allowed, i.reason), boundary(i.from_seq, i.opened_by),
               i.to_us ? boundary(i.to_seq, i.closed_by) : "-"});
      }
      t.Print(io.out);
      return Status::Ok();
    });
  });
}

// ---- audit explain ----

void AddExplain(CLI::App* audit, CommandIo io, int* exit_code) {
  auto* cmd =
      audit->add_subcommand("explain", "The decision for a token at an organization, as it was");
  auto common = std::make_shared<Common>();
  auto prefix = std::make_shared<std::string>();
  auto org = std::make_shared<std::string>();
  auto at = std::make_shared<std::string>();
  auto ip = std::make_shared<std::string>();
  cmd->add_option("PREFIX", *prefix, "Token prefix")->required();
  cmd->add_option("ORG", *org, "Organization id")->required();
  cmd->add_option("--at", *at, "A seq or an RFC 3339 time (default: now, the end of the log)");
  cmd->add_option("--ip", *ip, "The request's address (IP allowlists are ignored without it)");
  AddCommon(cmd, *common);
  cmd->callback([=] {
    Run(io, exit_code, *common, false, [&](Auditor& a) -> Status {
      auto moment = ParseMoment(*at);
      if (!moment.ok()) return moment.status();
      auto e = a.Explain(*prefix, *org, *moment, std::nullopt, *ip);
      if (!e.ok()) return e.status();
      if (common->json) {
        JsonArray trace;
        for (const auto& s : e->trace) {
          trace.Raw(JsonObject()
                        .Str("condition", s.condition)
                        .Bool("passed", s.passed)
                        .Str("detail", s.detail)
                        .Done());
        }
        io.out << JsonObject()
                      .Raw("decision", DecisionJson(e->decision))
                      .Raw("trace", trace.Done())
                      .Done()
               << "\n";
        return Status::Ok();
      }
      const Decision& d = e->decision;
      io.out << "Token " << *prefix << " at " << *org << " as of seq " << d.revision << ": "
             << (d.allowed ? "ALLOWED" : "DENIED") << " (" << d.reason
             << (d.rule.empty() ? "" : ", rule " + d.rule) << ")\n";
      for (const auto& s : e->trace) {
        io.out << "  " << (s.passed ? "✓ " : "✗ ") << s.condition
               << (s.detail.empty() ? "" : ": " + s.detail) << "\n";
      }
      return Status::Ok();
    });
  });
}

// ---- audit impact ----

void AddImpact(CLI::App* audit, CommandIo io, int* exit_code) {
  auto* cmd = audit->add_subcommand(
      "impact", "Every (token, organization) decision that flipped because of an event");
  auto common = std::make_shared<Common>();
  auto seq = std::make_shared<std::uint64_t>(0);
  cmd->add_option("SEQ", *seq, "The event's seq")->required();
  AddCommon(cmd, *common);
  cmd->callback([=] {
    Run(io, exit_code, *common, false, [&](Auditor& a) -> Status {
      auto impact = a.Impact(*seq);
      if (!impact.ok()) return impact.status();
      if (common->json) {
        io.out << JsonObject().Num("seq", *seq).Raw("impact", ImpactJson(*impact)).Done() << "\n";
        return Status::Ok();
      }
      io.out << "Impact of seq " << *seq << ": " << impact->size() << " flip(s)\n";
      PrintImpact(io.out, *impact);
      return Status::Ok();
    });
  });
}

// ---- audit who ----

void AddWho(CLI::App* audit, CommandIo io, int* exit_code) {
  auto* cmd = audit->add_subcommand("who", "Which users and tokens could reach an organization");
  auto common = std::make_shared<Common>();
  auto org = std::make_shared<std::string>();
  auto at = std::make_shared<std::string>();
  cmd->add_option("ORG", *org, "Organization id")->required();
  cmd->add_option("--at", *at, "A seq or an RFC 3339 time (default: now)");
  AddCommon(cmd, *common);
  cmd->callback([=] {
    Run(io, exit_code, *common, false, [&](Auditor& a) -> Status {
      auto moment = ParseMoment(*at);
      if (!moment.ok()) return moment.status();
      auto who = a.Who(*org, *moment);
      if (!who.ok()) return who.status();
      if (common->json) {
        JsonArray users, tokens;
        for (const auto& u : who->users) {
          users.Raw(JsonObject()
                        .Str("user_id", u.user_id)
                        .Str("email", u.email)
                        .Bool("active", u.active)
                        .Bool("managed", u.managed)
                        .Strs("login_methods", u.login_methods)
                        .Done());
        }
        for (const auto& t : who->tokens) {
          tokens.Raw(JsonObject()
                         .Str("token_prefix", t.token_prefix)
                         .Str("kind", t.kind)
                         .Str("user_id", t.user_id)
                         .Str("auth_method", t.method)
                         .Done());
        }
        io.out << JsonObject()
                      .Str("org_id", who->org_id)
                      .Num("seq", who->seq)
                      .Num("time_us", who->time_us)
                      .Raw("users", users.Done())
                      .Raw("tokens", tokens.Done())
                      .Done()
               << "\n";
        return Status::Ok();
      }
      io.out << "Who could reach " << who->org_id << " at seq " << who->seq << " ("
             << Time(who->time_us) << ")\n\nUsers:\n";
      Table users({"USER", "EMAIL", "ACTIVE", "MANAGED", "LOGIN METHODS"});
      for (const auto& u : who->users) {
        std::string methods;
        for (const auto& m : u.login_methods) methods += (methods.empty() ? "" : ",") + m;
        users.Add({u.user_id, u.email, Yes(u.active), Yes(u.managed),
                   methods.empty() ? "(none)" : methods});
      }
      users.Print(io.out);
      io.out << "\nTokens allowed (IP allowlists aside):\n";
      Table tokens({"TOKEN", "KIND", "USER", "METHOD"});
      for (const auto& t : who->tokens) tokens.Add({t.token_prefix, t.kind, t.user_id, t.method});
      tokens.Print(io.out);
      return Status::Ok();
    });
  });
}

// ---- audit events ----

void AddEvents(CLI::App* audit, CommandIo io, int* exit_code) {
  auto* cmd = audit->add_subcommand("events", "Events of the log, filtered and paged");
  auto common = std::make_shared<Common>();
  auto filter = std::make_shared<EventFilter>();
  auto from = std::make_shared<std::string>();
  auto to = std::make_shared<std::string>();
  auto limit = std::make_shared<std::size_t>(100);
  cmd->add_option("--org", filter->org_id, "Events touching this organization");
  cmd->add_option("--user", filter->user_id, "Events touching this user");
  cmd->add_option("--token", filter->token_prefix, "Events touching this token");
  cmd->add_option("--type", filter->types, "Event type (e.g. policy_changed); repeatable");
  cmd->add_option("--actor", filter->actor_id, "Events caused by this actor id");
  cmd->add_option("--from", *from, "Events at or after this time (RFC 3339)");
  cmd->add_option("--to", *to, "Events at or before this time (RFC 3339)");
  cmd->add_option("--from-seq", filter->from_seq, "First seq (the next page starts here)");
  cmd->add_option("--to-seq", filter->to_seq, "Last seq");
  cmd->add_option("--limit", *limit, "Events per page")->capture_default_str();
  AddCommon(cmd, *common);
  cmd->callback([=] {
    Run(io, exit_code, *common, false, [&](Auditor& a) -> Status {
      EventFilter f = *filter;
      if (!from->empty()) {
        auto t = ParseTimeArg(*from);
        if (!t.ok()) return t.status();
        f.from_us = *t;
      }
      if (!to->empty()) {
        auto t = ParseTimeArg(*to);
        if (!t.ok()) return t.status();
        f.to_us = *t;
      }
      if (*limit == 0) return Status::InvalidArgument("invalid_limit", "--limit must be ≥ 1");
      auto page = a.Events(f, *limit);
      if (!page.ok()) return page.status();
      if (common->json) {
        JsonArray events;
        for (const auto& e : page->events) events.Raw(EventJsonOf(e));
        io.out << JsonObject().Raw("events", events.Done()).Num("next_seq", page->next_seq).Done()
               << "\n";
        return Status::Ok();
      }
      Table t({"SEQ", "TIME", "TYPE", "ACTOR", "IP", "CAUSE"});
      for (const auto& e : page->events) {
        t.Add({std::to_string(e.seq), FormatTime(e.time_us), e.type,
               ActorText(e.actor_kind, e.actor_id), e.actor_ip.empty() ? "-" : e.actor_ip,
               Seq(e.cause)});
      }
      t.Print(io.out);
      if (page->next_seq != 0) {
        io.out << "(more: --from-seq " << page->next_seq << ")\n";
      }
      return Status::Ok();
    });
  });
}

// ---- replay ----

void PrintState(std::ostream& out, const StateSummary& s) {
  out << "State at seq " << s.seq << " (" << Time(s.time_us) << ")\n";
  out << "  users: " << s.users << " (" << s.active_users << " active)\n";
  out << "  tokens: " << s.tokens << " (" << s.live_tokens << " live, " << s.revoked_tokens
      << " revoked)\n";
  out << "  organizations: " << s.orgs.size() << "\n";
  for (const auto& o : s.orgs) {
    const auto& p = o.policy;
    std::string methods;
    if (p.password_auth_enabled) methods += "password ";
    if (p.oauth_enabled) {
      for (const auto& prov : p.oauth_providers) methods += "oauth:" + prov + " ";
    }
    if (p.saml_enabled)
      methods += std::string("saml") + (p.saml_allow_external ? "(+external) " : " ");
    out << "\n  " << o.id << " \"" << o.name << "\" — policy v" << p.version << ": " << methods
        << "| 2FA required: " << Yes(p.two_factor_required)
        << " | personal tokens: " << Yes(p.personal_tokens_enabled)
        << (p.personal_tokens_require_allowed_auth_method ? " (allowed method required)" : "")
        << "\n";
    auto list = [&](const char* name, const std::vector<std::string>& items) {
      if (items.empty()) return;
      std::string text;
      for (const auto& i : items) text += (text.empty() ? "" : ", ") + i;
      out << "    " << name << ": " << text << "\n";
    };
    if (o.allowlist.enabled) list("ip allowlist", o.allowlist.cidrs);
    list("domains", o.domains);
    list("idps", o.idps);
    list("members", o.members);
    list("managed users", o.managed_users);
    list("application users", o.application_users);
  }
}

std::string StateJson(const StateSummary& s) {
  JsonArray orgs;
  for (const auto& o : s.orgs) {
    orgs.Raw(
        JsonObject()
            .Str("org_id", o.id)
            .Str("name", o.name)
            .Raw("policy", PolicyJson(o.policy))
            .Raw("ip_allowlist", JsonObject()
                                     .Num("version", o.allowlist.version)
                                     .Bool("api_client_ip_allowlist_enabled", o.allowlist.enabled)
                                     .Strs("api_client_ip_allowlist", o.allowlist.cidrs)
                                     .Done())
            .Strs("domains", o.domains)
            .Strs("idps", o.idps)
            .Strs("members", o.members)
            .Strs("managed_users", o.managed_users)
            .Strs("application_users", o.application_users)
            .Done());
  }
  return JsonObject()
      .Num("seq", s.seq)
      .Num("time_us", s.time_us)
      .Num("users", s.users)
      .Num("active_users", s.active_users)
      .Num("tokens", s.tokens)
      .Num("live_tokens", s.live_tokens)
      .Num("revoked_tokens", s.revoked_tokens)
      .Raw("organizations", orgs.Done())
      .Done();
}

void AddReplay(CLI::App& app, CommandIo io, int* exit_code) {
  auto* cmd = app.add_subcommand(
      "replay",
      "The state at a moment (--to), the events of a range with what each changed "
      "(--from --to --step), or what differs between two moments (--diff A B)");
  auto common = std::make_shared<Common>();
  auto from = std::make_shared<std::string>();
  auto to = std::make_shared<std::string>();
  auto step = std::make_shared<bool>(false);
  auto diff = std::make_shared<std::vector<std::string>>();
  cmd->add_option("--from", *from, "First moment of a step-through (seq or RFC 3339 time)");
  cmd->add_option("--to", *to, "Moment to replay to (seq or RFC 3339 time; default: the end)");
  cmd->add_flag("--step", *step, "Walk the events from --from to --to, with their changes");
  cmd->add_option("--diff", *diff, "Two moments to compare")->expected(2);
  AddCommon(cmd, *common);
  cmd->callback([=] {
    Run(io, exit_code, *common, true, [&](Auditor& a) -> Status {
      auto to_moment = ParseMoment(*to);
      if (!to_moment.ok()) return to_moment.status();
      if (!diff->empty()) {
        auto ma = ParseMoment((*diff)[0]);
        if (!ma.ok()) return ma.status();
        auto mb = ParseMoment((*diff)[1]);
        if (!mb.ok()) return mb.status();
        auto changes = a.Diff(*ma, *mb);
        if (!changes.ok()) return changes.status();
        if (common->json) {
          io.out << JsonObject().Raw("changes", ChangesJson(*changes)).Done() << "\n";
          return Status::Ok();
        }
        Table t({"ENTITY", "FIELD", "BEFORE", "AFTER"});
        for (const auto& c : *changes) {
          t.Add({c.entity, c.field.empty() ? "(entity)" : c.field,
                 c.before.empty() ? "-" : c.before, c.after.empty() ? "-" : c.after});
        }
        t.Print(io.out);
        return Status::Ok();
      }
      if (*step) {
        auto from_moment = ParseMoment(from->empty() ? "1" : *from);
        if (!from_moment.ok()) return from_moment.status();
        auto first = a.SeqOf(*from_moment);
        if (!first.ok()) return first.status();
        auto last = a.SeqOf(*to_moment);
        if (!last.ok()) return last.status();
        // A time names the state after the last event at or before it; a walk from a
        // time starts with the first event after that state.
        std::uint64_t begin =
            from_moment->time_us ? *first + 1 : std::max<std::uint64_t>(*first, 1);
        return a.Step(begin, *last, [&](const StepEntry& e) {
          if (common->json) {
            io.out << JsonObject()
                          .Raw("event", EventJsonOf(e.event))
                          .Raw("changes", ChangesJson(e.changes))
                          .Done()
                   << "\n";
            return true;
          }
          io.out << "seq " << e.event.seq << "  " << FormatTime(e.event.time_us) << "  "
                 << e.event.type << "  by " << ActorText(e.event.actor_kind, e.event.actor_id)
                 << (e.event.cause ? "  (caused by seq " + std::to_string(e.event.cause) + ")" : "")
                 << "\n";
          for (const auto& c : e.changes) {
            io.out << "    " << c.entity << " "
                   << (c.field.empty() ? (c.after.empty() ? "removed" : "created")
                                       : c.field + ": " + (c.before.empty() ? "\"\"" : c.before) +
                                             " → " + (c.after.empty() ? "\"\"" : c.after))
                   << "\n";
          }
          return true;
        });
      }
      auto state = a.StateAt(*to_moment);
      if (!state.ok()) return state.status();
      if (common->json) {
        io.out << StateJson(*state) << "\n";
      } else {
        PrintState(io.out, *state);
      }
      return Status::Ok();
    });
  });
}

// ---- policy set --dry-run ----

void AddPolicySet(CLI::App& app, CommandIo io, int* exit_code) {
  auto* policy = app.add_subcommand("policy", "An organization's authentication policy");
  policy->require_subcommand(1);
  auto* cmd = policy->add_subcommand(
      "set", "Show what a policy change would do (--dry-run): the new policy and every flip");
  auto common = std::make_shared<Common>();
  auto org = std::make_shared<std::string>();
  auto dry_run = std::make_shared<bool>(false);
  auto fields = std::make_shared<std::map<std::string, std::string>>();
  auto providers = std::make_shared<std::vector<std::string>>();
  cmd->add_option("ORG", *org, "Organization id")->required();
  for (const char* field : {"password_auth_enabled", "two_factor_required", "oauth_enabled",
                            "saml_enabled", "saml_allow_external", "personal_tokens_enabled",
                            "personal_tokens_require_allowed_auth_method"}) {
    std::string flag = std::string("--") + field;
    std::replace(flag.begin(), flag.end(), '_', '-');
    cmd->add_option_function<std::string>(
           flag, [fields, field](const std::string& v) { (*fields)[field] = v; },
           std::string("true|false: ") + field)
        ->check(CLI::IsMember({"true", "false"}));
  }
  cmd->add_option("--oauth-providers", *providers, "github, google, microsoft (any of them)")
      ->delimiter(',');
  cmd->add_flag("--dry-run", *dry_run,
                "Compute the impact against the latest state; append nothing");
  AddCommon(cmd, *common);
  cmd->callback([=] {
    if (!*dry_run) {
      io.err << "authledger: dry_run_only: the CLI opens the log read-only and only evaluates "
                "proposed changes (--dry-run); apply a change through the engine's API or "
                "`authledger serve`\n";
      *exit_code = 1;
      return;
    }
    Run(io, exit_code, *common, false, [&](Auditor& a) -> Status {
      PolicyUpdate update;
      std::map<std::string, std::optional<bool>*> slots = {
          {"password_auth_enabled", &update.password_auth_enabled},
          {"two_factor_required", &update.two_factor_required},
          {"oauth_enabled", &update.oauth_enabled},
          {"saml_enabled", &update.saml_enabled},
          {"saml_allow_external", &update.saml_allow_external},
          {"personal_tokens_enabled", &update.personal_tokens_enabled},
          {"personal_tokens_require_allowed_auth_method",
           &update.personal_tokens_require_allowed_auth_method}};
      for (const auto& [field, value] : *fields) {
        auto b = ParseBool(value);
        if (!b.ok()) return b.status();
        *slots.at(field) = *b;
      }
      if (!providers->empty()) update.oauth_providers = *providers;
      auto change = a.DryRunPolicy(*org, update);
      if (!change.ok()) return change.status();
      if (common->json) {
        io.out << JsonObject()
                      .Str("org_id", *org)
                      .Raw("before", PolicyJson(change->before))
                      .Raw("after", PolicyJson(change->after))
                      .Raw("impact", ImpactJson(change->impact))
                      .Done()
               << "\n";
        return Status::Ok();
      }
      io.out << "Dry run for " << *org << " (nothing appended)\n";
      Table t({"FIELD", "NOW", "PROPOSED"});
      auto b = change->before, n = change->after;
      auto row = [&](const char* name, bool x, bool y) {
        if (x != y) t.Add({name, x ? "true" : "false", y ? "true" : "false"});
      };
      row("password_auth_enabled", b.password_auth_enabled, n.password_auth_enabled);
      row("two_factor_required", b.two_factor_required, n.two_factor_required);
      row("oauth_enabled", b.oauth_enabled, n.oauth_enabled);
      row("saml_enabled", b.saml_enabled, n.saml_enabled);
      row("saml_allow_external", b.saml_allow_external, n.saml_allow_external);
      row("personal_tokens_enabled", b.personal_tokens_enabled, n.personal_tokens_enabled);
      row("personal_tokens_require_allowed_auth_method",
          b.personal_tokens_require_allowed_auth_method,
          n.personal_tokens_require_allowed_auth_method);
      if (b.oauth_providers != n.oauth_providers) {
        std::string x, y;
        for (const auto& p : b.oauth_providers) x += (x.empty() ? "" : ",") + p;
        for (const auto& p : n.oauth_providers) y += (y.empty() ? "" : ",") + p;
        t.Add({"oauth_providers", x, y});
      }
      t.Print(io.out);
      io.out << "\n";
      PrintImpact(io.out, change->impact);
      return Status::Ok();
    });
  });
}

}  // namespace

void AddAuditCommands(CLI::App& app, CommandIo io, int* exit_code) {
  auto* audit = app.add_subcommand("audit", "Audit queries over the log (read-only)");
  audit->require_subcommand(1);
  AddPolicyHistory(audit, io, exit_code);
  AddToken(audit, io, exit_code);
  AddExplain(audit, io, exit_code);
  AddImpact(audit, io, exit_code);
  AddWho(audit, io, exit_code);
  AddEvents(audit, io, exit_code);
  AddReplay(app, io, exit_code);
  AddPolicySet(app, io, exit_code);
}

}  // namespace authledger::cli
