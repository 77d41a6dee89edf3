// How large the parts of a multipart upload are. S3's limits: parts 5 MiB..5 GiB (the last may
// be smaller), at most 10,000 parts.
#pragma once

#include <cstdint>

namespace piperun::stages::upload {

inline constexpr std::uint64_t kMinPartBytes = 5ull << 20;
inline constexpr std::uint64_t kMaxPartBytes = 5ull << 30;
inline constexpr std::uint64_t kMaxParts = 10'000;

// `configured` (brought into 5 MiB..5 GiB) grown to a multiple of 1 MiB until
// ceil(object_bound / part) <= 10,000; never below 5 MiB. `object_bound` is the caller's bound
// on the object's size (ZSTD_compressBound of the input size when compressing), so a part
// count planned from it holds however well the data compresses.
// Above 10,000 x 5 GiB no part size fits: the result is then larger than kMaxPartBytes and the
// caller must refuse the object.
std::uint64_t part_size_for(std::uint64_t object_bound, std::uint64_t configured);

}  // namespace piperun::stages::upload
