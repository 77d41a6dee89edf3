// The checksum an S3 server verifies on arrival (Content-MD5 or x-amz-checksum-*), computed as
// the bytes go by. Values are base64 of the big-endian digest, as AWS sends them: CRC32C 4
// bytes, CRC64NVME 8, MD5 16, SHA-256 32, XXHASH128 the 16 bytes of XXH3-128's canonical form.
// One object per upload or part, used by one thread at a time; nothing is allocated per update.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "stages/options.hpp"

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX
struct XXH3_state_s;   // xxHash's XXH3_state_t

namespace piperun::stages::upload {

// A finished checksum: its bytes, big-endian as S3 encodes them; empty for none.
struct ChecksumBytes {
  std::array<std::byte, 64> storage{};  // EVP_MAX_MD_SIZE
  std::size_t size = 0;
  std::span<const std::byte> bytes() const { return {storage.data(), size}; }
};

class TransportChecksum {
 public:
  // MD5 is missing from an OpenSSL in FIPS mode: check is_available before choosing a kind;
  // constructing one that is not available ends the process.
  explicit TransportChecksum(piperun::stages::TransportChecksum kind);
  static bool is_available(piperun::stages::TransportChecksum kind);

  void update(std::span<const std::byte> bytes);
  ChecksumBytes finish();       // then reset for reuse
  std::string finish_base64();  // finish(), base64 as the headers carry it; empty for none

  // "Content-MD5", "x-amz-checksum-crc32c", "x-amz-checksum-crc64nvme", "x-amz-checksum-sha256",
  // "x-amz-checksum-xxhash128"; "" for none.
  std::string_view header_name() const;
  // For x-amz-checksum-algorithm / x-amz-sdk-checksum-algorithm: "CRC32C", "CRC64NVME",
  // "SHA256", "XXHASH128"; "" for md5 and none.
  std::string_view s3_algorithm() const;
  // The element of a part in CompleteMultipartUpload: "ChecksumCRC32C", "ChecksumCRC64NVME",
  // "ChecksumSHA256", "ChecksumXXHASH128"; "" for md5 and none.
  std::string_view complete_element() const;

  piperun::stages::TransportChecksum kind() const { return kind_; }

 private:
  struct DigestFree {
    void operator()(evp_md_ctx_st* context) const;
  };
  struct Xxh3Free {
    void operator()(XXH3_state_s* state) const;
  };

  void reset();

  piperun::stages::TransportChecksum kind_;
  std::unique_ptr<evp_md_ctx_st, DigestFree> digest_;  // md5, sha256
  // xxhash128. XXH3_createState gives the 64-byte alignment the state needs, which a member
  // would not have when this object lives in a coroutine frame.
  std::unique_ptr<XXH3_state_s, Xxh3Free> xxh3_;
  std::uint32_t crc32c_ = 0;     // the running (not yet inverted) CRC, as ISA-L's crc32_iscsi keeps
  std::uint64_t crc64nvme_ = 0;  // the finished CRC of the bytes so far
};

std::string base64_encode(std::span<const std::byte> bytes);

}  // namespace piperun::stages::upload
