// The CI reports of one run, owned together: the event log ([report] events), the Prometheus
// textfile ([report] prometheus) and the GitHub Actions step summary (GITHUB_STEP_SUMMARY).
// The job command makes one after loading the config, feeds it every file record, and calls
// finish() on every way out of the run, so the reports also say how a failed or interrupted run
// ended, with what is known.
//
// Threads: open() and finish() block (files, rename) and run before and after the engine;
// on_file_done() runs on the I/O thread (the engine's hook) and never blocks.
#pragma once

#include <chrono>
#include <expected>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cli/config.hpp"
#include "cli/report/event_log.hpp"
#include "cli/report/record_tally.hpp"
#include "pipeline/engine.hpp"
#include "pipeline/file_record.hpp"

namespace piperun::cli::report {

class RunReports {
 public:
  // Reads GITHUB_STEP_SUMMARY from the environment. Starts the run's clock.
  explicit RunReports(const Config& config);

  // Opens the event log, if any, and logs run_started. The error names the file and the reason.
  std::expected<void, std::string> open();

  // I/O thread; never blocks.
  void on_file_done(const pipeline::FileRecord& record);

  // Writes every report for a run that ended with `result` and `exit_code`: the engine's stats,
  // or (when it returned an error) the counts of the records seen and the error. A report that
  // cannot be written is named on stderr and turns exit code 0 into 3 (fatal), since what the
  // config asked for is missing. Returns the exit code to use.
  int finish(const std::expected<pipeline::RunStats, pipeline::RunError>& result, int exit_code);

 private:
  std::string config_name_;
  std::string config_file_;
  std::vector<std::string> roots_;
  std::vector<std::string> stages_;
  std::filesystem::path events_path_;
  std::filesystem::path prometheus_path_;
  std::optional<std::filesystem::path> step_summary_path_;
  bool fsync_ = false;
  bool uploads_ = false;
  std::chrono::steady_clock::time_point started_;

  EventLog events_;
  RecordTally tally_;
};

}  // namespace piperun::cli::report
