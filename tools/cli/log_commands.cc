// `authledger checkpoint | prove | verify | export`: the log tools of
// <authledger/log_tools.h> as subcommands (see commands.h for the shared conventions).
#include <authledger/log_tools.h>

#include <fstream>
#include <iomanip>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "tools/cli/commands.h"
#include "tools/cli/format.h"
#include "tools/cli/progress.h"

namespace authledger::cli {

namespace {

constexpr int kOk = 0;
constexpr int kFailed = 1;
constexpr int kProblemFound = 3;

// The options every log tool takes.
struct Common {
  std::string data = kDefaultDataDir;
  bool json = false;
};

void AddCommon(CLI::App* sub, Common* common, bool with_json = true) {
  sub->add_option("--data", common->data, "Data directory of the log (opened read-only)")
      ->capture_default_str();
  if (with_json) sub->add_flag("--json", common->json, "Print JSON instead of a table");
}

int Fail(CommandIo io, const Status& status) {
  io.err << "authledger: " << status.reason() << ": " << status.message() << "\n";
  return kFailed;
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (!in || !(text << in.rdbuf())) {
    return Status::IoError("file_unreadable", "cannot read " + path);
  }
  return text.str();
}

Result<LogCheckpoint> ReadCheckpointFile(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  auto checkpoint = CheckpointFromJson(*text);
  if (!checkpoint.ok()) {
    return Status::InvalidArgument(checkpoint.status().reason(),
                                   path + ": " + std::string(checkpoint.status().message()));
  }
  return checkpoint;
}

// "label   value" rows with the labels padded to one width.
class LabelTable {
 public:
  LabelTable& Row(std::string label, std::string value) {
    width_ = std::max(width_, label.size());
    rows_.emplace_back(std::move(label), std::move(value));
    return *this;
  }
  void Print(std::ostream& out) const {
    for (const auto& [label, value] : rows_) {
      out << std::left << std::setw(static_cast<int>(width_ + 2)) << label << value << "\n";
    }
  }

