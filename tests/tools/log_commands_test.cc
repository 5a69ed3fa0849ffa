// `authledger checkpoint | prove | verify | export` on a fixed log written by the real
// engine with a fake clock: golden human and JSON output, exit codes, and quiet progress.
//
// The log and the normalization of random parts: tests/tools/cli_fixture.h.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "storage/tamper.h"
#include "tests/tools/cli_fixture.h"
#include "tools/cli/commands.h"
#include "tools/cli/progress.h"

namespace authledger::testing {
namespace {

class LogCommandsTest : public CliTest {};

// ---- checkpoint ----

TEST_F(LogCommandsTest, CheckpointPrintsSizeRootAndTime) {
  CliRun run = Cmd({"checkpoint"});
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(Normalized(run.out),
            "size       8\n"
            "root       <hash1>\n"
            "time       2026-01-01T00:04:00.000000Z\n"
            "signature  none (no --key)\n");
  EXPECT_EQ(run.err, "");
}

TEST_F(LogCommandsTest, CheckpointJson) {
  CliRun run = Cmd({"checkpoint", "--json"});
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(Normalized(run.out), R"({"size":8,"root":"<hash1>","time_us":1767225840000000,)"
                                 R"("time":"2026-01-01T00:04:00.000000Z"})"
                                 "\n");
}

// ---- prove ----

TEST_F(LogCommandsTest, ProveInclusionPrintsTheAuditPath) {
  CliRun run = Cmd({"prove", "3", "--size", "7"});
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(Normalized(run.out),
            "inclusion proof  event 3 in the tree of 7 events\n"
            "leaf index       2\n"
            "leaf hash        <hash1>\n"
            "root             <hash2>\n"
            "audit path       3 hashes, leaf to root\n"
            "   1  <hash3>\n"
            "   2  <hash4>\n"
            "   3  <hash5>\n");
}

TEST_F(LogCommandsTest, ProveInclusionJson) {
  CliRun run = Cmd({"prove", "3", "--json"});
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(Normalized(run.out),
            R"({"type":"inclusion","seq":3,"leaf_index":2,"tree_size":8,"leaf_hash":"<hash1>",)"
            R"("root":"<hash2>","audit_path":["<hash3>","<hash4>","<hash5>"],"event":"<bytes>"})"
            "\n");
}

TEST_F(LogCommandsTest, ProveConsistencyPrintsTheProof) {
  CliRun run = Cmd({"prove", "--consistency", "3", "8"});
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(Normalized(run.out),
            "consistency proof  the tree of 3 events is a prefix of the tree of 8 events\n"
            "old root           <hash1>\n"
            "new root           <hash2>\n"
            "proof              4 hashes\n"
            "   1  <hash3>\n"
            "   2  <hash4>\n"
            "   3  <hash5>\n"
            "   4  <hash6>\n");
}

TEST_F(LogCommandsTest, ProveConsistencyJson) {
  CliRun run = Cmd({"prove", "--consistency", "3", "8", "--json"});
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(Normalized(run.out),
            R"({"type":"consistency","old_size":3,"new_size":8,"old_root":"<hash1>",)"
            R"("new_root":"<hash2>","proof":["<hash3>","<hash4>","<hash5>","<hash6>"]})"
            "\n");
}

TEST_F(LogCommandsTest, ProveCheckAcceptsASavedProofAndRefusesAChangedOneWithExitCode3) {
  const std::string proof = Cmd({"prove", "5", "--json"}).out;
  const std::string checkpoint = Cmd({"checkpoint", "--json"}).out;
  CliRun run = Cli({"prove", "--check", WriteFile("proof.json", proof), "--checkpoint",
                    WriteFile("checkpoint.json", checkpoint)});
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(Normalized(run.out),
            "proof   inclusion\n"
            "result  valid\n"
            "detail  event 5 is leaf 4 of the tree of 8 events with root <hash1>\n");

  std::string changed = proof;
  const std::size_t at = changed.find("\"root\":\"") + 8;
  changed[at] = changed[at] == '0' ? '1' : '0';
  run = Cli({"prove", "--check", WriteFile("changed.json", changed), "--json"});
  EXPECT_EQ(run.code, 3);
  EXPECT_EQ(run.out,
            R"({"valid":false,"type":"inclusion","reason":"proof_invalid",)"
            R"("message":"the audit path does not lead from leaf 4 to the root of the tree of 8"})"
            "\n");

  // The checkpoint an auditor kept one event earlier: the proof is not about its tree.
  const std::string to_8 = Cmd({"prove", "--consistency", "7", "8", "--json"}).out;
  const std::string root_7 = to_8.substr(to_8.find("\"old_root\":\"") + 12, 64);
  const std::string old_checkpoint =
      WriteFile("old.json", R"({"size":7,"root":")" + root_7 + R"(","time_us":1767225780000000})");
  run = Cli({"prove", "--check", WriteFile("proof.json", proof), "--checkpoint", old_checkpoint});
  EXPECT_EQ(run.code, 3);
  EXPECT_EQ(run.out,
            "proof   inclusion\n"
            "result  INVALID (checkpoint_mismatch)\n"
            "detail  the proof is about the tree of 8 events, not the checkpoint's tree of 7\n");
}

TEST_F(LogCommandsTest, ProveRefusesWhatItCannotProveWithExitCode1) {
  CliRun run = Cmd({"prove", "9"});
  EXPECT_EQ(run.code, 1);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err, "authledger: proof_out_of_range: no event 9 in a tree of 8 (log size 8)\n");
  run = Cmd({"prove"});
  EXPECT_EQ(run.code, 1);
  EXPECT_EQ(run.err, "authledger: usage: give SEQ, --consistency M N or --check FILE\n");
  run = Cli({"prove", "--check", files_.Sub("absent.json")});
  EXPECT_EQ(run.code, 1);
  EXPECT_EQ(Normalized(run.err).rfind("authledger: file_unreadable: cannot read ", 0), 0u);
  run = Cli({"prove", "--check", WriteFile("junk.json", "{\"type\":\"inclusion\"}")});
  EXPECT_EQ(run.code, 1);
  EXPECT_EQ(run.err, "authledger: proof_malformed: 'leaf_index' is missing\n");
}

// ---- verify ----

TEST_F(LogCommandsTest, VerifyPrintsWhatItCheckedAndOk) {
  const std::string checkpoint = WriteFile("checkpoint.json", Cmd({"checkpoint", "--json"}).out);
  CliRun run = Cmd({"verify", "--checkpoint", checkpoint});
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(Normalized(run.out),
            "events       8\n"
            "root         <hash1>\n"
            "leaves       all recomputed from the events; root matches\n"
            "checkpoints  1 kept checkpoint consistent with the log\n"
            "snapshots    at seq 6, 8: equal to the state replayed from the events\n"
            "result       ok\n");
  EXPECT_EQ(run.err, "") << "no progress bar off a terminal";
}

TEST_F(LogCommandsTest, VerifyJson) {
  CliRun run = Cmd({"verify", "--json"});
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(Normalized(run.out),
            R"({"ok":true,"size":8,"root":"<hash1>","checkpoints_checked":0,"snapshots":[6,8]})"
            "\n");
}

TEST_F(LogCommandsTest, VerifyNamesTheFirstBadSeqWithExitCode3) {
  ASSERT_TRUE(storage::tamper::SwapEvents(dir_.path(), 5, 6).ok());
  CliRun run = Cmd({"verify"});
  EXPECT_EQ(run.code, 3);
  EXPECT_EQ(Normalized(run.out),
            "events         8\n"
            "root           <hash1>\n"
            "result         FAILED\n"
            "problem        event_tampered\n"
            "first bad seq  5\n"
            "detail         event 5: holds seq 6\n");
  run = Cmd({"verify", "--json"});
  EXPECT_EQ(run.code, 3);
  EXPECT_EQ(Normalized(run.out),
            R"({"ok":false,"size":8,"root":"<hash1>","checkpoints_checked":0,"snapshots":[],)"
            R"("problem":"event_tampered","bad_seq":5,"message":"event 5: holds seq 6"})"
            "\n");
}

TEST_F(LogCommandsTest, VerifyAgainstAKeptCheckpointCatchesATruncatedTail) {
  const std::string checkpoint = WriteFile("checkpoint.json", Cmd({"checkpoint", "--json"}).out);
  ASSERT_TRUE(storage::tamper::TruncateTail(dir_.path(), 6).ok());
  EXPECT_EQ(Cmd({"verify"}).code, 0) << "consistently cut, the log alone looks whole";
  CliRun run = Cmd({"verify", "--checkpoint", checkpoint, "--json"});
  EXPECT_EQ(run.code, 3);
  EXPECT_EQ(Normalized(run.out),
            R"({"ok":false,"size":6,"root":"<hash1>","checkpoints_checked":0,"snapshots":[],)"
            R"("problem":"checkpoint_beyond_log","bad_seq":7,"message":"the kept checkpoint )"
            R"(of 8 events is longer than the log (6 events): events 7..8 are gone"})"
            "\n");
}

