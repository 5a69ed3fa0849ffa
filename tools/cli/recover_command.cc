// `authledger recover --data DIR [--yes]`: rebuilds a log the engine refuses from its
// last good prefix (<authledger/recovery.h>). Without --yes it is a dry run: it prints
// what would be dropped, changes nothing and exits 3 if recovery is needed. With --yes
// it rebuilds, keeps the damaged log as DIR.damaged-<time>, stores a recovery record in
// the rebuilt log and logs it (spdlog, standard error). Exit 0: recovered, or nothing
// to recover; 1: the operation failed.
#include <authledger/recovery.h>

#include <string>

#include "tools/cli/commands.h"
#include "tools/cli/spdlog_logger.h"

namespace authledger::cli {

namespace {

std::string SeqList(const std::vector<std::uint64_t>& seqs) {
  std::string text;
  for (auto seq : seqs) text += (text.empty() ? "" : ", ") + std::to_string(seq);
  return text.empty() ? "none" : text;
}

void PrintReport(const RecoveryReport& r, std::ostream& out) {
  if (!r.open_problem.empty()) {
    out << "the engine refuses this log: " << r.open_problem << ": " << r.open_message << "\n";
  }
  if (!r.needed) {
    out << "the log is intact (" << r.kept << " events): nothing to recover\n";
    return;
  }
  out << "events kept:        1.." << r.kept << " of " << r.recorded_size << "\n";
  if (r.kept < r.recorded_size) {
    out << "events dropped:     " << r.kept + 1 << ".." << r.recorded_size << "\n";
  }
  if (!r.reason.empty()) out << "prefix ends:        " << r.reason << ": " << r.message << "\n";
  if (r.root_rewritten) out << "recorded root:      damaged, recomputed from the events\n";
  out << "snapshots kept:     " << SeqList(r.snapshots_kept) << "\n";
  out << "snapshots dropped:  " << SeqList(r.snapshots_dropped) << "\n";
  if (r.applied) {
    out << "recovered; the damaged log is kept as " << r.damaged_copy << "\n";
  } else {
    out << "dry run: nothing changed; run again with --yes to recover\n";
  }
}

}  // namespace

void AddRecoverCommand(CLI::App& app, CommandIo io, int* exit_code) {
  struct Options {
    std::string data = kDefaultDataDir;
    bool yes = false;
  };
  auto o = std::make_shared<Options>();
  auto* sub = app.add_subcommand(
      "recover",
      "Rebuild a damaged log from its last good prefix (the engine must be stopped); "
      "without --yes, only show what would be dropped");
  sub->add_option("--data", o->data, "Data directory of the log")->capture_default_str();
  sub->add_flag("--yes", o->yes, "Drop what does not verify and rebuild the log");
  sub->callback([o, io, exit_code] {
    RecoverOptions options;
    options.apply = o->yes;
    options.logger = StderrLogger("authledger-recover");
    auto report = RecoverLog(o->data, options);
    if (!report.ok()) {
      io.err << "authledger: " << report.status().reason() << ": " << report.status().message()
             << "\n";
      *exit_code = 1;
      return;
    }
    PrintReport(*report, io.out);
    *exit_code = report->needed && !report->applied ? 3 : 0;
  });
}

}  // namespace authledger::cli
