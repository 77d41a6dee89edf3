// ContentHasher: the original's size and digest from an output's bytes, plain or .zst (several
// frames, fed in pieces of any size), and a clear error for a .zst that is corrupt or cut short.
#include <random>
#include <string>

#include <gtest/gtest.h>
#include <xxhash.h>
#include <zstd.h>

#include "stages/hex.hpp"
#include "stages/verify/content_hasher.hpp"
#include "support/bytes_of.hpp"

namespace piperun::stages::verify {
namespace {

using piperun::testing::bytes_of;

// Text zstd shrinks a lot, with random runs so that it is not all one repeated block.
std::string sample(std::size_t size, unsigned seed) {
  std::mt19937 random(seed);
  std::string text;
  while (text.size() < size)
    text += "line " + std::to_string(random() % 1000) + " of the sample\n";
  text.resize(size);
  return text;
}

// As compress writes it: independent frames, one per chunk, each with its content checksum.
std::string zstd_frames(std::string_view original, std::size_t chunk) {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  std::string out;
  for (std::size_t at = 0; at < original.size() || (at == 0 && original.empty()); at += chunk) {
    const std::string_view piece = original.substr(at, chunk);
    std::string frame(ZSTD_compressBound(piece.size()), '\0');
    const std::size_t n =
        ZSTD_compress2(cctx, frame.data(), frame.size(), piece.data(), piece.size());
    EXPECT_FALSE(ZSTD_isError(n));
    out.append(frame.data(), n);
    if (original.empty()) break;
  }
  ZSTD_freeCCtx(cctx);
  return out;
}

// XXH3-128 of the whole text at once, as `xxhsum -H2` prints it: the reference.
std::string xxh128_hex(std::string_view text) {
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, XXH3_128bits(text.data(), text.size()));
  return to_hex(std::as_bytes(std::span(canonical.digest)));
}

// Feeds `stored` in pieces of 1, 2, 3... bytes, growing, so pieces split frames anywhere.
std::expected<Content, std::string> hash_in_pieces(ContentHasher& hasher, std::string_view stored,
                                                   bool compressed) {
  hasher.start(compressed);
  std::size_t piece = 1;
  for (std::size_t at = 0; at < stored.size(); at += piece, piece = piece * 3 / 2 + 1)
    hasher.update(bytes_of(stored.substr(at, piece)));
  return hasher.finish();
}

TEST(VerifyContentHasher, APlainCopyIsHashedAsItIs) {
  const std::string original = sample(300'000, 1);
  ContentHasher hasher(HashAlgorithm::xxh3_128);
  const auto content = hash_in_pieces(hasher, original, false);
  ASSERT_TRUE(content) << content.error();
  EXPECT_EQ(content->stored_bytes, original.size());
  EXPECT_EQ(content->size, original.size());
  EXPECT_EQ(content->digest_hex, xxh128_hex(original));
}

TEST(VerifyContentHasher, SeveralFramesDecodeToTheOriginalsSizeAndDigest) {
  // 3 MiB in 1 MiB frames: each frame decodes to far more than one output buffer.
  const std::string original = sample(3 * 1024 * 1024 + 17, 2);
  const std::string stored = zstd_frames(original, 1024 * 1024);
  ASSERT_LT(stored.size(), original.size() / 2);
  ContentHasher hasher(HashAlgorithm::xxh3_128);
  const auto content = hash_in_pieces(hasher, stored, true);
  ASSERT_TRUE(content) << content.error();
  EXPECT_EQ(content->stored_bytes, stored.size());
  EXPECT_EQ(content->size, original.size());
  EXPECT_EQ(content->digest_hex, xxh128_hex(original));

  // Reused for the next output: nothing of the first one is left.
  const std::string other = sample(5000, 3);
  const auto again = hash_in_pieces(hasher, zstd_frames(other, 1000), true);
  ASSERT_TRUE(again) << again.error();
  EXPECT_EQ(again->size, other.size());
  EXPECT_EQ(again->digest_hex, xxh128_hex(other));
}

TEST(VerifyContentHasher, EmptyOutputsHoldTheEmptyContent) {
  ContentHasher hasher(HashAlgorithm::xxh3_128);
  for (const std::string& stored : {std::string(), zstd_frames("", 1024)}) {
    const auto content = hash_in_pieces(hasher, stored, true);
    ASSERT_TRUE(content) << content.error();
    EXPECT_EQ(content->size, 0u);
    EXPECT_EQ(content->digest_hex, xxh128_hex(""));
  }
}

TEST(VerifyContentHasher, ATruncatedZstdStreamIsAnError) {
  const std::string stored = zstd_frames(sample(200'000, 4), 65536);
  ContentHasher hasher(HashAlgorithm::xxh3_128);
  const auto content = hash_in_pieces(hasher, stored.substr(0, stored.size() - 10), true);
  ASSERT_FALSE(content);
  EXPECT_NE(content.error().find("truncated"), std::string::npos) << content.error();
  EXPECT_EQ(hasher.stored_bytes(), stored.size() - 10);
}

TEST(VerifyContentHasher, ACorruptedZstdStreamIsAnError) {
  std::string stored = zstd_frames(sample(200'000, 5), 65536);
  stored[stored.size() / 2] = static_cast<char>(stored[stored.size() / 2] ^ 0x40);
  ContentHasher hasher(HashAlgorithm::xxh3_128);
  const auto content = hash_in_pieces(hasher, stored, true);
  ASSERT_FALSE(content);
  EXPECT_NE(content.error().find("zstd"), std::string::npos) << content.error();
}

TEST(VerifyContentHasher, WithoutAnAlgorithmOnlySizesAreKnown) {
  const std::string original = sample(10'000, 6);
  ContentHasher hasher(std::nullopt);
  const auto content = hash_in_pieces(hasher, zstd_frames(original, 4096), true);
  ASSERT_TRUE(content) << content.error();
  EXPECT_EQ(content->size, original.size());
  EXPECT_TRUE(content->digest_hex.empty());
}

}  // namespace
}  // namespace piperun::stages::verify
