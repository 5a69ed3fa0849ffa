// ProgressBar: one self-redrawing line for the CLI's long operations (verify, export,
// replay over a long log), shown only at a terminal so that scripts and redirected
// output stay quiet.
//
//   ProgressBar bar(io.err, ProgressBar::IsTerminal(io.err));
//   bar.Update("verify", done, total);   // as often as convenient; redraws are throttled
//   bar.Finish();                        // erases the line (also done by the destructor)
//
// A disabled bar does nothing, so callers need no `if`.
//
// Thread-safety: none; one thread updates a bar.
#pragma once

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>

namespace authledger::cli {

class ProgressBar {
 public:
  // Draws on `out` only if `enabled`.
  ProgressBar(std::ostream& out, bool enabled);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // True iff `out` is std::cerr or std::clog and stderr is a terminal, or std::cout and
  // stdout is one. Any other stream (a file, a test's stringstream) is not.
  static bool IsTerminal(const std::ostream& out);

  bool enabled() const { return enabled_; }

  // "label [#########...........]  45%  450/1000" (total 0: the count only). Redraws at
  // most every 100 ms, and always when done reaches total or the label changes.
  void Update(std::string_view label, std::uint64_t done, std::uint64_t total);
  // Erases the line, leaving the cursor at its start. Nothing more is drawn until the
  // next Update.
  void Finish();

 private:
  std::ostream& out_;
  bool enabled_;
  bool drawn_ = false;
  std::string label_;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace authledger::cli
