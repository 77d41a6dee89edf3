// Lowercase hex of bytes, in their order: how the stock tools print digests, and how SigV4 writes
// hashes and signatures.
#pragma once

#include <cstddef>
#include <span>
#include <string>

namespace piperun::stages {

inline std::string to_hex(std::span<const std::byte> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex(bytes.size() * 2, '0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const auto byte = static_cast<unsigned char>(bytes[i]);
    hex[2 * i] = kDigits[byte >> 4];
    hex[2 * i + 1] = kDigits[byte & 0xf];
  }
  return hex;
}

}  // namespace piperun::stages
