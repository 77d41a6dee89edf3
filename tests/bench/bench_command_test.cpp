// The parts of `pipe-run bench` that decide what it reports: latency percentiles, the
// generated data's compressibility, the bottleneck rule, option checks.
#include "bench/command/bench_command.hpp"

#include <algorithm>
#include <fcntl.h>
#include <fstream>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>
#include <zstd.h>

#include "bench/command/bottleneck.hpp"
#include "bench/command/io_job.hpp"
#include "bench/command/latency_histogram.hpp"
#include "bench/command/test_data.hpp"
#include "support/temp_dir.hpp"

namespace piperun::bench {
namespace {

TEST(LatencyHistogram, PercentilesAreWithinOneSixteenthOfTheExactOnes) {
  std::mt19937_64 random(7);
  std::lognormal_distribution<double> latency(11.0, 1.5);  // ns: median ~60 us, long tail
  std::vector<std::uint64_t> samples;
  LatencyHistogram histogram;
  for (int i = 0; i < 100'000; ++i) {
    const auto ns = static_cast<std::uint64_t>(latency(random));
    samples.push_back(ns);
    histogram.record(ns);
  }
  std::sort(samples.begin(), samples.end());
  for (double fraction : {0.5, 0.9, 0.99, 0.999}) {
    const auto exact = static_cast<double>(
        samples[static_cast<std::size_t>(std::ceil(fraction * samples.size())) - 1]);
    const auto reported = static_cast<double>(histogram.percentile_ns(fraction));
    EXPECT_GE(reported, exact) << fraction;
    EXPECT_LE(reported, exact * (1 + 1.0 / 16)) << fraction;
  }
  EXPECT_EQ(histogram.max_ns(), samples.back());
  EXPECT_EQ(histogram.percentile_ns(1.0), samples.back());
  EXPECT_EQ(histogram.samples(), samples.size());
}

TEST(LatencyHistogram, SmallAndHugeValuesAndNoSamples) {
  LatencyHistogram histogram;
  EXPECT_EQ(histogram.percentile_ns(0.5), 0u);
  for (std::uint64_t ns : {0ull, 3ull, 15ull, 16ull, 17ull})
    histogram.record(ns);
  EXPECT_EQ(histogram.percentile_ns(0.2), 0u);
  EXPECT_EQ(histogram.percentile_ns(0.4), 3u);
  EXPECT_EQ(histogram.percentile_ns(0.8), 16u);
  histogram.record(~0ull);
  EXPECT_EQ(histogram.percentile_ns(1.0), ~0ull);
}

std::vector<std::byte> generated(std::size_t size, std::uint64_t offset, double ratio) {
  std::vector<std::byte> bytes(size);
  fill_test_data(bytes, offset, ratio);
  return bytes;
}

double zstd_ratio(const std::vector<std::byte>& bytes, int level) {
  std::vector<char> out(ZSTD_compressBound(bytes.size()));
  const std::size_t size = ZSTD_compress(out.data(), out.size(), bytes.data(), bytes.size(), level);
  EXPECT_FALSE(ZSTD_isError(size));
  return static_cast<double>(bytes.size()) / static_cast<double>(size);
}

TEST(TestData, ABytesValueDependsOnlyOnItsOffset) {
  const auto whole = generated(4 * kTestDataBlock + 100, 0, 3.0);
  const auto tail = generated(2 * kTestDataBlock + 100, 2 * kTestDataBlock, 3.0);
  EXPECT_TRUE(std::equal(tail.begin(), tail.end(), whole.begin() + 2 * kTestDataBlock));
  // A short fill is the prefix of a long one.
  const auto prefix = generated(1000, 0, 3.0);
  EXPECT_TRUE(std::equal(prefix.begin(), prefix.end(), whole.begin()));
  // Blocks differ from each other: zstd must not find one block repeated.
  EXPECT_FALSE(
      std::equal(whole.begin(), whole.begin() + kTestDataBlock, whole.begin() + kTestDataBlock));
}

TEST(TestData, ZstdCompressesItAboutAsMuchAsAsked) {
  for (double ratio : {2.0, 3.0, 5.0}) {
    const double measured = zstd_ratio(generated(8u << 20, 0, ratio), 3);
    EXPECT_GT(measured, ratio * 0.8) << ratio;
    EXPECT_LT(measured, ratio * 1.2) << ratio;
  }
  EXPECT_LT(zstd_ratio(generated(8u << 20, 0, 1.0), 3), 1.01);
}

// The write row writes the same few buffers again and again; storage that deduplicates would
// write one sector and count the rest. No sector of the written file may repeat another.
TEST(IoJob, AWrittenFileRepeatsNoSector) {
  testing::TempDir dir;
  const auto path = dir.path() / "written.dat";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  IoJobSpec spec;
  spec.access = Access::sequential_write;
  spec.fd = fd;
  spec.size = 1u << 20;
  spec.block_size = 64 * 1024;
  spec.queue_depth = 4;
  auto result = run_io_job(spec);
  ::close(fd);
  ASSERT_TRUE(result.has_value()) << result.error().message();
  EXPECT_EQ(result->bytes, spec.size);
  std::ifstream in(path, std::ios::binary);
  const std::string bytes{std::istreambuf_iterator<char>(in), {}};
  ASSERT_EQ(bytes.size(), spec.size);
  std::set<std::string> sectors;
  for (std::size_t at = 0; at < bytes.size(); at += kStampedSector)
    sectors.insert(bytes.substr(at, kStampedSector));
  EXPECT_EQ(sectors.size(), spec.size / kStampedSector) << "a sector was written twice";
}

BenchRow row(double seconds, std::uint64_t bytes, double cpu_seconds, std::uint64_t from_disk) {
  BenchRow result;
  result.seconds = seconds;
  result.bytes = bytes;
  result.cpu_seconds = cpu_seconds;
  result.storage_read_bytes = from_disk;
  return result;
}

TEST(Bottleneck, NamesTheResourceTheRowUsedMostOf) {
  const MachineLimits limits{2, 10e9, 2e9, 1e9};
  // Compressing cached data with both cores busy: the CPU.
  BenchRow compress = row(1.0, 600'000'000, 1.9, 0);
  classify_bottleneck(compress, true, false, limits);
  EXPECT_EQ(compress.limited_by, "cpu");
  EXPECT_NEAR(compress.limit_use, 0.95, 1e-9);
  // Hashing from the disk at the disk's sequential rate, one core busy: the disk.
  BenchRow hash = row(1.0, 1'900'000'000, 1.0, 1'900'000'000);
  classify_bottleneck(hash, true, false, limits);
  EXPECT_EQ(hash.limited_by, "disk");
  EXPECT_NEAR(hash.limit_use, 0.95, 1e-9);
  // Reading cached data without CPU stages: the memory copy.
  BenchRow cached = row(1.0, 16'000'000'000, 1.9, 0);
  classify_bottleneck(cached, false, false, limits);
  EXPECT_EQ(cached.limited_by, "memory");
  EXPECT_NEAR(cached.limit_use, 0.8, 1e-9);
  // A raw read from the disk is the disk's rate itself.
  BenchRow raw = row(1.0, 2'000'000'000, 0.3, 2'000'000'000);
  classify_bottleneck(raw, false, false, MachineLimits{2, 10e9, {}, {}});
  EXPECT_EQ(raw.limited_by, "disk");
  EXPECT_DOUBLE_EQ(raw.limit_use, 1.0);
}

TEST(BenchOptions, RejectsWhatCannotBeMeasuredNamingTheOption) {
  auto message = [](BenchOptions options) {
    auto valid = validate(options);
    return valid ? std::string() : valid.error();
  };
  BenchOptions good;
  good.dir = "/";
  EXPECT_EQ(message(good), "");
  BenchOptions stages = good;
  stages.stages = {"compress", "hash"};
  EXPECT_NE(message(stages).find("--stages"), std::string::npos);
  stages.stages = {"upload"};
  EXPECT_NE(message(stages).find("--stages"), std::string::npos);
  stages.stages = {"hash", "write"};
  EXPECT_EQ(message(stages), "");
  BenchOptions block = good;
  block.block_size = 6000;
  EXPECT_NE(message(block).find("--block-size"), std::string::npos);
  BenchOptions depth = good;
  depth.queue_depth = 0;
  EXPECT_NE(message(depth).find("--queue-depth"), std::string::npos);
  BenchOptions size = good;
  size.size = 4096;
  EXPECT_NE(message(size).find("--size"), std::string::npos);
  BenchOptions dir = good;
  dir.dir = "/nonexistent/pipe-run";
  EXPECT_NE(message(dir).find("--dir"), std::string::npos);
  BenchOptions level = good;
  level.level = 20;
  EXPECT_NE(message(level).find("--level"), std::string::npos);
}

}  // namespace
}  // namespace piperun::bench
