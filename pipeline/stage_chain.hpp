// The FileStages of one file, in stage order. A transforming stage (compress) takes the stages
// after it as its own downstream chain, so the chain for hash -> compress -> write is
// [hash, compress[write]].
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "pipeline/live_progress.hpp"
#include "pipeline/stage.hpp"

namespace piperun::pipeline {

class StageChain final : public FileStage {
 public:
  // `place`, when given, follows the file flow into each stage: stage i of `stages` is place
  // first_place + i (LiveProgress), and its input bytes are counted there.
  static std::unique_ptr<StageChain> build(std::span<const std::unique_ptr<Stage>> stages,
                                           const FileInfo& file, Runtime& runtime,
                                           FlowPlace* place = nullptr,
                                           std::size_t first_place = LiveProgress::kFirstStage);

  task<Status> prepare() override;
  // The chunk goes to each stage in turn; only the last one may take its lease.
  task<Status> on_chunk(Chunk chunk) override;
  // Stops at the first failure; abort() then aborts that stage and the ones after it.
  task<Status> finish(FileRecord& record) override;
  task<void> abort() override;

 private:
  std::vector<std::unique_ptr<FileStage>> stages_;
  std::optional<FlowPlace> own_place_;  // a downstream chain's: see build()
  FlowPlace* place_ = nullptr;
  // No transforming stage feeds another chain from here: a chunk this chain is done with has
  // gone through every stage (LiveProgress::bytes_done).
  bool ends_pipeline_ = true;
  std::size_t first_place_ = 0;
  std::size_t finished_ = 0;  // stages whose finish succeeded
};

}  // namespace piperun::pipeline
