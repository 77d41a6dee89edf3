#include "stages/upload/part_plan.hpp"

#include <algorithm>

namespace piperun::stages::upload {
namespace {

constexpr std::uint64_t kMiB = 1ull << 20;

std::uint64_t divide_rounding_up(std::uint64_t numerator, std::uint64_t denominator) {
  return numerator / denominator + (numerator % denominator != 0 ? 1 : 0);
}

}  // namespace

std::uint64_t part_size_for(std::uint64_t object_bound, std::uint64_t configured) {
  const std::uint64_t part = std::clamp(configured, kMinPartBytes, kMaxPartBytes);
  if (divide_rounding_up(object_bound, part) <= kMaxParts) return part;
  // The smallest whole number of MiB that makes 10,000 parts enough; larger than `part`, since
  // `part` was not.
  const std::uint64_t needed = divide_rounding_up(object_bound, kMaxParts);
  return divide_rounding_up(needed, kMiB) * kMiB;
}

}  // namespace piperun::stages::upload
