// The progress lines: what they say at each point of a run, and that the live one fits the
// terminal.
#include "cli/progress_line.hpp"

#include <gtest/gtest.h>

namespace piperun::cli {
namespace {

ProgressSample halfway() {
  ProgressSample sample;
  sample.files_done = 8200;
  sample.files_found = 20000;
  sample.bytes_done = 1'500'000'000;
  sample.bytes_found = 3'000'000'000;
  sample.walk_complete = true;
  sample.bytes_per_second = 500e6;
  sample.elapsed = std::chrono::seconds(3);
  sample.limit = "compress";
  return sample;
}

TEST(ProgressLine, LiveLineSaysShareCountsBytesRateEtaAndLimit) {
  EXPECT_EQ(format_live_progress(halfway(), 200),
            " 50%  8,200/20,000 files  1.50 GB/3.00 GB  500.0 MB/s  ETA 0:03  limit: compress");
}

TEST(ProgressLine, LiveLineIsCutToTheTerminalWidth) {
  EXPECT_EQ(format_live_progress(halfway(), 30).size(), 30u);
}

TEST(ProgressLine, WhileTheWalkGoesOnTotalsAreMarkedAndThereIsNoEta) {
  ProgressSample sample = halfway();
  sample.walk_complete = false;
  sample.limit = "walk";
  EXPECT_EQ(format_live_progress(sample, 200),
            "8,200/20,000+ files  1.50 GB/3.00 GB+  500.0 MB/s  limit: walk");
  EXPECT_FALSE(eta(sample).has_value());
}

TEST(ProgressLine, FailuresAreCounted) {
  ProgressSample sample = halfway();
  sample.files_failed = 2;
  EXPECT_TRUE(format_live_progress(sample, 200).ends_with("  2 failed"));
  EXPECT_TRUE(format_plain_progress(sample).find(", 2 failed") != std::string::npos);
}

TEST(ProgressLine, PlainLineForLogs) {
  EXPECT_EQ(format_plain_progress(halfway()),
            "pipe-run: progress: 8200/20000 files, 1.50 GB of 3.00 GB (50%), 500.0 MB/s, ETA 3 "
            "s, limited by compress, 3 s elapsed");
}

TEST(ProgressLine, EtaRoundsTheTimeLeftAtTheCurrentRate) {
  ProgressSample sample = halfway();
  sample.bytes_per_second = 1e6;
  EXPECT_EQ(eta(sample), std::chrono::seconds(1500));
  EXPECT_TRUE(format_live_progress(sample, 200).find("ETA 25:00") != std::string::npos);
  sample.bytes_per_second = 0;
  EXPECT_FALSE(eta(sample).has_value());
  sample.bytes_per_second = 100;
  EXPECT_TRUE(format_live_progress(sample, 200).find("ETA 4166:40:00") != std::string::npos);
}

TEST(ProgressLine, BytesInDecimalUnits) {
  EXPECT_EQ(format_bytes(0), "0 B");
  EXPECT_EQ(format_bytes(999), "999 B");
  EXPECT_EQ(format_bytes(1000), "1.0 kB");
  EXPECT_EQ(format_bytes(12'345'678), "12.3 MB");
  EXPECT_EQ(format_bytes(4'200'000'000), "4.20 GB");
  EXPECT_EQ(format_bytes(5'000'000'000'000), "5.00 TB");
}

}  // namespace
}  // namespace piperun::cli
