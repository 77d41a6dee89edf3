#include "stages/upload/transport_checksum.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>

#include <climits>
#include <isa-l/crc.h>
#include <openssl/evp.h>
#include <xxh_x86dispatch.h>  // run-time dispatch to the widest SIMD the CPU has
#include <xxhash.h>

#include "stages/crypto_api.hpp"
#include "stages/upload/crc64_nvme.hpp"

namespace piperun::stages::upload {
namespace {

using Kind = piperun::stages::TransportChecksum;

// Digests fail only when libcrypto cannot allocate or lacks the algorithm, which is_available
// lets the caller rule out first; a wrong checksum would fail every upload with BadDigest.
[[noreturn]] void libcrypto_failed(const char* what) {
  std::fprintf(stderr, "pipe-run: OpenSSL %s failed\n", what);
  std::abort();
}

const char* digest_name(Kind kind) {
  return kind == Kind::md5 ? "MD5" : "SHA256";
}

template <typename Unsigned>
std::array<std::byte, sizeof(Unsigned)> big_endian(Unsigned value) {
  std::array<std::byte, sizeof(Unsigned)> bytes;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = static_cast<std::byte>(value >> (8 * (bytes.size() - 1 - i)));
  }
  return bytes;
}

static_assert(sizeof(ChecksumBytes{}.storage) >= EVP_MAX_MD_SIZE);

}  // namespace

void TransportChecksum::DigestFree::operator()(evp_md_ctx_st* context) const {
  crypto().md_ctx_free(context);
}

void TransportChecksum::Xxh3Free::operator()(XXH3_state_s* state) const {
  XXH3_freeState(state);
}

TransportChecksum::TransportChecksum(Kind kind) : kind_(kind) {
  switch (kind_) {
    case Kind::md5:
    case Kind::sha256:
      digest_.reset(crypto().md_ctx_new());
      if (!digest_) libcrypto_failed("EVP_MD_CTX_new");
      break;
    case Kind::xxhash128:
      xxh3_.reset(XXH3_createState());
      if (!xxh3_) {
        std::fprintf(stderr, "pipe-run: out of memory for an XXH3 state\n");
        std::abort();
      }
      break;
    case Kind::crc32c:
    case Kind::crc64nvme:
    case Kind::none:
      break;
  }
  reset();
}

bool TransportChecksum::is_available(Kind kind) {
  if (kind != Kind::md5 && kind != Kind::sha256) return true;
  if (!load_crypto()) return false;
  EVP_MD* digest = crypto().md_fetch(nullptr, digest_name(kind), nullptr);
  crypto().md_free(digest);
  return digest != nullptr;
}

void TransportChecksum::reset() {
  switch (kind_) {
    case Kind::md5:
    case Kind::sha256:
      if (crypto().digest_init(digest_.get(),
                               kind_ == Kind::md5 ? crypto().md5() : crypto().sha256(),
                               nullptr) != 1) {
        libcrypto_failed(digest_name(kind_));
      }
      break;
    case Kind::xxhash128:
      XXH3_128bits_reset(xxh3_.get());
      break;
    case Kind::crc32c:
      crc32c_ = 0xffffffff;  // CRC32C's initial value; crc32_iscsi applies none of its own
      break;
    case Kind::crc64nvme:
      crc64nvme_ = 0;
      break;
    case Kind::none:
      break;
  }
}

void TransportChecksum::update(std::span<const std::byte> bytes) {
  switch (kind_) {
    case Kind::md5:
    case Kind::sha256:
      if (crypto().digest_update(digest_.get(), bytes.data(), bytes.size()) != 1) {
        libcrypto_failed(digest_name(kind_));
      }
      break;
    case Kind::xxhash128:
      XXH3_128bits_update(xxh3_.get(), bytes.data(), bytes.size());
      break;
    case Kind::crc32c:
      // crc32_iscsi takes an int length and a non-const pointer it only reads.
      while (!bytes.empty()) {
        const std::size_t piece = std::min<std::size_t>(bytes.size(), INT_MAX & ~std::size_t{63});
        crc32c_ = crc32_iscsi(
            const_cast<unsigned char*>(reinterpret_cast<const unsigned char*>(bytes.data())),
            static_cast<int>(piece), crc32c_);
        bytes = bytes.subspan(piece);
      }
      break;
    case Kind::crc64nvme:
      crc64nvme_ = crc64_nvme(crc64nvme_, bytes);
      break;
    case Kind::none:
      break;
  }
}

