// AWS Signature Version 4 for S3 requests sent with an Authorization header, computed with
// OpenSSL's libcrypto (SHA-256, HMAC-SHA256). Pure: no clock, no I/O, nothing cached between
// calls; the caller passes the time and may keep a SigningKeyCache per connection.
// https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace piperun::stages::upload {

struct Credentials {
  std::string access_key, secret_key, session_token;  // token may be empty
};

struct Header {
  std::string name, value;
};

struct RequestToSign {
  std::string_view method;        // "PUT"
  std::string_view host;          // value of the Host header as sent, e.g. "127.0.0.1:7480"
  std::string_view encoded_path;  // already percent-encoded path, e.g. "/bucket/a%20b.zst"
  // NOT encoded; the signer encodes and sorts; a name with empty value ("uploads") becomes
  // "uploads=".
  std::vector<std::pair<std::string, std::string>> query;
  // Extra headers to sign and send (content-md5, content-type, x-amz-meta-*,
  // x-amz-checksum-*...). Host, x-amz-date, x-amz-content-sha256, x-amz-security-token and
  // Authorization are the signer's: any of them given here is dropped.
  std::vector<Header> headers;
  std::string_view payload_hash;  // lowercase hex SHA-256 of the body, or "UNSIGNED-PAYLOAD"
  std::string_view region;
  std::string_view service = "s3";
  std::chrono::system_clock::time_point now;
};

struct SignedRequest {
  // The query string to put after '?' in the URL, exactly as signed (empty when none).
  std::string canonical_query;
  // Every header to send except Host: the input headers + x-amz-date, x-amz-content-sha256,
  // x-amz-security-token (when a token), Authorization.
  std::vector<Header> headers;
};

// HMAC chain of secret, date, region and service: the same for every request of a day.
using SigningKey = std::array<unsigned char, 32>;
SigningKey derive_signing_key(std::string_view secret_key, std::string_view yyyymmdd,
                              std::string_view region, std::string_view service);

// Remembers the last signing key, so that a connection's requests of one day cost one HMAC
// for the key instead of five. Not thread-safe: one per connection or per thread.
class SigningKeyCache {
 public:
  const SigningKey& get(std::string_view secret_key, std::string_view yyyymmdd,
                        std::string_view region, std::string_view service);

 private:
  std::string secret_key_, yyyymmdd_, region_, service_;
  SigningKey key_{};
  bool filled_ = false;
};

SignedRequest sign_v4(const RequestToSign& request, const Credentials& credentials);
SignedRequest sign_v4(const RequestToSign& request, const Credentials& credentials,
                      SigningKeyCache& keys);

// The canonical request sign_v4 signs, byte for byte: compare it with the <CanonicalRequest>
// of a SignatureDoesNotMatch error to see which side differs.
std::string canonical_request(const RequestToSign& request, const Credentials& credentials);

// "20130524T000000Z", the form of x-amz-date (UTC, whole seconds).
std::string amz_date(std::chrono::system_clock::time_point time);

std::string sha256_hex(std::span<const std::byte> bytes);  // lowercase hex

}  // namespace piperun::stages::upload
