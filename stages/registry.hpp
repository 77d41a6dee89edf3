// Builds the configured stage chain from stage names.
#pragma once

#include <expected>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "pipeline/stage.hpp"
#include "stages/options.hpp"
#include "stages/upload/upload_stage.hpp"

namespace piperun::stages {

struct StageOptions {
  HashOptions hash;
  CompressOptions compress;
  WriteOptions write;
  UploadOptions upload;
  UploadContext upload_context;  // credentials, digest name, memory share
  unsigned cpu_threads = 1;      // the CPU pool's workers
};

// Loads the libraries that pipe-run loads on first use (stages/crypto_api) and these stages
// will call, so that a missing one stops the run before any work: fails with its message.
std::expected<void, std::string> load_libraries(std::span<const std::string> names,
                                                const StageOptions& options);

// Fails naming the first stage this build cannot run yet.
std::expected<std::vector<std::unique_ptr<pipeline::Stage>>, std::string> make_stages(
    std::span<const std::string> names, const StageOptions& options);

}  // namespace piperun::stages
