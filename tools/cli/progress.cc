#include "tools/cli/progress.h"

#include <unistd.h>

#include <iostream>

namespace authledger::cli {

namespace {

constexpr int kBarWidth = 30;
constexpr auto kRedrawEvery = std::chrono::milliseconds(100);
// ANSI "erase to end of line": clears what a longer previous line left behind.
constexpr const char* kEraseLine = "\x1b[K";

}  // namespace

ProgressBar::ProgressBar(std::ostream& out, bool enabled) : out_(out), enabled_(enabled) {}

ProgressBar::~ProgressBar() { Finish(); }

bool ProgressBar::IsTerminal(const std::ostream& out) {
  if (&out == &std::cerr || &out == &std::clog) return ::isatty(STDERR_FILENO) == 1;
  if (&out == &std::cout) return ::isatty(STDOUT_FILENO) == 1;
  return false;
}

void ProgressBar::Update(std::string_view label, std::uint64_t done, std::uint64_t total) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  const bool complete = total > 0 && done >= total;
  if (drawn_ && label == label_ && !complete && now - last_draw_ < kRedrawEvery) return;
  label_ = std::string(label);
  last_draw_ = now;
  drawn_ = true;

  out_ << '\r' << label_;
  if (total > 0) {
    const std::uint64_t shown = done > total ? total : done;
    const int filled = static_cast<int>(shown * kBarWidth / total);
    const int percent = static_cast<int>(shown * 100 / total);
    out_ << " [" << std::string(static_cast<std::size_t>(filled), '#')
         << std::string(static_cast<std::size_t>(kBarWidth - filled), '.') << "] ";
    if (percent < 100) out_ << ' ';
    if (percent < 10) out_ << ' ';
    out_ << percent << "%  " << shown << '/' << total;
  } else {
    out_ << "  " << done;
  }
  out_ << kEraseLine << std::flush;
}

void ProgressBar::Finish() {
  if (!enabled_ || !drawn_) return;
  out_ << '\r' << kEraseLine << std::flush;
  drawn_ = false;
}

}  // namespace authledger::cli
