#include "bench/command/test_data.hpp"

#include <algorithm>
#include <cstring>

namespace piperun::bench {
namespace {

// splitmix64: fast, and good enough that zstd finds no structure in its output.
struct Random {
  std::uint64_t state;
  std::uint64_t next() noexcept {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  std::size_t below(std::size_t bound) noexcept { return next() % bound; }
};

void fill_random(std::byte* out, std::size_t size, Random& random) {
  while (size >= 8) {
    const std::uint64_t word = random.next();
    std::memcpy(out, &word, 8);
    out += 8;
    size -= 8;
  }
  const std::uint64_t word = random.next();
  std::memcpy(out, &word, size);
}

// Copies `length` bytes from `distance` back, as an LZ decoder does: an overlapping copy
// repeats the pattern.
void copy_match(std::byte* block, std::size_t at, std::size_t distance, std::size_t length) {
  while (length > 0) {
    const std::size_t piece = std::min(length, distance);
    std::memcpy(block + at, block + at - distance, piece);
    at += piece;
    length -= piece;
  }
}

void fill_block(std::byte* block, std::size_t size, std::uint64_t index, double ratio) {
  Random random{index * 0x2545f4914f6cdd1dull + 1};
  if (ratio <= 1.0) {
    fill_random(block, size, random);
    return;
  }
  // A sequence costs zstd its literals plus about 3 bytes of codes, so for literals of
  // length L the match length M that gives (L + 3) / (L + M) = 1 / ratio.
  std::size_t at = 0;
  while (at < size) {
    const std::size_t literals = std::min(size - at, 16 + random.below(48));
    fill_random(block + at, literals, random);
    at += literals;
    if (at >= size) break;
    const double wanted = ratio * static_cast<double>(literals + 3) - static_cast<double>(literals);
    const auto match =
        std::min(size - at, std::max<std::size_t>(4, static_cast<std::size_t>(wanted)));
    const std::size_t distance = 1 + random.below(std::min<std::size_t>(at, 16 * 1024));
    copy_match(block, at, distance, match);
    at += match;
  }
}

}  // namespace

void fill_test_data(std::span<std::byte> out, std::uint64_t offset, double ratio) {
  std::uint64_t index = offset / kTestDataBlock;
  for (std::size_t at = 0; at < out.size(); at += kTestDataBlock, ++index)
    fill_block(out.data() + at, std::min(kTestDataBlock, out.size() - at), index, ratio);
}

void stamp_sectors(std::span<std::byte> block, std::uint64_t offset) noexcept {
  for (std::size_t at = 0; at + sizeof offset <= block.size(); at += kStampedSector) {
    const std::uint64_t sector_offset = offset + at;
    std::memcpy(block.data() + at, &sector_offset, sizeof sector_offset);
  }
}

}  // namespace piperun::bench
