// The compress stage: each chunk becomes an independent zstd frame, compressed on the CPU pool
// while the next chunks are read, and passed on in file order. Independent frames one after
// another are one valid .zst, which stock `zstd -d` restores; with the default 2 MiB chunks the
// output stays within 1% of per-file `zstd -3` (bench/RESULTS.md).
#pragma once

#include <memory>
#include <string_view>

#include "pipeline/stage.hpp"
#include "stages/options.hpp"

namespace piperun::stages {

class CompressStage final : public pipeline::Stage {
 public:
  // `threads`: the CPU pool's workers; a file keeps twice as many frames in flight.
  CompressStage(CompressOptions options, unsigned threads);
  ~CompressStage() override;

  std::string_view name() const noexcept override { return "compress"; }
  bool transforms() const noexcept override { return true; }
  std::unique_ptr<pipeline::FileStage> begin(
      const pipeline::FileInfo& file, pipeline::Runtime& runtime,
      std::unique_ptr<pipeline::FileStage> downstream) override;
  // ZSTD_compressBound: a frame always fits, so zstd compresses straight into the buffer.
  std::size_t output_buffer_bytes(std::size_t chunk_bytes) const noexcept override;

  class Contexts;

 private:
  std::unique_ptr<Contexts> contexts_;
  unsigned frames_in_flight_;
};

}  // namespace piperun::stages
