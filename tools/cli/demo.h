// `authledger demo`: plays the seed story on a fresh data directory and narrates it.
#pragma once

#include <ostream>
#include <string>

namespace authledger::cli {

// Plays the story in `data_dir` (which must be empty or absent; a new temporary
// directory if empty string). Returns the process exit code.
int RunDemo(const std::string& data_dir, std::ostream& out);

}  // namespace authledger::cli
