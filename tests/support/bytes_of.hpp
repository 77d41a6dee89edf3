// The bytes of a string, as the digest and checksum interfaces take them.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace piperun::testing {

inline std::span<const std::byte> bytes_of(std::string_view text) {
  return std::as_bytes(std::span(text.data(), text.size()));
}

}  // namespace piperun::testing