TEST_F(LogCommandsTest, SignedCheckpointIsCheckedByVerifyWithThePublicKey) {
  // Keys as `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout` write them.
  auto write_key = [&](const std::string& name, bool public_too) {
    EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
    FILE* f = std::fopen(files_.Sub(name + ".pem").c_str(), "w");
    PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
    if (public_too) {
      f = std::fopen(files_.Sub(name + ".pub.pem").c_str(), "w");
      PEM_write_PUBKEY(f, key);
      std::fclose(f);
    }
    EVP_PKEY_free(key);
  };
  write_key("operator", true);
  write_key("other", true);
  CliRun run = Cmd({"checkpoint", "--key", files_.Sub("operator.pem")});
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(std::regex_replace(Normalized(run.out), std::regex("[0-9a-f]{128}|[0-9a-f]{16}"), "#"),
            "size       8\n"
            "root       <hash1>\n"
            "time       2026-01-01T00:04:00.000000Z\n"
            "signature  <bytes>\n"
            "key id     #\n");
  const std::string kept = WriteFile(
      "signed.json", Cmd({"checkpoint", "--key", files_.Sub("operator.pem"), "--json"}).out);
  run = Cmd({"verify", "--checkpoint", kept});
  EXPECT_EQ(run.code, 1);
  EXPECT_EQ(run.err,
            "authledger: public_key_required: a kept checkpoint is signed: give the public key "
            "to check it\n");
  EXPECT_EQ(
      Cmd({"verify", "--checkpoint", kept, "--public-key", files_.Sub("operator.pub.pem")}).code,
      0);
  run = Cmd({"verify", "--checkpoint", kept, "--public-key", files_.Sub("other.pub.pem")});
  EXPECT_EQ(run.code, 3);
  EXPECT_NE(run.out.find("problem        checkpoint_signature_invalid\n"), std::string::npos)
      << run.out;
}

