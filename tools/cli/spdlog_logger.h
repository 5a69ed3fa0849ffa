// The engine's Logger on spdlog: the only place that configures log sinks.
//
// Thread-safety: spdlog loggers are thread-safe.
#pragma once

#include <authledger/engine.h>
#include <spdlog/spdlog.h>

#include <memory>

namespace authledger::cli {

class SpdlogLogger : public Logger {
 public:
  explicit SpdlogLogger(std::shared_ptr<spdlog::logger> logger) : logger_(std::move(logger)) {}
  void Log(Level level, std::string_view message) override {
    switch (level) {
      case Level::kDebug:
        logger_->debug("{}", message);
        break;
      case Level::kInfo:
        logger_->info("{}", message);
        break;
      case Level::kWarning:
        logger_->warn("{}", message);
        break;
      case Level::kError:
        logger_->error("{}", message);
        break;
    }
  }

 private:
  std::shared_ptr<spdlog::logger> logger_;
};

enum class LogFormat { kText, kJson };

// A spdlog logger writing to standard error: text lines
// (`2026-01-31T14:02:00.000000Z info name: message`), or JSON lines
// ({"time":…,"level":…,"logger":…,"message":…}, the message escaped).
std::shared_ptr<spdlog::logger> StderrSpdlog(const std::string& name,
                                             LogFormat format = LogFormat::kText);

// The engine's Logger over StderrSpdlog.
std::shared_ptr<Logger> StderrLogger(const std::string& name);

}  // namespace authledger::cli
