#include "stages/hash.hpp"

#include "stages/digests.hpp"

namespace piperun::stages {
namespace {

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
