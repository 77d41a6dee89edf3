#include "stages/digests.hpp"

#include <array>

#include <xxh_x86dispatch.h>  // run-time dispatch to the widest SIMD the CPU has

#include "stages/crypto_api.hpp"
#include "stages/hash.hpp"
#include "stages/hex.hpp"

namespace piperun::stages {

Digests::Digests(const std::vector<HashAlgorithm>& algorithms) : algorithms_(algorithms) {
  for (HashAlgorithm algorithm : algorithms_) {
    switch (algorithm) {
      case HashAlgorithm::xxh3_128:
        xxh3_.emplace();
        break;
      case HashAlgorithm::xxh64:
        xxh64_.emplace();
        break;
      case HashAlgorithm::sha256:
        sha256_ = crypto().md_ctx_new();
        break;
    }
  }
  reset();
}

Digests::~Digests() {
  if (sha256_ != nullptr) crypto().md_ctx_free(sha256_);
}

void Digests::reset() {
  if (xxh3_) XXH3_128bits_reset(&*xxh3_);
  if (xxh64_) XXH64_reset(&*xxh64_, 0);
  if (sha256_ != nullptr) crypto().digest_init(sha256_, crypto().sha256(), nullptr);
}

void Digests::update(std::span<const std::byte> bytes) {
  if (xxh3_) XXH3_128bits_update(&*xxh3_, bytes.data(), bytes.size());
  if (xxh64_) XXH64_update(&*xxh64_, bytes.data(), bytes.size());
  if (sha256_ != nullptr) crypto().digest_update(sha256_, bytes.data(), bytes.size());
}

void Digests::append_to(std::vector<pipeline::Digest>& out) {
  for (HashAlgorithm algorithm : algorithms_) {
    std::string hex;
    switch (algorithm) {
      case HashAlgorithm::xxh3_128: {
        XXH128_canonical_t canonical;
        XXH128_canonicalFromHash(&canonical, XXH3_128bits_digest(&*xxh3_));
        hex = to_hex(std::as_bytes(std::span(canonical.digest)));
        break;
      }
      case HashAlgorithm::xxh64: {
        XXH64_canonical_t canonical;
        XXH64_canonicalFromHash(&canonical, XXH64_digest(&*xxh64_));
        hex = to_hex(std::as_bytes(std::span(canonical.digest)));
        break;
      }
      case HashAlgorithm::sha256: {
        std::array<unsigned char, EVP_MAX_MD_SIZE> digest;
        unsigned int length = 0;
        crypto().digest_final(sha256_, digest.data(), &length);
        hex = to_hex(std::as_bytes(std::span(digest).first(length)));
        break;
      }
    }
    out.push_back({std::string(algorithm_name(algorithm)), std::move(hex)});
  }
}

}  // namespace piperun::stages
