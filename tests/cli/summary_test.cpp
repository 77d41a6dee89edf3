// The summary line: counts, bytes in, and bytes out with the ratio when something was written.
#include "cli/summary.hpp"

#include <gtest/gtest.h>

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
