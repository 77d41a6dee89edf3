#include "stages/registry.hpp"

#include <algorithm>

#include "stages/compress.hpp"
#include "stages/crypto_api.hpp"
#include "stages/hash.hpp"
#include "stages/upload/upload_stage.hpp"
#include "stages/write.hpp"

namespace piperun::stages {

std::expected<void, std::string> load_libraries(std::span<const std::string> names,
                                                const StageOptions& options) {
  // SHA-256 digests, and uploads (MD5 and SHA-256 checksums, S3 signatures), call libcrypto.
  const auto& algorithms = options.hash.algorithms;
  const bool sha256 =
      std::find(algorithms.begin(), algorithms.end(), HashAlgorithm::sha256) != algorithms.end();
  for (const std::string& name : names) {
    if (name == "upload" || (name == "hash" && sha256)) {
      if (auto loaded = load_crypto(); !loaded) return std::unexpected(loaded.error());
    }
  }
  return {};
}

std::expected<std::vector<std::unique_ptr<pipeline::Stage>>, std::string> make_stages(
    std::span<const std::string> names, const StageOptions& options) {
  std::vector<std::unique_ptr<pipeline::Stage>> stages;
  for (const std::string& name : names) {
    if (name == "hash") {
      stages.push_back(std::make_unique<HashStage>(options.hash));
    } else if (name == "compress") {
      stages.push_back(std::make_unique<CompressStage>(options.compress, options.cpu_threads));
    } else if (name == "write") {
      const bool compressed = std::find(names.begin(), names.end(), "compress") != names.end();
      stages.push_back(std::make_unique<WriteStage>(options.write, compressed ? ".zst" : ""));
    } else if (name == "upload") {
      UploadContext context = options.upload_context;
      const bool compressed = std::find(names.begin(), names.end(), "compress") != names.end();
      context.suffix = compressed ? ".zst" : "";
      stages.push_back(std::make_unique<UploadStage>(options.upload, std::move(context)));
    } else {
      return std::unexpected("stage '" + name + "' is not available in this version of pipe-run");
    }
  }
  return stages;
}

}  // namespace piperun::stages
