// The bytes of the benchmark's test file: generated, deterministic, of a chosen
// compressibility, so that the compress rows measure zstd on data like the user's rather than
// on zeros (which zstd skips through) or noise (which it stores raw).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace piperun::bench {

// Blocks are generated independently (so any range can be filled, in parallel, and a byte's
// value depends only on its offset): random literals alternating with copies of earlier bytes
// of the same block, in proportions that make zstd -3 compress about `ratio` to 1.
inline constexpr std::size_t kTestDataBlock = 64 * 1024;

// Fills `out` with the test file's bytes from `offset` on; `offset` must be a multiple of
// kTestDataBlock. `ratio` <= 1 gives incompressible bytes.
void fill_test_data(std::span<std::byte> out, std::uint64_t offset, double ratio);

// Writes each 512-byte sector's file offset into its first 8 bytes, for a block written at
// `offset`: one buffer written again and again then never repeats a sector, so storage that
// deduplicates or compresses (SSDs, VM hosts, ZFS) cannot skip the writes. fio changes its
// write buffers in the same way (scramble_buffers, on by default).
inline constexpr std::size_t kStampedSector = 512;
void stamp_sectors(std::span<std::byte> block, std::uint64_t offset) noexcept;

}  // namespace piperun::bench
