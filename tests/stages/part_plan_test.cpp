// part_size_for: the configured size while it fits S3's 10,000 parts, the smallest whole MiB
// that fits once it does not, and S3's 5 MiB..5 GiB bounds.
#include "stages/upload/part_plan.hpp"

#include <gtest/gtest.h>

namespace piperun::stages::upload {
namespace {

constexpr std::uint64_t kMiB = 1ull << 20;
constexpr std::uint64_t kGiB = 1ull << 30;
constexpr std::uint64_t kTiB = 1ull << 40;

std::uint64_t parts_needed(std::uint64_t object_bound, std::uint64_t part) {
  return (object_bound + part - 1) / part;
}

TEST(PartPlan, SmallObjectsKeepTheConfiguredSize) {
  EXPECT_EQ(part_size_for(0, 16 * kMiB), 16 * kMiB);
  EXPECT_EQ(part_size_for(1, 16 * kMiB), 16 * kMiB);
  EXPECT_EQ(part_size_for(100 * kMiB, 16 * kMiB), 16 * kMiB);
  EXPECT_EQ(part_size_for(100 * kMiB, 8 * kMiB + 123), 8 * kMiB + 123)
      << "a size that fits is left as configured";
}

TEST(PartPlan, NeverBelowFiveMiBNorAboveFiveGiB) {
  EXPECT_EQ(part_size_for(100 * kMiB, 0), 5 * kMiB);
  EXPECT_EQ(part_size_for(100 * kMiB, 1 * kMiB), 5 * kMiB);
  EXPECT_EQ(part_size_for(100 * kMiB, 5 * kMiB - 1), 5 * kMiB);
  EXPECT_EQ(part_size_for(100 * kMiB, 6 * kGiB), 5 * kGiB);
}

TEST(PartPlan, ExactlyTenThousandPartsFit) {
  EXPECT_EQ(part_size_for(10'000 * 16 * kMiB, 16 * kMiB), 16 * kMiB);
  EXPECT_EQ(part_size_for(10'000 * 5 * kMiB, 0), 5 * kMiB);
}

TEST(PartPlan, OneByteMoreGrowsToTheNextMiB) {
  const std::uint64_t bound = 10'000 * 16 * kMiB + 1;  // 10,001 parts of 16 MiB
  const std::uint64_t part = part_size_for(bound, 16 * kMiB);
  EXPECT_EQ(part, 17 * kMiB);
  EXPECT_LE(parts_needed(bound, part), 10'000u);
}

TEST(PartPlan, TenThousandAndOnePartsGrow) {
  const std::uint64_t bound = 10'001 * 8 * kMiB;
  const std::uint64_t part = part_size_for(bound, 8 * kMiB);
  EXPECT_EQ(part % kMiB, 0u);
  EXPECT_GT(part, 8 * kMiB);
  EXPECT_LE(parts_needed(bound, part), 10'000u);
  EXPECT_GT(parts_needed(bound, part - kMiB), 10'000u) << "the smallest whole MiB that fits";
}

TEST(PartPlan, FiveTiBInput) {
  // 5 TiB / 10,000 = 524.29 MiB: 525 MiB parts, 9,987 of them.
  EXPECT_EQ(part_size_for(5 * kTiB, 16 * kMiB), 525 * kMiB);
  EXPECT_EQ(parts_needed(5 * kTiB, 525 * kMiB), 9'987u);
  // ZSTD_compressBound of 5 TiB (what zstd adds: 1/256): 527 MiB parts.
  const std::uint64_t compress_bound = 5 * kTiB + (5 * kTiB >> 8);
  EXPECT_EQ(part_size_for(compress_bound, 16 * kMiB), 527 * kMiB);
  EXPECT_LE(parts_needed(compress_bound, 527 * kMiB), 10'000u);
  EXPECT_GT(parts_needed(compress_bound, 526 * kMiB), 10'000u);
}

TEST(PartPlan, BeyondWhatS3CanHoldTheSizeExceedsTheMaximum) {
  EXPECT_EQ(part_size_for(10'000 * kMaxPartBytes, 16 * kMiB), kMaxPartBytes);
  EXPECT_GT(part_size_for(10'000 * kMaxPartBytes + 1, 16 * kMiB), kMaxPartBytes);
}

}  // namespace
}  // namespace piperun::stages::upload
