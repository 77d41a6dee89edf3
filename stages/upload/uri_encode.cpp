#include "stages/upload/uri_encode.hpp"

namespace piperun::stages::upload {
namespace {

bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

}  // namespace

std::string uri_encode(std::string_view text, bool encode_slash) {
  static constexpr char kHexDigits[] = "0123456789ABCDEF";
  std::string encoded;
  encoded.reserve(text.size());
  for (char signed_c : text) {
    const auto c = static_cast<unsigned char>(signed_c);
    if (is_unreserved(c) || (c == '/' && !encode_slash)) {
      encoded += signed_c;
    } else {
      encoded += '%';
      encoded += kHexDigits[c >> 4];
      encoded += kHexDigits[c & 0xf];
    }
  }
  return encoded;
}

}  // namespace piperun::stages::upload