TEST_F(LogCommandsTest, ToolsWithoutALogFailWithExitCode1AndTheReason) {
  for (const char* command : {"checkpoint", "verify", "export"}) {
    CliRun run = Cli({command, "--data", dir_.Sub("missing")});
    EXPECT_EQ(run.code, 1) << command;
    EXPECT_EQ(Normalized(run.err), "authledger: log_not_found: no event log at <dir>/missing\n")
        << command;
    EXPECT_EQ(run.out, "") << command;
  }
}

// ---- export ----

TEST_F(LogCommandsTest, ExportJsonLines) {
  CliRun run = Cmd({"export", "--from", "5", "--to", "8"});
  EXPECT_EQ(run.code, 0) << run.err;
  // 64-bit integers are strings and enum values the schema's names, as Cap'n Proto's
  // JSON codec writes them (so that it decodes them back).
  EXPECT_EQ(
      Normalized(run.out),
      R"({"seq":"5","time_us":"1767225660000000","actor":{"kind":"user","id":"alice","ip":"","request_id":""},"cause":"0","event":{"token_created":{"token_prefix":"<token1>","secret_sha256":"<hash1>","kind":"session","owner_user_id":"alice","org_id":"","auth_method":"password","session_token_prefix":"","two_factor_used":false,"description":"","expiry_time_us":"0","max_age_seconds":86400,"extend_when_used":true,"ip_allowlist":[],"scopes":[]}}})"
      "\n"
      R"({"seq":"6","time_us":"1767225720000000","actor":{"kind":"user","id":"alice","ip":"","request_id":""},"cause":"0","event":{"token_created":{"token_prefix":"<token2>","secret_sha256":"<hash2>","kind":"personal","owner_user_id":"alice","org_id":"","auth_method":"password","session_token_prefix":"<token1>","two_factor_used":false,"description":"deploy key, \"prod\"","expiry_time_us":"0","max_age_seconds":3600,"extend_when_used":false,"ip_allowlist":[],"scopes":[]}}})"
      "\n"
      R"({"seq":"7","time_us":"1767225780000000","actor":{"kind":"admin","id":"admin1","ip":"198.51.100.1","request_id":""},"cause":"0","event":{"policy_changed":{"org_id":"acme","policy":{"version":"2","password_auth_enabled":true,"two_factor_required":true,"oauth_enabled":true,"oauth_providers":["github","google","microsoft"],"saml_enabled":true,"saml_allow_external":true,"personal_tokens_enabled":true,"personal_tokens_require_allowed_auth_method":false},"forced":false}}})"
      "\n"
      R"({"seq":"8","time_us":"1767225840000000","actor":{"kind":"user","id":"alice","ip":"203.0.113.9","request_id":""},"cause":"0","event":{"token_revoked":{"token_prefix":"<token2>","owner_user_id":"alice","reason":"revoked_by_owner","org_id":""}}})"
      "\n");
  for (const auto& secret : secrets_) EXPECT_EQ(run.out.find(secret.substr(15)), std::string::npos);
}