 private:
  std::size_t width_ = 0;
  std::vector<std::pair<std::string, std::string>> rows_;
};

void PrintHashes(std::ostream& out, const std::vector<std::string>& hashes) {
  for (std::size_t i = 0; i < hashes.size(); ++i) {
    out << "  " << std::right << std::setw(2) << i + 1 << "  " << hashes[i] << "\n";
  }
}

// "1 event", "2 events"; "1 hash", "2 hashes".
std::string Plural(std::uint64_t n, const std::string& word) {
  const bool sibilant = word.ends_with("s") || word.ends_with("sh") || word.ends_with("ch");
  return std::to_string(n) + " " + word + (n == 1 ? "" : sibilant ? "es" : "s");
}

// ---- checkpoint ----

void AddCheckpoint(CLI::App& app, CommandIo io, int* exit_code) {
  struct Options {
    Common common;
    std::string key_file;
  };
  auto o = std::make_shared<Options>();
  auto* sub = app.add_subcommand("checkpoint",
                                 "The log's size, Merkle root and time, signed "
                                 "with --key; keep its --json to verify later");
  AddCommon(sub, &o->common);
  sub->add_option("--key", o->key_file, "Ed25519 private key (PEM) to sign the checkpoint");
  sub->callback([o, io, exit_code] {
    auto c = ReadCheckpoint(o->common.data, o->key_file);
    if (!c.ok()) {
      *exit_code = Fail(io, c.status());
      return;
    }
    if (o->common.json) {
      io.out << CheckpointToJson(*c) << "\n";
    } else {
      LabelTable table;
      table.Row("size", std::to_string(c->size)).Row("root", c->root_hex);
      table.Row("time", c->size == 0 ? "-" : FormatTime(c->time_us));
      if (c->signature_hex.empty()) {
        table.Row("signature", "none (no --key)");
      } else {
        table.Row("signature", c->signature_hex).Row("key id", c->key_id);
      }
      table.Print(io.out);
    }
    *exit_code = kOk;
  });
}

// ---- prove ----

struct ProveOptions {
  Common common;
  std::uint64_t seq = 0;
  std::uint64_t size = 0;
  std::vector<std::uint64_t> consistency;
  std::string check_file;
  std::string checkpoint_file;
  std::string public_key_file;
  const CLI::Option* seq_given = nullptr;  // owned by the app
};

int ProveInclusionCommand(const ProveOptions& o, CommandIo io) {
  auto proof = ProveInclusion(o.common.data, o.seq, o.size);
  if (!proof.ok()) return Fail(io, proof.status());
  if (o.common.json) {
    io.out << ProofToJson(*proof) << "\n";
    return kOk;
  }
  LabelTable table;
  table.Row("inclusion proof", "event " + std::to_string(proof->seq) + " in the tree of " +
                                   Plural(proof->tree_size, "event"));
  table.Row("leaf index", std::to_string(proof->leaf_index)).Row("leaf hash", proof->leaf_hash_hex);
  table.Row("root", proof->root_hex);
  table.Row("audit path", Plural(proof->audit_path_hex.size(), "hash") + ", leaf to root");
  table.Print(io.out);
  PrintHashes(io.out, proof->audit_path_hex);
  return kOk;
}

int ProveConsistencyCommand(const ProveOptions& o, CommandIo io) {
  auto proof = ProveConsistency(o.common.data, o.consistency[0], o.consistency[1]);
  if (!proof.ok()) return Fail(io, proof.status());
  if (o.common.json) {
    io.out << ProofToJson(*proof) << "\n";
    return kOk;
  }
  LabelTable table;
  table.Row("consistency proof", "the tree of " + Plural(proof->old_size, "event") +
                                     " is a prefix of the tree of " +
                                     Plural(proof->new_size, "event"));
  table.Row("old root", proof->old_root_hex).Row("new root", proof->new_root_hex);
  table.Row("proof", Plural(proof->proof_hex.size(), "hash"));
  table.Print(io.out);
  PrintHashes(io.out, proof->proof_hex);
  return kOk;
}

void PrintCheck(const ProofCheck& check, bool json, std::ostream& out) {
  if (json) {
    out << ProofCheckToJson(check) << "\n";
    return;
  }
  LabelTable table;
  table.Row("proof", check.type);
  table.Row("result", check.valid ? "valid" : "INVALID (" + check.reason + ")");
  table.Row("detail", check.message);
  table.Print(out);
}

int CheckProofCommand(const ProveOptions& o, CommandIo io) {
  auto text = ReadFile(o.check_file);
  if (!text.ok()) return Fail(io, text.status());
  std::optional<LogCheckpoint> trusted;
  if (!o.checkpoint_file.empty()) {
    auto c = ReadCheckpointFile(o.checkpoint_file);
    if (!c.ok()) return Fail(io, c.status());
    trusted = *c;
  }
  if (trusted && !trusted->signature_hex.empty() && !o.public_key_file.empty()) {
    auto signed_ok = CheckpointSignatureValid(*trusted, o.public_key_file);
    if (!signed_ok.ok()) return Fail(io, signed_ok.status());
    if (!*signed_ok) {
      PrintCheck({false, "checkpoint", "checkpoint_signature_invalid",
                  "the checkpoint is not signed by the given public key"},
                 o.common.json, io.out);
      return kProblemFound;
    }
  }
  auto check = CheckProofJson(*text, trusted);
  if (!check.ok()) return Fail(io, check.status());
  PrintCheck(*check, o.common.json, io.out);
  return check->valid ? kOk : kProblemFound;
}

void AddProve(CLI::App& app, CommandIo io, int* exit_code) {
  auto o = std::make_shared<ProveOptions>();
  auto* sub = app.add_subcommand(
      "prove", "Inclusion proof of event SEQ, consistency proof M→N, or check a proof (--check)");
  AddCommon(sub, &o->common);
  auto* seq = sub->add_option("seq", o->seq, "The event to prove (inclusion proof)");
  o->seq_given = seq;
  sub->add_option("--size", o->size, "Tree size to prove against (default: the current size)")
      ->needs(seq);
  auto* consistency =
      sub->add_option("--consistency", o->consistency, "Prove the tree of M events a prefix of N")
          ->expected(2)
          ->excludes(seq);
  auto* check = sub->add_option("--check", o->check_file,
                                "Verify a proof saved with --json (hashing only, no log needed)")
                    ->excludes(seq)
                    ->excludes(consistency);
  sub->add_option("--checkpoint", o->checkpoint_file,
                  "With --check: a checkpoint kept earlier the proof must be about")
      ->needs(check);
  sub->add_option("--public-key", o->public_key_file,
                  "With --checkpoint: Ed25519 public key (PEM) its signature must verify with")
      ->needs(check);
  sub->callback([o, io, exit_code] {
    if (!o->check_file.empty()) {
      *exit_code = CheckProofCommand(*o, io);
    } else if (!o->consistency.empty()) {
      *exit_code = ProveConsistencyCommand(*o, io);
    } else if (o->seq_given->count() > 0) {
      *exit_code = ProveInclusionCommand(*o, io);
    } else {
      *exit_code =
          Fail(io, Status::InvalidArgument("usage", "give SEQ, --consistency M N or --check FILE"));
    }
  });
}

// ---- verify ----

void PrintVerify(const VerifyReport& r, bool json, std::ostream& out) {
  if (json) {
    out << VerifyReportToJson(r) << "\n";
    return;
  }
  LabelTable table;
  // A log that does not even open has no size or root to show.
  if (!r.root_hex.empty()) table.Row("events", std::to_string(r.size)).Row("root", r.root_hex);
  if (!r.ok()) {
    table.Row("result", "FAILED");
    table.Row("problem", r.problem);
    table.Row("first bad seq", r.bad_seq == 0 ? "-" : std::to_string(r.bad_seq));
    table.Row("detail", r.message);
    table.Print(out);
    return;
  }
  table.Row("leaves", "all recomputed from the events; root matches");
  table.Row("checkpoints",
            r.checkpoints_checked == 0
                ? "none given"
                : Plural(r.checkpoints_checked, "kept checkpoint") + " consistent with the log");
  std::string snapshots;
  if (r.snapshot_seqs.empty())
    snapshots = r.snapshots_unread.empty() ? "none stored" : "none compared";
  for (std::size_t i = 0; i < r.snapshot_seqs.size(); ++i) {
    snapshots += (i == 0 ? "at seq " : ", ") + std::to_string(r.snapshot_seqs[i]);
  }
  if (!r.snapshot_seqs.empty()) snapshots += ": equal to the state replayed from the events";
  table.Row("snapshots", snapshots);
  if (!r.snapshots_unread.empty()) {
    std::string unread;
    for (std::uint64_t seq : r.snapshots_unread) {
      unread += (unread.empty() ? "at seq " : ", ") + std::to_string(seq);
    }
    table.Row("not compared", unread + ": stored in a format this build does not read");
  }
  table.Row("result", "ok");
  table.Print(out);
}

void AddVerify(CLI::App& app, CommandIo io, int* exit_code) {
  struct Options {
    Common common;
    std::vector<std::string> checkpoint_files;
    std::string public_key_file;
  };
  auto o = std::make_shared<Options>();
  auto* sub = app.add_subcommand(
      "verify",
      "Recompute every leaf and the root, check kept checkpoints, and replay the "
      "whole log against the stored snapshots; exit 3 names the first bad seq");
  AddCommon(sub, &o->common);
  sub->add_option("--checkpoint", o->checkpoint_files,
                  "A checkpoint kept earlier (checkpoint --json); the log must extend it");
  sub->add_option("--public-key", o->public_key_file,
                  "Ed25519 public key (PEM) the kept checkpoints' signatures must verify with");
  sub->callback([o, io, exit_code] {
    VerifyOptions options;
    options.public_key_file = o->public_key_file;
    for (const auto& file : o->checkpoint_files) {
      auto c = ReadCheckpointFile(file);
      if (!c.ok()) {
        *exit_code = Fail(io, c.status());
        return;
      }
      options.trusted_checkpoints.push_back(*c);
    }
    ProgressBar bar(io.err, ProgressBar::IsTerminal(io.err));
    options.progress = [&bar](std::string_view stage, std::uint64_t done, std::uint64_t total) {
      bar.Update(stage, done, total);
    };
    auto report = VerifyLog(o->common.data, options);
    bar.Finish();
    if (!report.ok()) {
      *exit_code = Fail(io, report.status());
      return;
    }
    PrintVerify(*report, o->common.json, io.out);
    *exit_code = report->ok() ? kOk : kProblemFound;
  });
}

// ---- export ----

void AddExport(CLI::App& app, CommandIo io, int* exit_code) {
  struct Options {
    Common common;
    std::string format = "jsonl";
    std::uint64_t from = 1;
    std::uint64_t to = 0;
    std::string out_file;
  };
  auto o = std::make_shared<Options>();
  auto* sub = app.add_subcommand(
      "export", "Write the events as JSON Lines (Cap'n Proto's JSON codec) or CSV");
  AddCommon(sub, &o->common, /*with_json=*/false);
  sub->add_option("--format", o->format, "jsonl or csv")
      ->check(CLI::IsMember({"jsonl", "csv"}))
      ->capture_default_str();
  sub->add_option("--from", o->from, "First seq (default 1)");
  sub->add_option("--to", o->to, "Last seq (default: the last event)");
  sub->add_option("--out", o->out_file, "Write to this file instead of standard output");
  sub->callback([o, io, exit_code] {
    ExportOptions options;
    options.format = o->format == "csv" ? ExportFormat::kCsv : ExportFormat::kJsonLines;
    options.from_seq = o->from;
    options.to_seq = o->to;
    ProgressBar bar(io.err, ProgressBar::IsTerminal(io.err));
    options.progress = [&bar](std::uint64_t done, std::uint64_t total) {
      bar.Update("export", done, total);
    };
    std::ofstream file;
    if (!o->out_file.empty()) {
      file.open(o->out_file, std::ios::binary | std::ios::trunc);
      if (!file) {
        *exit_code = Fail(io, Status::IoError("file_unwritable", "cannot write " + o->out_file));
        return;
      }
    }
    std::ostream& out = o->out_file.empty() ? io.out : file;
    auto written = ExportEvents(o->common.data, out, options);
    bar.Finish();
    if (!written.ok()) {
      *exit_code = Fail(io, written.status());
      return;
    }
    if (!o->out_file.empty()) {
      io.out << "exported " << Plural(*written, "event") << " to " << o->out_file << "\n";
    }
    *exit_code = kOk;
  });
}

}  // namespace

void AddLogCommands(CLI::App& app, CommandIo io, int* exit_code) {
  AddCheckpoint(app, io, exit_code);
  AddProve(app, io, exit_code);
  AddVerify(app, io, exit_code);
  AddExport(app, io, exit_code);
}

}  // namespace authledger::cli