ChecksumBytes TransportChecksum::finish() {
  ChecksumBytes out;
  auto keep = [&out](std::span<const std::byte> bytes) {
    std::copy(bytes.begin(), bytes.end(), out.storage.begin());
    out.size = bytes.size();
  };
  switch (kind_) {
    case Kind::md5:
    case Kind::sha256: {
      unsigned int length = 0;
      if (crypto().digest_final(digest_.get(), reinterpret_cast<unsigned char*>(out.storage.data()),
                                &length) != 1) {
        libcrypto_failed(digest_name(kind_));
      }
      out.size = length;
      break;
    }
    case Kind::xxhash128: {
      XXH128_canonical_t canonical;
      XXH128_canonicalFromHash(&canonical, XXH3_128bits_digest(xxh3_.get()));
      keep(std::as_bytes(std::span(canonical.digest)));
      break;
    }
    case Kind::crc32c:
      keep(big_endian<std::uint32_t>(~crc32c_));
      break;
    case Kind::crc64nvme:
      keep(big_endian<std::uint64_t>(crc64nvme_));
      break;
    case Kind::none:
      break;
  }
  reset();
  return out;
}

std::string TransportChecksum::finish_base64() {
  const ChecksumBytes digest = finish();
  return digest.size == 0 ? std::string() : base64_encode(digest.bytes());
}

std::string_view TransportChecksum::header_name() const {
  switch (kind_) {
    case Kind::md5:
      return "Content-MD5";
    case Kind::crc32c:
      return "x-amz-checksum-crc32c";
    case Kind::crc64nvme:
      return "x-amz-checksum-crc64nvme";
    case Kind::sha256:
      return "x-amz-checksum-sha256";
    case Kind::xxhash128:
      return "x-amz-checksum-xxhash128";
    case Kind::none:
      break;
  }
  return "";
}

std::string_view TransportChecksum::s3_algorithm() const {
  switch (kind_) {
    case Kind::crc32c:
      return "CRC32C";
    case Kind::crc64nvme:
      return "CRC64NVME";
    case Kind::sha256:
      return "SHA256";
    case Kind::xxhash128:
      return "XXHASH128";
    case Kind::md5:
    case Kind::none:
      break;
  }
  return "";
}

std::string_view TransportChecksum::complete_element() const {
  switch (kind_) {
    case Kind::crc32c:
      return "ChecksumCRC32C";
    case Kind::crc64nvme:
      return "ChecksumCRC64NVME";
    case Kind::sha256:
      return "ChecksumSHA256";
    case Kind::xxhash128:
      return "ChecksumXXHASH128";
    case Kind::md5:
    case Kind::none:
      break;
  }
  return "";
}

std::string base64_encode(std::span<const std::byte> bytes) {
  std::string encoded;
  // EVP_EncodeBlock takes an int length: pieces of whole three-byte groups, which concatenate
  // into one valid encoding.
  std::size_t done = 0;
  while (done < bytes.size()) {
    const std::size_t piece = std::min<std::size_t>(bytes.size() - done, 3 * (1 << 28));
    const std::size_t start = encoded.size();
    encoded.resize(start + 4 * ((piece + 2) / 3) + 1);  // + the NUL EVP_EncodeBlock writes
    const int written = crypto().encode_base64(
        reinterpret_cast<unsigned char*>(encoded.data() + start),
        reinterpret_cast<const unsigned char*>(bytes.data() + done), static_cast<int>(piece));
    encoded.resize(start + static_cast<std::size_t>(written));
    done += piece;
  }
  return encoded;
}

}  // namespace piperun::stages::upload
