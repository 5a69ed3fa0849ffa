// `replay` (the state at a moment, the step-through walk, the diff of two moments) and
// `policy set … --dry-run`, over the log opened read-only through the Auditor.
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
            io.out << "    " << c.entity << " " << ChangeText(c) << "\n";
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

// The boolean fields of a policy update, by Aiven's names (flags spell them with '-').
struct BoolField {
  const char* name;
  std::optional<bool> PolicyUpdate::*member;
};
constexpr BoolField kBoolFields[] = {
    {"password_auth_enabled", &PolicyUpdate::password_auth_enabled},
    {"two_factor_required", &PolicyUpdate::two_factor_required},
    {"oauth_enabled", &PolicyUpdate::oauth_enabled},
    {"saml_enabled", &PolicyUpdate::saml_enabled},
    {"saml_allow_external", &PolicyUpdate::saml_allow_external},
    {"personal_tokens_enabled", &PolicyUpdate::personal_tokens_enabled},
    {"personal_tokens_require_allowed_auth_method",
     &PolicyUpdate::personal_tokens_require_allowed_auth_method},
};

void AddPolicySet(CLI::App& app, CommandIo io, int* exit_code) {
  auto* policy = app.add_subcommand("policy", "An organization's authentication policy");
  policy->require_subcommand(1);
  auto* cmd = policy->add_subcommand(
      "set", "Show what a policy change would do (--dry-run): the new policy and every flip");
  auto common = std::make_shared<Common>();
  auto org = std::make_shared<std::string>();
  auto dry_run = std::make_shared<bool>(false);
  auto update = std::make_shared<PolicyUpdate>();
  auto providers = std::make_shared<std::vector<std::string>>();
  cmd->add_option("ORG", *org, "Organization id")->required();
  for (const BoolField& field : kBoolFields) {
    std::string flag = std::string("--") + field.name;
    std::replace(flag.begin(), flag.end(), '_', '-');
    cmd->add_option_function<std::string>(
           flag, [update, field](const std::string& v) { (*update).*field.member = v == "true"; },
           std::string("true|false: ") + field.name)
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
      if (!providers->empty()) update->oauth_providers = *providers;
      auto change = a.DryRunPolicy(*org, *update);
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
      for (const auto& c : PolicyChanges(*org, change->before, change->after)) {
        if (c.field != "version") t.Add({c.field, c.before, c.after});
      }
      t.Print(io.out);
      io.out << "\n";
      PrintImpact(io.out, change->impact);
      return Status::Ok();
    });
  });
}

}  // namespace

void AddReplayCommands(CLI::App& app, CommandIo io, int* exit_code) {
  AddReplay(app, io, exit_code);
  AddPolicySet(app, io, exit_code);
}

}  // namespace authledger::cli
