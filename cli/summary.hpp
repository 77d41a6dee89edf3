// The summary at the end of a run: human lines for stderr, and the --json document for stdout.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

#include "pipeline/engine.hpp"
#include "pipeline/run_stats.hpp"

namespace piperun::cli {

// The first line: counts, bytes, duration, throughput, uploads.
std::string format_summary(const pipeline::RunStats& stats);

// The lines after it (each ending in a newline): bytes and throughput per stage, where the
// files waited, peak RSS, and the first failed files.
std::string format_summary_details(const pipeline::RunStats& stats, std::uint64_t peak_rss_bytes);

// Where the files waited, by share of the time: "input 15%, compress 52%, write 33%" (places
// under half a percent left out); empty when nothing was measured.
std::string format_waited(const pipeline::RunStats& stats);

// One JSON document: the summary (or the error that ended the run) and the failures, with the
// exit code the process returns.
std::string format_json_summary(const std::expected<pipeline::RunStats, pipeline::RunError>& run,
                                int exit_code, std::uint64_t peak_rss_bytes);

// The --json document of a run that ended in an error before or instead of a summary: kind
// "usage" (a bad config or argument), "no_files", "fatal" or "interrupted".
std::string format_json_error(std::string_view kind, std::string_view message, int exit_code,
                              std::uint64_t peak_rss_bytes);

// The process's peak resident set so far (getrusage).
std::uint64_t peak_rss_bytes();

}  // namespace piperun::cli
