// The auditors' `audit` subcommands: policy, token, explain, impact, who, events. Each
// opens the log read-only through the Auditor.
#include <authledger/audit.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <map>
#include <memory>
#include <optional>

#include "replay/json_writer.h"
#include "tools/cli/audit_format.h"
#include "tools/cli/commands.h"
#include "tools/cli/format.h"
#include "tools/cli/table.h"

namespace authledger::cli {
namespace {

using replay::JsonArray;
using replay::JsonObject;

// ---- audit policy ----

void AddPolicyHistory(CLI::App* audit, CommandIo io, int* exit_code,
                      const RemoteAuditorFactory& remote) {
  auto* cmd = audit->add_subcommand("policy", "Every version of an organization's policy");
  auto common = std::make_shared<Common>();
  auto org = std::make_shared<std::string>();
  auto from = std::make_shared<std::string>();
  auto to = std::make_shared<std::string>();
  cmd->add_option("ORG", *org, "Organization id")->required();
  cmd->add_option("--from", *from, "Only versions at or after this time (RFC 3339)");
  cmd->add_option("--to", *to, "Only versions at or before this time (RFC 3339)");
  AddCommon(cmd, *common);
  AddServer(cmd, *common, remote);
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
               ChangesText(shown)});
      }
      t.Print(io.out);
      return Status::Ok();
    });
  });
}

// ---- audit token ----

void AddToken(CLI::App* audit, CommandIo io, int* exit_code, const RemoteAuditorFactory& remote) {
  auto* cmd = audit->add_subcommand(
      "token", "A token's creation, uses, revocation and the intervals it could reach each org");
  auto common = std::make_shared<Common>();
  auto prefix = std::make_shared<std::string>();
  auto ip = std::make_shared<std::string>();
  cmd->add_option("PREFIX", *prefix, "Token prefix (the public part of the secret)")->required();
  cmd->add_option("--ip", *ip, "Evaluate IP allowlists for requests from this address");
  AddCommon(cmd, *common);
  AddServer(cmd, *common, remote);
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

void AddExplain(CLI::App* audit, CommandIo io, int* exit_code, const RemoteAuditorFactory& remote) {
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
  AddServer(cmd, *common, remote);
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

void AddImpact(CLI::App* audit, CommandIo io, int* exit_code, const RemoteAuditorFactory& remote) {
  auto* cmd = audit->add_subcommand(
      "impact", "Every (token, organization) decision that flipped because of an event");
  auto common = std::make_shared<Common>();
  auto seq = std::make_shared<std::uint64_t>(0);
  cmd->add_option("SEQ", *seq, "The event's seq")->required();
  AddCommon(cmd, *common);
  AddServer(cmd, *common, remote);
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

void AddWho(CLI::App* audit, CommandIo io, int* exit_code, const RemoteAuditorFactory& remote) {
  auto* cmd = audit->add_subcommand("who", "Which users and tokens could reach an organization");
  auto common = std::make_shared<Common>();
  auto org = std::make_shared<std::string>();
  auto at = std::make_shared<std::string>();
  cmd->add_option("ORG", *org, "Organization id")->required();
  cmd->add_option("--at", *at, "A seq or an RFC 3339 time (default: now)");
  AddCommon(cmd, *common);
  AddServer(cmd, *common, remote);
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

void AddEvents(CLI::App* audit, CommandIo io, int* exit_code, const RemoteAuditorFactory& remote) {
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
  AddServer(cmd, *common, remote);
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
}  // namespace

void AddAuditCommands(CLI::App& app, CommandIo io, int* exit_code, RemoteAuditorFactory remote) {
  auto* audit = app.add_subcommand("audit", "Audit queries over the log (read-only)");
  audit->require_subcommand(1);
  AddPolicyHistory(audit, io, exit_code, remote);
  AddToken(audit, io, exit_code, remote);
  AddExplain(audit, io, exit_code, remote);
  AddImpact(audit, io, exit_code, remote);
  AddWho(audit, io, exit_code, remote);
  AddEvents(audit, io, exit_code, remote);
}

}  // namespace authledger::cli
