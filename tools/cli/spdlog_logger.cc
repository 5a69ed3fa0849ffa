#include "tools/cli/spdlog_logger.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace authledger::cli {

std::shared_ptr<Logger> StderrLogger(const std::string& name) {
  // Not registered with spdlog's global registry: whoever needs it is handed it.
  auto logger = std::make_shared<spdlog::logger>(
      name, std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %^%l%$ %n: %v", spdlog::pattern_time_type::utc);
  return std::make_shared<SpdlogLogger>(std::move(logger));
}

}  // namespace authledger::cli
