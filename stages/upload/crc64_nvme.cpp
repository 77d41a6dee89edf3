#include "stages/upload/crc64_nvme.hpp"

#include <array>
#include <bit>
#include <cstring>

#ifdef PIPE_RUN_HAVE_ISAL_CRC64_NVME
#include <isa-l/crc64.h>
#endif
#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace piperun::stages::upload {
namespace {

// Polynomials with bit j the coefficient of x^j; x^64 is implied.
constexpr std::uint64_t kPolynomial = 0xad93d23594c93659;
constexpr std::uint64_t kReflectedPolynomial = 0x9a6c9329ac4bc9b5;  // kPolynomial's bits reversed

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

// `crc` here is the register itself: no inversion on the way in or out.
std::uint64_t update_register(std::uint64_t crc, const unsigned char* data, std::size_t size) {
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

#if defined(__x86_64__) && !defined(PIPE_RUN_HAVE_ISAL_CRC64_NVME)

// Folding, after Intel's "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ".
// Sixteen message bytes loaded into a register are a polynomial r of degree < 128, bit-reversed
// (the first byte's low bit is x^127): the low half holds r's upper 64 coefficients (r_hi), the
// high half the lower ones (r_lo). Moving r forward over D more bits of message is
// r * x^D = r_hi * x^(D+64) + r_lo * x^D, and modulo P each term is a 64 x 64-bit carry-less
// product that lines up with the 16 bytes found D bits later. On bit-reversed operands
// PCLMULQDQ yields the reversed product times x, hence the exponents one lower below.

constexpr std::uint64_t x_power_mod_p(unsigned exponent) {
  std::uint64_t power = 1;
  for (unsigned i = 0; i < exponent; ++i)
    power = (power << 1) ^ ((power >> 63) != 0 ? kPolynomial : 0);
  return power;
}

constexpr std::uint64_t reverse_bits(std::uint64_t value) {
  std::uint64_t reversed = 0;
  for (int bit = 0; bit < 64; ++bit, value >>= 1)
    reversed = (reversed << 1) | (value & 1);
  return reversed;
}

struct FoldConstants {
  std::uint64_t for_low_half, for_high_half;
};

constexpr FoldConstants fold_constants(unsigned distance_bits) {
  return {reverse_bits(x_power_mod_p(distance_bits + 63)),
          reverse_bits(x_power_mod_p(distance_bits - 1))};
}

constexpr FoldConstants kFold512 = fold_constants(512);  // four registers ahead
constexpr FoldConstants kFold128 = fold_constants(128);  // the next register

__attribute__((target("pclmul"))) __m128i constants_register(FoldConstants constants) {
  return _mm_set_epi64x(static_cast<long long>(constants.for_high_half),
                        static_cast<long long>(constants.for_low_half));
}

__attribute__((target("pclmul"))) __m128i fold(__m128i lane, __m128i constants) {
  return _mm_xor_si128(_mm_clmulepi64_si128(lane, constants, 0x00),
                       _mm_clmulepi64_si128(lane, constants, 0x11));
}

__attribute__((target("pclmul"))) __m128i load(const unsigned char* data) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(data));
}

__attribute__((target("pclmul"))) std::uint64_t update_register_pclmul(std::uint64_t crc,
                                                                       const unsigned char* data,
                                                                       std::size_t size) {
  constexpr std::size_t kBlock = 64;  // four registers folded side by side hide the latency
  if (size < 2 * kBlock) return update_register(crc, data, size);
  const __m128i fold512 = constants_register(kFold512);
  const __m128i fold128 = constants_register(kFold128);

  // The register so far is the same as XORing it into the first eight message bytes.
  __m128i lanes[4] = {_mm_xor_si128(load(data), _mm_cvtsi64_si128(static_cast<long long>(crc))),
                      load(data + 16), load(data + 32), load(data + 48)};
  data += kBlock;
  size -= kBlock;
  for (; size >= kBlock; data += kBlock, size -= kBlock) {
    for (int i = 0; i < 4; ++i)
      lanes[i] = _mm_xor_si128(fold(lanes[i], fold512), load(data + 16 * i));
  }
  __m128i lane = lanes[0];
  for (int i = 1; i < 4; ++i)
    lane = _mm_xor_si128(fold(lane, fold128), lanes[i]);
  for (; size >= 16; data += 16, size -= 16)
    lane = _mm_xor_si128(fold(lane, fold128), load(data));

  // What is left is a 128-bit remainder: its CRC from a zero register, as sixteen bytes, is
  // the message's so far; the table finishes it and the tail.
  std::array<unsigned char, 16> remainder;
  _mm_storeu_si128(reinterpret_cast<__m128i*>(remainder.data()), lane);
  crc = update_register(0, remainder.data(), remainder.size());
  return update_register(crc, data, size);
}

bool cpu_has_pclmul() {
  static const bool has = __builtin_cpu_supports("pclmul");
  return has;
}

#endif

}  // namespace

std::uint64_t crc64_nvme(std::uint64_t crc, std::span<const std::byte> bytes) {
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
#ifdef PIPE_RUN_HAVE_ISAL_CRC64_NVME
  // ISA-L's crc64 functions take and return the finished value, as we do.
  return crc64_rocksoft_refl(crc, data, bytes.size());
#else
#if defined(__x86_64__)
  if (cpu_has_pclmul()) return ~update_register_pclmul(~crc, data, bytes.size());
#endif
  return ~update_register(~crc, data, bytes.size());
#endif
}

std::uint64_t crc64_nvme_portable(std::uint64_t crc, std::span<const std::byte> bytes) {
  return ~update_register(~crc, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
}

}  // namespace piperun::stages::upload
