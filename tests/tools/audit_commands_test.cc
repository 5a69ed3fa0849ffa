// `authledger audit …`, `replay` and `policy set --dry-run` on the fixed log of
// cli_fixture.h: golden human and JSON output, and the errors an auditor can make.
//
// The log: 1 acme created, 2 acme.com verified, 3 alice registered, 4 alice joins acme,
// 5 her password session (t+60 s), 6 a personal token from it (t+120 s, max age 1 h),
// 7 acme requires 2FA (t+180 s), 8 alice revokes the personal token (t+240 s).
#include <gtest/gtest.h>

#include "tests/tools/cli_fixture.h"

namespace authledger::testing {
namespace {

class AuditCommandsTest : public CliTest {
 protected:
  // Subcommands nest ("audit token"), so --data goes last.
  CliRun Run(std::vector<std::string> args) {
    for (auto& a : Data()) args.push_back(a);
    return Cli(std::move(args));
  }
  std::string Ok(std::vector<std::string> args) {
    CliRun run = Run(std::move(args));
    EXPECT_EQ(run.code, 0) << run.err;
    EXPECT_EQ(run.err, "");
    return Normalized(run.out);
  }
};

TEST_F(AuditCommandsTest, PolicyHistory) {
  EXPECT_EQ(Ok({"audit", "policy", "acme"}),
            "Policy of acme: 2 version(s)\n"
            "VERSION  SEQ  TIME                         ACTOR         CHANGES\n"
            "1        1    2026-01-01T00:00:00.000000Z  admin:admin1  -\n"
            "2        7    2026-01-01T00:03:00.000000Z  admin:admin1  two_factor_required: false → "
            "true\n");
  EXPECT_EQ(
      Ok({"audit", "policy", "acme", "--json"}),
      "{\"org_id\":\"acme\",\"versions\":[{\"seq\":1,\"time_us\":1767225600000000,\"time\":\"2026-"
      "01-01T00:00:00.000000Z\",\"actor_kind\":\"admin\",\"actor_id\":\"admin1\",\"forced\":false,"
      "\"policy\":{\"version\":1,\"password_auth_enabled\":true,\"two_factor_required\":false,"
      "\"oauth_enabled\":true,\"oauth_providers\":[\"github\",\"google\",\"microsoft\"],\"saml_"
      "enabled\":true,\"saml_allow_external\":true,\"personal_tokens_enabled\":true,\"personal_"
      "tokens_require_allowed_auth_method\":false},\"changes\":[]},{\"seq\":7,\"time_us\":"
      "1767225780000000,\"time\":\"2026-01-01T00:03:00.000000Z\",\"actor_kind\":\"admin\",\"actor_"
      "id\":\"admin1\",\"forced\":false,\"policy\":{\"version\":2,\"password_auth_enabled\":true,"
      "\"two_factor_required\":true,\"oauth_enabled\":true,\"oauth_providers\":[\"github\","
      "\"google\",\"microsoft\"],\"saml_enabled\":true,\"saml_allow_external\":true,\"personal_"
      "tokens_enabled\":true,\"personal_tokens_require_allowed_auth_method\":false},\"changes\":[{"
      "\"entity\":\"organization "
      "acme\",\"field\":\"two_factor_required\",\"before\":\"false\",\"after\":\"true\"},{"
      "\"entity\":\"organization "
      "acme\",\"field\":\"version\",\"before\":\"1\",\"after\":\"2\"}]}]}\n");
}

TEST_F(AuditCommandsTest, TokenReport) {
  EXPECT_EQ(Ok({"audit", "token", prefixes_[1]}),
            "Token <token2> (personal)\n"
            "FIELD          VALUE\n"
            "owner          alice\n"
            "created        2026-01-01T00:02:00.000000Z at seq 6 by user:alice\n"
            "method         password\n"
            "session        <token1>\n"
            "expiry         none\n"
            "max age        3600 s\n"
            "recorded uses  0\n"
            "revoked        2026-01-01T00:04:00.000000Z at seq 8 (revoked_by_owner)\n"
            "\n"
            "Access by organization (IP allowlists aside):\n"
            "ORG   FROM                         TO                           DECISION              "
            "  OPENED BY            CLOSED BY\n"
            "acme  2026-01-01T00:02:00.000000Z  2026-01-01T00:04:00.000000Z  allowed               "
            "  seq 6 token_created  seq 8 token_revoked\n"
            "acme  2026-01-01T00:04:00.000000Z  (end of log)                 denied "
            "(token_revoked)  seq 8 token_revoked  -\n");
  EXPECT_EQ(
      Ok({"audit", "token", prefixes_[1], "--json"}),
      "{\"token_prefix\":\"<token2>\",\"kind\":\"personal\",\"owner_user_id\":\"alice\",\"org_id\":"
      "\"\",\"auth_method\":\"password\",\"session_token_prefix\":\"<token1>\",\"created_seq\":6,"
      "\"created_us\":1767225720000000,\"created_by_kind\":\"user\",\"created_by_id\":\"alice\","
      "\"expiry_time_us\":0,\"max_age_seconds\":3600,\"extend_when_used\":false,\"ip_allowlist\":[]"
      ",\"uses\":0,\"last_used_us\":0,\"last_ip\":\"\",\"revoked\":true,\"revoked_seq\":8,"
      "\"revoked_us\":1767225840000000,\"revocation_reason\":\"revoked_by_owner\",\"revocation_"
      "cause\":0,\"revocation_cause_type\":\"\",\"intervals\":[{\"org_id\":\"acme\",\"allowed\":"
      "true,\"reason\":\"ok\",\"from_seq\":6,\"from_us\":1767225720000000,\"from\":\"2026-01-01T00:"
      "02:00.000000Z\",\"opened_by\":\"token_created\",\"to_seq\":8,\"to_us\":1767225840000000,"
      "\"to\":\"2026-01-01T00:04:00.000000Z\",\"closed_by\":\"token_revoked\"},{\"org_id\":"
      "\"acme\",\"allowed\":false,\"reason\":\"token_revoked\",\"from_seq\":8,\"from_us\":"
      "1767225840000000,\"from\":\"2026-01-01T00:04:00.000000Z\",\"opened_by\":\"token_revoked\","
      "\"to_seq\":0,\"to_us\":0,\"to\":\"\",\"closed_by\":\"\"}]}\n");
}

TEST_F(AuditCommandsTest, Explain) {
  EXPECT_EQ(Ok({"audit", "explain", prefixes_[0], "acme", "--at", "7"}),
            "Token <token1> at acme as of seq 7: DENIED (mfa_required_by_organization, rule R2)\n"
            "  ✓ token known: <token1>\n"
            "  ✓ token live\n"
            "  ✓ owner active\n"
            "  ✓ member of organization\n"
            "  ✓ allowed(password)\n"
            "  ✗ two-factor requirement\n");
  EXPECT_EQ(
      Ok({"audit", "explain", prefixes_[1], "acme", "--at", "2026-01-01T00:03:30Z", "--json"}),
      "{\"decision\":{\"allowed\":true,\"reason\":\"ok\",\"rule\":\"R4\",\"token_prefix\":\"<"
      "token2>\",\"user_id\":\"alice\",\"org_id\":\"acme\",\"revision\":7},\"trace\":[{"
      "\"condition\":\"token "
      "known\",\"passed\":true,\"detail\":\"<token2>\"},{\"condition\":\"token "
      "live\",\"passed\":true,\"detail\":\"\"},{\"condition\":\"owner "
      "active\",\"passed\":true,\"detail\":\"\"},{\"condition\":\"member of "
      "organization\",\"passed\":true,\"detail\":\"\"},{\"condition\":\"token IP "
      "allowlist\",\"passed\":true,\"detail\":\"\"},{\"condition\":\"organization IP "
      "allowlist\",\"passed\":true,\"detail\":\"\"},{\"condition\":\"personal_tokens_enabled\","
      "\"passed\":true,\"detail\":\"\"}]}\n");
}

TEST_F(AuditCommandsTest, Impact) {
  EXPECT_EQ(Ok({"audit", "impact", "7"}),
            "Impact of seq 7: 1 flip(s)\n"
            "TOKEN            USER   ORG   BEFORE   AFTER\n"
            "<token1>  alice  acme  allowed  denied (mfa_required_by_organization)\n");
  EXPECT_EQ(Ok({"audit", "impact", "8", "--json"}),
            "{\"seq\":8,\"impact\":[{\"token_prefix\":\"<token2>\",\"user_id\":\"alice\",\"org_"
            "id\":\"acme\",\"allowed_before\":true,\"reason_before\":\"ok\",\"allowed_after\":"
            "false,\"reason_after\":\"token_revoked\"}]}\n");
}

TEST_F(AuditCommandsTest, Who) {
  EXPECT_EQ(
      Ok({"audit", "who", "acme", "--at", "6"}),
      "Who could reach acme at seq 6 (2026-01-01T00:02:00.000000Z)\n"
      "\n"
      "Users:\n"
      "USER   EMAIL           ACTIVE  MANAGED  LOGIN METHODS\n"
      "alice  alice@acme.com  yes     yes      password,oauth:github,oauth:google,oauth:microsoft\n"
      "\n"
      "Tokens allowed (IP allowlists aside):\n"
      "TOKEN            KIND      USER   METHOD\n"
      "<token2>  personal  alice  password\n"
      "<token1>  session   alice  password\n");
  EXPECT_EQ(Ok({"audit", "who", "acme", "--at", "6", "--json"}),
            "{\"org_id\":\"acme\",\"seq\":6,\"time_us\":1767225720000000,\"users\":[{\"user_id\":"
            "\"alice\",\"email\":\"alice@acme.com\",\"active\":true,\"managed\":true,\"login_"
            "methods\":[\"password\",\"oauth:github\",\"oauth:google\",\"oauth:microsoft\"]}],"
            "\"tokens\":[{\"token_prefix\":\"<token2>\",\"kind\":\"personal\",\"user_id\":"
            "\"alice\",\"auth_method\":\"password\"},{\"token_prefix\":\"<token1>\",\"kind\":"
            "\"session\",\"user_id\":\"alice\",\"auth_method\":\"password\"}]}\n");
}

TEST_F(AuditCommandsTest, EventsFilteredAndPaged) {
  EXPECT_EQ(
      Ok({"audit", "events", "--limit", "3"}),
      "SEQ  TIME                         TYPE                  ACTOR         IP            CAUSE\n"
      "1    2026-01-01T00:00:00.000000Z  organization_created  admin:admin1  198.51.100.1  -\n"
      "2    2026-01-01T00:00:00.000000Z  domain_verified       admin:admin1  198.51.100.1  -\n"
      "3    2026-01-01T00:00:00.000000Z  user_registered       admin:admin1  198.51.100.1  -\n"
      "(more: --from-seq 4)\n");
  EXPECT_EQ(Ok({"audit", "events", "--token", prefixes_[1], "--json"}),
            "{\"events\":[{\"seq\":6,\"time_us\":1767225720000000,\"time\":\"2026-01-01T00:02:00."
            "000000Z\",\"type\":\"token_created\",\"actor_kind\":\"user\",\"actor_id\":\"alice\","
            "\"actor_ip\":\"\",\"cause\":0,\"event\":{\"seq\":\"6\",\"time_us\":"
            "\"1767225720000000\",\"actor\":{\"kind\":\"user\",\"id\":\"alice\",\"ip\":\"\","
            "\"request_id\":\"\"},\"cause\":\"0\",\"event\":{\"token_created\":{\"token_prefix\":"
            "\"<token2>\",\"secret_sha256\":\"<hash1>\",\"kind\":\"personal\",\"owner_user_id\":"
            "\"alice\",\"org_id\":\"\",\"auth_method\":\"password\",\"session_token_prefix\":\"<"
            "token1>\",\"two_factor_used\":false,\"description\":\"deploy key, "
            "\\\"prod\\\"\",\"expiry_time_us\":\"0\",\"max_age_seconds\":3600,\"extend_when_used\":"
            "false,\"ip_allowlist\":[],\"scopes\":[]}}}},{\"seq\":8,\"time_us\":1767225840000000,"
            "\"time\":\"2026-01-01T00:04:00.000000Z\",\"type\":\"token_revoked\",\"actor_kind\":"
            "\"user\",\"actor_id\":\"alice\",\"actor_ip\":\"203.0.113.9\",\"cause\":0,\"event\":{"
            "\"seq\":\"8\",\"time_us\":\"1767225840000000\",\"actor\":{\"kind\":\"user\",\"id\":"
            "\"alice\",\"ip\":\"203.0.113.9\",\"request_id\":\"\"},\"cause\":\"0\",\"event\":{"
            "\"token_revoked\":{\"token_prefix\":\"<token2>\",\"owner_user_id\":\"alice\","
            "\"reason\":\"revoked_by_owner\",\"org_id\":\"\"}}}}],\"next_seq\":0}\n");
  EXPECT_EQ(Ok({"audit", "events", "--type", "policy_changed", "--from", "2026-01-01T00:03:00Z"}),
            "SEQ  TIME                         TYPE            ACTOR         IP            CAUSE\n"
            "7    2026-01-01T00:03:00.000000Z  policy_changed  admin:admin1  198.51.100.1  -\n");
}

TEST_F(AuditCommandsTest, ReplayToStepAndDiff) {
  EXPECT_EQ(Ok({"replay", "--to", "6"}),
            "State at seq 6 (2026-01-01T00:02:00.000000Z)\n"
            "  users: 1 (1 active)\n"
            "  tokens: 2 (2 live, 0 revoked)\n"
            "  organizations: 1\n"
            "\n"
            "  acme \"acme Inc\" — policy v1: password oauth:github oauth:google oauth:microsoft "
            "saml(+external) | 2FA required: no | personal tokens: yes\n"
            "    domains: acme.com\n"
            "    members: alice\n"
            "    managed users: alice\n");
  EXPECT_EQ(
      Ok({"replay", "--to", "6", "--json"}),
      "{\"seq\":6,\"time_us\":1767225720000000,\"users\":1,\"active_users\":1,\"tokens\":2,\"live_"
      "tokens\":2,\"revoked_tokens\":0,\"organizations\":[{\"org_id\":\"acme\",\"name\":\"acme "
      "Inc\",\"policy\":{\"version\":1,\"password_auth_enabled\":true,\"two_factor_required\":"
      "false,\"oauth_enabled\":true,\"oauth_providers\":[\"github\",\"google\",\"microsoft\"],"
      "\"saml_enabled\":true,\"saml_allow_external\":true,\"personal_tokens_enabled\":true,"
      "\"personal_tokens_require_allowed_auth_method\":false},\"ip_allowlist\":{\"version\":0,"
      "\"api_client_ip_allowlist_enabled\":false,\"api_client_ip_allowlist\":[]},\"domains\":["
      "\"acme.com\"],\"idps\":[],\"members\":[\"alice\"],\"managed_users\":[\"alice\"],"
      "\"application_users\":[]}]}\n");
  EXPECT_EQ(Ok({"replay", "--from", "7", "--to", "8", "--step"}),
            "seq 7  2026-01-01T00:03:00.000000Z  policy_changed  by admin:admin1\n"
            "    organization acme policy.two_factor_required: false → true\n"
            "    organization acme policy.version: 1 → 2\n"
            "seq 8  2026-01-01T00:04:00.000000Z  token_revoked  by user:alice\n"
            "    token <token2> revoked: false → true\n");
  EXPECT_EQ(Ok({"replay", "--diff", "6", "8"}),
            "ENTITY                 FIELD                       BEFORE   AFTER\n"
            "organization acme      policy.two_factor_required  false    true\n"
            "organization acme      policy.version              1        2\n"
            "token <token2>  revoked                     false    true\n"
            "token <token2>  decision@acme               allowed  denied (token_revoked)\n"
            "token <token1>  decision@acme               allowed  denied "
            "(mfa_required_by_organization)\n");
}

TEST_F(AuditCommandsTest, PolicySetDryRun) {
  EXPECT_EQ(Ok({"policy", "set", "acme", "--password-auth-enabled", "false", "--oauth-providers",
                "google", "--dry-run"}),
            "Dry run for acme (nothing appended)\n"
            "FIELD                  NOW                      PROPOSED\n"
            "oauth_providers        github,google,microsoft  google\n"
            "password_auth_enabled  true                     false\n"
            "\n"
            "No decision flips.\n");
  EXPECT_EQ(
      Ok({"policy", "set", "acme", "--two-factor-required", "false", "--dry-run", "--json"}),
      "{\"org_id\":\"acme\",\"before\":{\"version\":2,\"password_auth_enabled\":true,\"two_factor_"
      "required\":true,\"oauth_enabled\":true,\"oauth_providers\":[\"github\",\"google\","
      "\"microsoft\"],\"saml_enabled\":true,\"saml_allow_external\":true,\"personal_tokens_"
      "enabled\":true,\"personal_tokens_require_allowed_auth_method\":false},\"after\":{"
      "\"version\":3,\"password_auth_enabled\":true,\"two_factor_required\":false,\"oauth_"
      "enabled\":true,\"oauth_providers\":[\"github\",\"google\",\"microsoft\"],\"saml_enabled\":"
      "true,\"saml_allow_external\":true,\"personal_tokens_enabled\":true,\"personal_tokens_"
      "require_allowed_auth_method\":false},\"impact\":[{\"token_prefix\":\"<token1>\",\"user_id\":"
      "\"alice\",\"org_id\":\"acme\",\"allowed_before\":false,\"reason_before\":\"mfa_required_by_"
      "organization\",\"allowed_after\":true,\"reason_after\":\"ok\"}]}\n");
}

TEST_F(AuditCommandsTest, MistakesGetAReasonAndExitCodeOne) {
  CliRun run = Run({"audit", "explain", prefixes_[0], "acme", "--at", "last tuesday"});
  EXPECT_EQ(run.code, 1);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err.rfind("authledger: invalid_moment: ", 0), 0u) << run.err;
  run = Run({"audit", "policy", "nobody"});
  EXPECT_EQ(run.code, 1);
  EXPECT_EQ(run.err, "authledger: unknown_organization: no organization nobody in the log\n");
  run = Run({"audit", "impact", "99"});
  EXPECT_EQ(run.code, 1);
  EXPECT_EQ(run.err.rfind("authledger: seq_out_of_range: ", 0), 0u) << run.err;
  run = Run({"policy", "set", "acme", "--saml-enabled", "false"});
  EXPECT_EQ(run.code, 1);
  EXPECT_EQ(run.err.rfind("authledger: dry_run_only: ", 0), 0u) << run.err;
  run = Run({"policy", "set", "acme", "--saml-enabled", "maybe", "--dry-run"});
  EXPECT_NE(run.code, 0);
  run = Run({"audit", "events", "--limit", "0"});
  EXPECT_EQ(run.code, 1);
  EXPECT_EQ(run.err.rfind("authledger: invalid_limit: ", 0), 0u) << run.err;
}

}  // namespace
}  // namespace authledger::testing
