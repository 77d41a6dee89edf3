#include "stages/hash.hpp"

#include "stages/hex.hpp"

#define XXH_STATIC_LINKING_ONLY  // XXH3_state_t by value: no malloc per file
#include <array>
#include <optional>

#include <openssl/evp.h>
#include <xxh_x86dispatch.h>  // run-time dispatch to the widest SIMD the CPU has
#include <xxhash.h>

namespace piperun::stages {
namespace {

// All digests of one file. Lives on the heap (the FileStage), never in a coroutine frame:
// XXH3_state_t needs 64-byte alignment that frames do not promise.
class Digests {
 public:
  explicit Digests(const std::vector<HashAlgorithm>& algorithms) {
    for (HashAlgorithm algorithm : algorithms) {
      switch (algorithm) {
        case HashAlgorithm::xxh3_128:
          xxh3_.emplace();
          XXH3_128bits_reset(&*xxh3_);
          break;
        case HashAlgorithm::xxh64:
          xxh64_.emplace();
          XXH64_reset(&*xxh64_, 0);
          break;
        case HashAlgorithm::sha256:
          sha256_ = EVP_MD_CTX_new();
          EVP_DigestInit_ex(sha256_, EVP_sha256(), nullptr);
          break;
      }
    }
    algorithms_ = algorithms;
  }
  ~Digests() { EVP_MD_CTX_free(sha256_); }
  Digests(const Digests&) = delete;
  Digests& operator=(const Digests&) = delete;

  void update(std::span<const std::byte> bytes) {
    if (xxh3_) XXH3_128bits_update(&*xxh3_, bytes.data(), bytes.size());
    if (xxh64_) XXH64_update(&*xxh64_, bytes.data(), bytes.size());
    if (sha256_ != nullptr) EVP_DigestUpdate(sha256_, bytes.data(), bytes.size());
  }

  void append_to(std::vector<pipeline::Digest>& out) {
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
          EVP_DigestFinal_ex(sha256_, digest.data(), &length);
          hex = to_hex(std::as_bytes(std::span(digest).first(length)));
          break;
        }
      }
      out.push_back({std::string(algorithm_name(algorithm)), std::move(hex)});
    }
  }

 private:
  std::vector<HashAlgorithm> algorithms_;
  std::optional<XXH3_state_t> xxh3_;
  std::optional<XXH64_state_t> xxh64_;
  EVP_MD_CTX* sha256_ = nullptr;
};

struct UpdateDigests {
  Digests* digests;
  std::span<const std::byte> bytes;
  void operator()() const { digests->update(bytes); }
};

class HashFileStage final : public pipeline::FileStage {
 public:
  HashFileStage(const std::vector<HashAlgorithm>& algorithms, pipeline::Runtime& runtime,
                std::size_t offload_bytes)
      : digests_(algorithms), runtime_(runtime), offload_bytes_(offload_bytes) {}

  pipeline::task<pipeline::Status> on_chunk(pipeline::Chunk chunk) override {
    if (chunk.bytes.size() >= offload_bytes_) {
      co_await runtime_.cpu.offload(UpdateDigests{&digests_, chunk.bytes});
    } else {
      digests_.update(chunk.bytes);
    }
    co_return pipeline::Status{};
  }

  pipeline::task<pipeline::Status> finish(pipeline::FileRecord& record) override {
    digests_.append_to(record.digests);
    co_return pipeline::Status{};
  }

 private:
  Digests digests_;
  pipeline::Runtime& runtime_;
  std::size_t offload_bytes_;
};

}  // namespace

std::string_view algorithm_name(HashAlgorithm algorithm) {
  switch (algorithm) {
    case HashAlgorithm::xxh3_128:
      return "xxh3-128";
    case HashAlgorithm::xxh64:
      return "xxh64";
    case HashAlgorithm::sha256:
      return "sha256";
  }
  return "unknown";
}

HashStage::HashStage(HashOptions options, std::size_t offload_bytes)
    : options_(std::move(options)), offload_bytes_(offload_bytes) {}

std::unique_ptr<pipeline::FileStage> HashStage::begin(
    const pipeline::FileInfo&, pipeline::Runtime& runtime,
    std::unique_ptr<pipeline::FileStage> /*downstream*/) {
  return std::make_unique<HashFileStage>(options_.algorithms, runtime, offload_bytes_);
}

}  // namespace piperun::stages
