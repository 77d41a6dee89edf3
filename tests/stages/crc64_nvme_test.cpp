// crc64_nvme against the catalogue's check value and a bit-at-a-time reference, at every
// alignment, length and split: the table reads eight bytes at a time, the PCLMULQDQ path folds
// 64 then 16 and hands the rest to the table, and both must agree with one bit at a time.
#include "stages/upload/crc64_nvme.hpp"

#include <random>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "support/bytes_of.hpp"

namespace piperun::stages::upload {
namespace {

using piperun::testing::bytes_of;

// The definition, one bit at a time: nothing shared with the code under test.
std::uint64_t reference_crc64_nvme(std::span<const std::byte> bytes) {
  std::uint64_t crc = ~std::uint64_t{0};
  for (std::byte byte : bytes) {
    crc ^= std::to_integer<std::uint64_t>(byte);
    for (int bit = 0; bit < 8; ++bit)
      crc = (crc >> 1) ^ ((crc & 1) != 0 ? 0x9a6c9329ac4bc9b5 : 0);
  }
  return ~crc;
}

std::vector<std::byte> random_bytes(std::size_t count) {
  std::mt19937_64 generator(20240901);
  std::vector<std::byte> bytes(count);
  for (std::byte& byte : bytes)
    byte = static_cast<std::byte>(generator());
  return bytes;
}

TEST(Crc64NvmeChecksum, CheckValue) {
  EXPECT_EQ(crc64_nvme(0, bytes_of("123456789")), 0xae8b14860a799888u);
  EXPECT_EQ(crc64_nvme(0, {}), 0u);
  EXPECT_EQ(crc64_nvme(0, bytes_of("hello")), 0x3377857006524257u);
}

TEST(Crc64NvmeChecksum, AgreesWithTheBitwiseDefinitionAtEveryAlignment) {
  const std::vector<std::byte> data = random_bytes(4096 + 64);
  for (std::size_t offset = 0; offset < 16; ++offset) {
    for (std::size_t size : {0u, 1u, 7u, 8u, 9u, 15u, 16u, 17u, 63u, 64u, 65u, 1000u, 4096u}) {
      const auto piece = std::span(data).subspan(offset, size);
      EXPECT_EQ(crc64_nvme(0, piece), reference_crc64_nvme(piece))
          << "offset " << offset << " size " << size;
    }
  }
}

TEST(Crc64NvmeChecksum, EveryLengthAcrossTheFoldingStepsAgrees) {
  const std::vector<std::byte> data = random_bytes(700);
  for (std::size_t offset = 0; offset < 4; ++offset) {
    for (std::size_t size = 0; size + offset <= 600; ++size) {
      const auto piece = std::span(data).subspan(offset, size);
      const std::uint64_t expected = reference_crc64_nvme(piece);
      ASSERT_EQ(crc64_nvme(0, piece), expected) << "offset " << offset << " size " << size;
      ASSERT_EQ(crc64_nvme_portable(0, piece), expected) << "offset " << offset << " size " << size;
      // A register that is not all ones on entry: the continuation of an earlier piece.
      const auto rest = std::span(data).subspan(offset + size, 50);
      ASSERT_EQ(crc64_nvme(expected, rest), crc64_nvme_portable(expected, rest)) << size;
    }
  }
}

TEST(Crc64NvmeChecksum, PortableCheckValue) {
  EXPECT_EQ(crc64_nvme_portable(0, bytes_of("123456789")), 0xae8b14860a799888u);
  const std::vector<std::byte> data = random_bytes(100'000);
  EXPECT_EQ(crc64_nvme_portable(0, data), crc64_nvme(0, data));
}

TEST(Crc64NvmeChecksum, SplitInputGivesTheValueOfTheWhole) {
  const std::vector<std::byte> data = random_bytes(100'000);
  const std::uint64_t whole = crc64_nvme(0, data);
  EXPECT_EQ(whole, reference_crc64_nvme(data));
  for (std::size_t split : {0u, 1u, 3u, 8u, 4095u, 65536u, 99'999u, 100'000u}) {
    const auto all = std::span(data);
    EXPECT_EQ(crc64_nvme(crc64_nvme(0, all.first(split)), all.subspan(split)), whole) << split;
  }
}

}  // namespace
}  // namespace piperun::stages::upload
