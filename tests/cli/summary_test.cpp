// The summary line: counts, bytes in, and bytes out with the ratio when something was written.
#include "cli/summary.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace piperun::cli {
namespace {

pipeline::RunStats two_seconds() {
  pipeline::RunStats stats;
  stats.files_ok = 3;
  stats.files_failed = 1;
  stats.bytes_in = 300'000'000;
  stats.duration = std::chrono::seconds(2);
  return stats;
}

TEST(Summary, HashOnlyRunsShowBytesRead) {
  EXPECT_EQ(format_summary(two_seconds()),
            "pipe-run: 4 files (3 ok, 1 failed, 0 skipped), 300.0 MB read in 2.00 s "
            "(150.0 MB/s, 2 files/s)");
}

TEST(Summary, CompressedRunsShowBytesOutAndTheRatio) {
  pipeline::RunStats stats = two_seconds();
  stats.bytes_out = 75'000'000;
  stats.compressed_in = 300'000'000;
  stats.compressed_out = 75'000'000;
  EXPECT_EQ(format_summary(stats),
            "pipe-run: 4 files (3 ok, 1 failed, 0 skipped), 300.0 MB read, 75.0 MB out "
            "(ratio 4.00) in 2.00 s (150.0 MB/s, 2 files/s)");
}

TEST(Summary, CopiesShowBytesOutWithoutARatio) {
  pipeline::RunStats stats = two_seconds();
  stats.bytes_out = 300'000'000;
  EXPECT_EQ(format_summary(stats),
            "pipe-run: 4 files (3 ok, 1 failed, 0 skipped), 300.0 MB read, 300.0 MB out in "
            "2.00 s (150.0 MB/s, 2 files/s)");
}

TEST(Summary, ResumedFilesAreCountedAmongTheOkOnes) {
  pipeline::RunStats stats = two_seconds();
  stats.files_resumed = 2;
  EXPECT_EQ(format_summary(stats),
            "pipe-run: 4 files (3 ok, 2 of them resumed, 1 failed, 0 skipped), 300.0 MB read in "
            "2.00 s (150.0 MB/s, 2 files/s)");
}

}  // namespace
}  // namespace piperun::cli

namespace piperun::cli {
namespace {

pipeline::RunStats with_places() {
  pipeline::RunStats stats = two_seconds();
  using namespace std::chrono_literals;
  stats.places = {{"input", 300'000'000, 1s},
                  {"walk", 0, 0s},
                  {"hash", 300'000'000, 1s},
                  {"compress", 300'000'000, 6s},
                  {"write", 75'000'000, 2s}};
  return stats;
}

TEST(SummaryDetails, StagesTheirBytesAndRatesWhereFilesWaitedAndPeakRss) {
  pipeline::RunStats stats = with_places();
  stats.files_failed = 0;
  EXPECT_EQ(format_summary_details(stats, 100 << 20),
            "pipe-run: per stage: input 300.0 MB (150.0 MB/s), hash 300.0 MB (150.0 MB/s), "
            "compress 300.0 MB (150.0 MB/s), write 75.0 MB (37.5 MB/s)\n"
            "pipe-run: files waited on: input 10%, hash 10%, compress 60%, write 20%; peak RSS "
            "100 MiB\n");
}

TEST(SummaryDetails, NamesTheFirstFiveFailures) {
  pipeline::RunStats stats = with_places();
  stats.files_failed = 7;
  for (int i = 0; i < 7; ++i)
    stats.first_failures.emplace_back("f" + std::to_string(i), "read: Input/output error");
  const std::string details = format_summary_details(stats, 0);
  EXPECT_NE(details.find("pipe-run: failed: f0 (read: Input/output error), f1 (read: "
                         "Input/output error), f2 (read: Input/output error), f3 (read: "
                         "Input/output error), f4 (read: Input/output error) and 2 more; the "
                         "manifest lists every failure\n"),
            std::string::npos)
      << details;
}

TEST(SummaryJson, CountsStagesAndFailures) {
  pipeline::RunStats stats = with_places();
  stats.first_failures.emplace_back("bad\xff", "read: Input/output error");
  const auto document = nlohmann::json::parse(format_json_summary(stats, 1, 5 << 20));
  EXPECT_EQ(document["exit_code"], 1);
  EXPECT_EQ(document["files"]["total"], 4);
  EXPECT_EQ(document["files"]["failed"], 1);
  EXPECT_EQ(document["bytes_in"], 300'000'000);
  EXPECT_EQ(document["stages"].size(), 5u);
  EXPECT_EQ(document["stages"][3]["name"], "compress");
  EXPECT_DOUBLE_EQ(document["stages"][3]["waited_share"].get<double>(), 0.6);
  EXPECT_DOUBLE_EQ(document["stages"][4]["throughput_mb_s"].get<double>(), 37.5);
  EXPECT_EQ(document["peak_rss_bytes"], 5 << 20);
  // A name that is not UTF-8 still makes valid JSON.
  EXPECT_EQ(document["failures"][0]["path"], "bad\xef\xbf\xbd");
}

TEST(SummaryJson, AnErrorInsteadOfASummary) {
  const std::expected<pipeline::RunStats, pipeline::RunError> failed = std::unexpected(
      pipeline::RunError{pipeline::RunError::Kind::fatal, "io_uring setup: not permitted"});
  const auto document = nlohmann::json::parse(format_json_summary(failed, 3, 0));
  EXPECT_EQ(document["exit_code"], 3);
  EXPECT_EQ(document["error"]["kind"], "fatal");
  EXPECT_EQ(document["error"]["message"], "io_uring setup: not permitted");
  EXPECT_FALSE(document.contains("files"));
}

}  // namespace
}  // namespace piperun::cli
