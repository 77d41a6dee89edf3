#include "cli/report/run_reports.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include <fmt/core.h>

#include "cli/exit_codes.hpp"
#include "cli/report/prometheus_textfile.hpp"
#include "cli/report/step_summary.hpp"
#include "cli/summary.hpp"

namespace piperun::cli::report {

RunReports::RunReports(const Config& config)
    : config_name_(config.file.filename().string()),
      config_file_(config.file.string()),
      stages_(config.pipeline.stages),
      events_path_(config.report.events),
      prometheus_path_(config.report.prometheus),
      fsync_(config.output.fsync),
      started_(std::chrono::steady_clock::now()) {
  for (const auto& root : config.input.paths)
    roots_.push_back(root.string());
  uploads_ = std::find(stages_.begin(), stages_.end(), "upload") != stages_.end();
  // GitHub Actions sets it for every step; empty means not set.
  if (const char* summary = std::getenv(kStepSummaryVariable);
      summary != nullptr && *summary != '\0') {
    step_summary_path_ = summary;
  }
}

std::expected<void, std::string> RunReports::open() {
  if (events_path_.empty()) return {};
  auto opened = events_.open(events_path_,
                             RunStart{"pipe-run " PIPE_RUN_VERSION, config_file_, roots_, stages_});
  if (!opened) return std::unexpected("report.events: " + opened.error());
  return {};
}

void RunReports::on_file_done(const pipeline::FileRecord& record) {
  tally_.add(record);
  events_.add(record);
}

int RunReports::finish(const std::expected<pipeline::RunStats, pipeline::RunError>& result,
                       int exit_code) {
  RunOutcome outcome;
  outcome.config_name = config_name_;
  outcome.exit_code = exit_code;
  outcome.uploads = uploads_;
  outcome.peak_rss_bytes = peak_rss_bytes();
  outcome.finished_at = std::chrono::system_clock::now();
  if (result) {
    outcome.stats = *result;
  } else {
    outcome.stats = tally_.stats();
    outcome.stats.duration = std::chrono::steady_clock::now() - started_;
    outcome.stats.interrupted = result.error().kind == pipeline::RunError::Kind::interrupted;
    outcome.error = result.error().message;
  }

  bool all_written = true;
  const auto check = [&all_written](std::string_view report,
                                    const std::expected<void, std::string>& written) {
    if (written) return;
    fmt::print(stderr, "pipe-run: {}: {}\n", report, written.error());
    all_written = false;
  };
  if (events_.is_open()) check("report.events", events_.finish(outcome, fsync_));
  if (!prometheus_path_.empty()) {
    check("report.prometheus", write_prometheus_textfile(prometheus_path_, outcome, fsync_));
  }
  if (step_summary_path_) {
    check(kStepSummaryVariable, append_step_summary(*step_summary_path_, outcome));
  }
  return all_written || exit_code != kExitOk ? exit_code : kExitFatal;
}

}  // namespace piperun::cli::report
