// What every report says of a finished run: its counts (the first failures among them) and
// how it ended.
// Built once at exit by RunReports; each report formats it in its own file.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/run_stats.hpp"

namespace piperun::cli::report {

struct RunOutcome {
  std::string config_name;  // the config file's name, e.g. "artifacts.toml"
  // The engine's counters; when it returned none (a fatal error, a second signal), what the
  // file records told: counts, bytes of the files done, and the duration measured here.
  pipeline::RunStats stats;
  int exit_code = 0;
  std::string error;     // why the run ended early; empty when the engine returned its stats
  bool uploads = false;  // the upload stage ran: upload figures are meaningful, even when 0
  std::uint64_t peak_rss_bytes = 0;
  std::chrono::system_clock::time_point finished_at;
};

}  // namespace piperun::cli::report
