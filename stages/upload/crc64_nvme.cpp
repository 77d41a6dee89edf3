#include "stages/upload/crc64_nvme.hpp"

#include <array>
#include <bit>
#include <cstring>

#ifdef PIPE_RUN_HAVE_ISAL_CRC64_NVME
#include <isa-l/crc64.h>
#endif

namespace piperun::stages::upload {
namespace {

#ifndef PIPE_RUN_HAVE_ISAL_CRC64_NVME

constexpr std::uint64_t kReflectedPolynomial = 0x9a6c9329ac4bc9b5;  // 0xad93d23594c93659 reversed

// kTables[0] is the byte-at-a-time table; kTables[k][b] is the CRC of byte b followed by k
// zero bytes, which lets eight bytes be folded in with eight independent lookups.
using Tables = std::array<std::array<std::uint64_t, 256>, 8>;

constexpr Tables make_tables() {
  Tables tables{};
  for (std::uint64_t byte = 0; byte < 256; ++byte) {
    std::uint64_t crc = byte;
    for (int bit = 0; bit < 8; ++bit)
      crc = (crc >> 1) ^ ((crc & 1) != 0 ? kReflectedPolynomial : 0);
    tables[0][byte] = crc;
  }
  for (std::size_t k = 1; k < tables.size(); ++k) {
    for (std::size_t byte = 0; byte < 256; ++byte) {
      const std::uint64_t previous = tables[k - 1][byte];
      tables[k][byte] = (previous >> 8) ^ tables[0][previous & 0xff];
    }
  }
  return tables;
}

constexpr Tables kTables = make_tables();

std::uint64_t update_raw(std::uint64_t crc, const unsigned char* data, std::size_t size) {
  // The eight-byte step loads a little-endian word; elsewhere only the byte loop is right.
  if constexpr (std::endian::native == std::endian::little) {
    for (; size >= 8; data += 8, size -= 8) {
      std::uint64_t word;
      std::memcpy(&word, data, sizeof word);
      crc ^= word;
      crc = kTables[7][crc & 0xff] ^ kTables[6][(crc >> 8) & 0xff] ^
            kTables[5][(crc >> 16) & 0xff] ^ kTables[4][(crc >> 24) & 0xff] ^
            kTables[3][(crc >> 32) & 0xff] ^ kTables[2][(crc >> 40) & 0xff] ^
            kTables[1][(crc >> 48) & 0xff] ^ kTables[0][crc >> 56];
    }
  }
  for (; size > 0; ++data, --size)
    crc = kTables[0][(crc ^ *data) & 0xff] ^ (crc >> 8);
  return crc;
}

#endif

}  // namespace

std::uint64_t crc64_nvme(std::uint64_t crc, std::span<const std::byte> bytes) {
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
#ifdef PIPE_RUN_HAVE_ISAL_CRC64_NVME
  // ISA-L's crc64 functions take and return the finished value, as we do.
  return crc64_rocksoft_refl(crc, data, bytes.size());
#else
  return ~update_raw(~crc, data, bytes.size());
#endif
}

}  // namespace piperun::stages::upload
