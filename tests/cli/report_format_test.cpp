// The CI reports' formats: what a Markdown table cell and a Prometheus label value must escape,
// and what the step summary says of failures beyond the first few.
#include <string>

#include <gtest/gtest.h>

#include "cli/report/prometheus_textfile.hpp"
#include "cli/report/record_tally.hpp"
#include "cli/report/step_summary.hpp"

namespace piperun::cli::report {
namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

RunOutcome one_failure() {
  RunOutcome outcome;
  outcome.config_name = "artifacts.toml";
  outcome.exit_code = 1;
  outcome.stats.files_ok = 2;
  outcome.stats.files_failed = 1;
  outcome.stats.first_failures.emplace_back("logs/a|b\nc.txt", "read: Input/output error");
  return outcome;
}

TEST(ReportFormat, MarkdownCellsEscapeTheCellSeparatorAndLineBreaks) {
  EXPECT_EQ(markdown_cell("a|b"), "a\\|b");
  EXPECT_EQ(markdown_cell("one\ntwo\r\nthree"), "one<br>two<br><br>three");
  EXPECT_EQ(markdown_cell("*not bold* _nor_ `code`"), "\\*not bold\\* \\_nor\\_ \\`code\\`");
  EXPECT_EQ(markdown_cell("bad\xff"), "bad\xEF\xBF\xBD");
  EXPECT_EQ(markdown_cell("plain/path-1.txt"), "plain/path-1.txt");
}

TEST(ReportFormat, StepSummaryNamesTheFailuresInOneTableRowEach) {
  const std::string text = format_step_summary(one_failure());
  EXPECT_TRUE(contains(text, "### pipe-run: artifacts.toml")) << text;
  EXPECT_TRUE(contains(text, "| files ok | 2 |")) << text;
  EXPECT_TRUE(contains(text, "| files failed | 1 |")) << text;
  EXPECT_TRUE(contains(text, "| logs/a\\|b<br>c.txt | read: Input/output error |\n")) << text;
  EXPECT_FALSE(contains(text, "more: the manifest lists them")) << text;
  EXPECT_FALSE(contains(text, "uploads")) << text;
}

TEST(ReportFormat, StepSummarySaysHowManyFailuresItLeftOut) {
  RunOutcome outcome = one_failure();
  outcome.stats.files_failed = 13;
  EXPECT_TRUE(contains(format_step_summary(outcome), "12 more: the manifest lists them"));
}

TEST(ReportFormat, TallyCountsLikeTheEngineAndKeepsTheFirstFailures) {
  constexpr std::size_t kFailures = pipeline::RunStats::kListedFailures + 5;
  RecordTally tally;
  for (std::size_t i = 0; i < kFailures; ++i) {
    pipeline::FileRecord record;
    record.rel_path = "f" + std::to_string(i);
    record.status = pipeline::FileStatus::failed;
    record.error = "read: Input/output error";
    tally.add(record);
  }
  pipeline::FileRecord done;
  done.size = 100;
  done.compressed_size = 40;
  done.output_path = "x.zst";
  tally.add(done);
  EXPECT_EQ(tally.stats().files_failed, kFailures);
  EXPECT_EQ(tally.stats().files_ok, 1u);
  EXPECT_EQ(tally.stats().bytes_in, 100u);
  EXPECT_EQ(tally.stats().bytes_out, 40u);
  ASSERT_EQ(tally.stats().first_failures.size(), pipeline::RunStats::kListedFailures);
  EXPECT_EQ(tally.stats().first_failures.front().first, "f0");
}

TEST(ReportFormat, PrometheusLabelValuesAreEscaped) {
  RunOutcome outcome = one_failure();
  outcome.config_name = "we\"ird\\name\n.toml";
  const std::string text = format_prometheus_textfile(outcome);
  EXPECT_TRUE(contains(text, R"(pipe_run_files{config="we\"ird\\name\n.toml",status="failed"} 1)"))
      << text;
  EXPECT_TRUE(contains(text, "# TYPE pipe_run_exit_code gauge\n")) << text;
}

TEST(ReportFormat, StagesWaitsAndPeakRssInBothReports) {
  using namespace std::chrono_literals;
  RunOutcome outcome = one_failure();
  outcome.stats.places = {{"input", 1000, 1s}, {"walk", 0, 0s}, {"hash", 1000, 3s}};
  outcome.peak_rss_bytes = 64 << 20;
  const std::string prometheus = format_prometheus_textfile(outcome);
  EXPECT_TRUE(
      contains(prometheus, R"(pipe_run_stage_bytes{config="artifacts.toml",stage="hash"} 1000)"))
      << prometheus;
  EXPECT_FALSE(
      contains(prometheus, R"(pipe_run_stage_bytes{config="artifacts.toml",stage="walk"})"))
      << prometheus;
  EXPECT_TRUE(contains(
      prometheus, R"(pipe_run_stage_wait_seconds{config="artifacts.toml",stage="hash"} 3.000)"))
      << prometheus;
  EXPECT_TRUE(contains(prometheus, R"(pipe_run_peak_rss_bytes{config="artifacts.toml"} 67108864)"))
      << prometheus;
  const std::string summary = format_step_summary(outcome);
  EXPECT_TRUE(contains(summary, "| files waited on | input 25%, hash 75% |")) << summary;
  EXPECT_TRUE(contains(summary, "| peak RSS | 64 MiB |")) << summary;
}

}  // namespace
}  // namespace piperun::cli::report
