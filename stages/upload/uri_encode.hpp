// Percent-encoding as AWS Signature V4 defines it (RFC 3986 unreserved characters kept), which
// is stricter than what browsers or curl do: a server that re-encodes the path to check the
// signature must arrive at the very bytes we signed.
#pragma once

#include <string>
#include <string_view>

namespace piperun::stages::upload {

// Keeps A-Z a-z 0-9 - . _ ~ and turns every other byte, UTF-8 or not, into %XX with uppercase
// hex. '/' is kept when `encode_slash` is false: object keys in a path; query names and values
// encode it.
std::string uri_encode(std::string_view text, bool encode_slash);

}  // namespace piperun::stages::upload
