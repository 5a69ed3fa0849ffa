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

// A logger writing to standard error, text lines.
std::shared_ptr<Logger> StderrLogger(const std::string& name);

}  // namespace authledger::cli