TEST_F(LogCommandsTest, ExportCsv) {
  CliRun run = Cmd({"export", "--format", "csv", "--from", "5", "--to", "8"});
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(
      Normalized(run.out),
      R"(seq,time,type,actor_kind,actor_id,actor_ip,cause,org_id,user_id,token_prefix,idp_id,domain,json)"
      "\r\n"
      R"(5,2026-01-01T00:01:00.000000Z,token_created,user,alice,,0,,alice,<token1>,,,"{""seq"":""5"",""time_us"":""1767225660000000"",""actor"":{""kind"":""user"",""id"":""alice"",""ip"":"""",""request_id"":""""},""cause"":""0"",""event"":{""token_created"":{""token_prefix"":""<token1>"",""secret_sha256"":""<hash1>"",""kind"":""session"",""owner_user_id"":""alice"",""org_id"":"""",""auth_method"":""password"",""session_token_prefix"":"""",""two_factor_used"":false,""description"":"""",""expiry_time_us"":""0"",""max_age_seconds"":86400,""extend_when_used"":true,""ip_allowlist"":[],""scopes"":[]}}}")"
      "\r\n"
      R"(6,2026-01-01T00:02:00.000000Z,token_created,user,alice,,0,,alice,<token2> <token1>,,,"{""seq"":""6"",""time_us"":""1767225720000000"",""actor"":{""kind"":""user"",""id"":""alice"",""ip"":"""",""request_id"":""""},""cause"":""0"",""event"":{""token_created"":{""token_prefix"":""<token2>"",""secret_sha256"":""<hash2>"",""kind"":""personal"",""owner_user_id"":""alice"",""org_id"":"""",""auth_method"":""password"",""session_token_prefix"":""<token1>"",""two_factor_used"":false,""description"":""deploy key, \""prod\"""",""expiry_time_us"":""0"",""max_age_seconds"":3600,""extend_when_used"":false,""ip_allowlist"":[],""scopes"":[]}}}")"
      "\r\n"
      R"(7,2026-01-01T00:03:00.000000Z,policy_changed,admin,admin1,198.51.100.1,0,acme,,,,,"{""seq"":""7"",""time_us"":""1767225780000000"",""actor"":{""kind"":""admin"",""id"":""admin1"",""ip"":""198.51.100.1"",""request_id"":""""},""cause"":""0"",""event"":{""policy_changed"":{""org_id"":""acme"",""policy"":{""version"":""2"",""password_auth_enabled"":true,""two_factor_required"":true,""oauth_enabled"":true,""oauth_providers"":[""github"",""google"",""microsoft""],""saml_enabled"":true,""saml_allow_external"":true,""personal_tokens_enabled"":true,""personal_tokens_require_allowed_auth_method"":false},""forced"":false}}}")"
      "\r\n"
      R"(8,2026-01-01T00:04:00.000000Z,token_revoked,user,alice,203.0.113.9,0,,alice,<token2>,,,"{""seq"":""8"",""time_us"":""1767225840000000"",""actor"":{""kind"":""user"",""id"":""alice"",""ip"":""203.0.113.9"",""request_id"":""""},""cause"":""0"",""event"":{""token_revoked"":{""token_prefix"":""<token2>"",""owner_user_id"":""alice"",""reason"":""revoked_by_owner"",""org_id"":""""}}}")"
      "\r\n");
}

TEST_F(LogCommandsTest, ExportToAFileSaysHowManyEvents) {
  const std::string path = files_.Sub("events.jsonl");
  CliRun run = Cmd({"export", "--out", path});
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(run.out, "exported 8 events to " + path + "\n");
  std::ifstream in(path, std::ios::binary);
  std::string written((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(written, Cmd({"export"}).out);
  EXPECT_NE(Cmd({"export", "--format", "xml"}).code, 0);
}

// ---- progress ----

TEST(ProgressBar, DrawsThrottledAndErasesOnlyWhenEnabled) {
  std::ostringstream quiet;
  EXPECT_FALSE(cli::ProgressBar::IsTerminal(quiet));
  {
    cli::ProgressBar bar(quiet, cli::ProgressBar::IsTerminal(quiet));
    bar.Update("verify", 1, 2);
    bar.Finish();
  }
  EXPECT_EQ(quiet.str(), "");

  std::ostringstream shown;
  {
    cli::ProgressBar bar(shown, /*enabled=*/true);
    bar.Update("export", 25, 100);
    bar.Update("export", 26, 100);  // within 100 ms of the last redraw: skipped
    bar.Update("export", 100, 100);
  }
  EXPECT_EQ(shown.str(),
            "\rexport [#######.......................]  25%  25/100\x1b[K"
            "\rexport [##############################] 100%  100/100\x1b[K"
            "\r\x1b[K");
}

}  // namespace
}  // namespace authledger::testing
