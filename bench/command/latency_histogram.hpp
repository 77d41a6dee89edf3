// Latencies of one benchmark row, kept the way fio keeps them: log-linear buckets (16 per
// power of two, so a percentile is exact to within 1/16), a fixed array, nothing allocated
// per sample.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace piperun::bench {

class LatencyHistogram {
 public:
  void record(std::uint64_t ns) noexcept {
    ++counts_[bucket_of(ns)];
    ++samples_;
    max_ = std::max(max_, ns);
  }

  std::uint64_t samples() const noexcept { return samples_; }
  std::uint64_t max_ns() const noexcept { return max_; }

  // The latency at or below which `fraction` (0..1] of the samples lie: the upper bound of
  // the bucket that holds that rank, never above the largest sample.
  std::uint64_t percentile_ns(double fraction) const noexcept {
    if (samples_ == 0) return 0;
    const auto rank = std::max<std::uint64_t>(
        1, static_cast<std::uint64_t>(std::ceil(fraction * static_cast<double>(samples_))));
    std::uint64_t seen = 0;
    for (std::size_t bucket = 0; bucket < kBuckets; ++bucket) {
      seen += counts_[bucket];
      if (seen >= rank) return std::min(upper_bound_of(bucket), max_);
    }
    return max_;
  }

 private:
  static constexpr unsigned kSubBits = 4;
  static constexpr std::uint64_t kSub = 1u << kSubBits;
  static constexpr std::size_t kBuckets = (64 - kSubBits + 1) << kSubBits;

  // Values below 16 have a bucket each; above, each power of two is cut into 16 buckets.
  static std::size_t bucket_of(std::uint64_t value) noexcept {
    if (value < kSub) return static_cast<std::size_t>(value);
    const unsigned shift = static_cast<unsigned>(63 - std::countl_zero(value)) - kSubBits;
    return ((std::size_t{shift} + 1) << kSubBits) + ((value >> shift) & (kSub - 1));
  }
  static std::uint64_t upper_bound_of(std::size_t bucket) noexcept {
    if (bucket < kSub) return bucket;
    const auto shift = static_cast<unsigned>((bucket >> kSubBits) - 1);
    const std::uint64_t lower = (kSub + (bucket & (kSub - 1))) << shift;
    return lower + ((std::uint64_t{1} << shift) - 1);
  }

  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t samples_ = 0;
  std::uint64_t max_ = 0;
};

}  // namespace piperun::bench
