// `[report] prometheus`: the run's figures as a Prometheus textfile, the text exposition format
// node_exporter's textfile collector reads (# HELP and # TYPE before each metric's samples).
//
// Every metric is a gauge named pipe_run_*: the file describes the last run and is replaced by
// the next one, so its values go down as well as up (a counter would make rate() read every
// smaller run as a reset). For the same reason no name ends in _total, which the format keeps
// for counters. Each sample carries config="<config file name>", so the textfiles of several
// jobs on one host can sit side by side (not "job": Prometheus sets that label itself).
#pragma once

#include <expected>
#include <filesystem>
#include <string>

#include "cli/report/run_outcome.hpp"

namespace piperun::cli::report {

std::string format_prometheus_textfile(const RunOutcome& outcome);

// Writes the textfile under a temporary name in `path`'s folder and renames it onto `path`, as
// the textfile collector requires (it must never read half a file). Blocks: call at exit.
// The error names the path and the reason.
std::expected<void, std::string> write_prometheus_textfile(const std::filesystem::path& path,
                                                           const RunOutcome& outcome, bool fsync);

}  // namespace piperun::cli::report
