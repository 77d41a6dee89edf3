#include "pipeline/stage_chain.hpp"

namespace piperun::pipeline {

std::unique_ptr<StageChain> StageChain::build(std::span<const std::unique_ptr<Stage>> stages,
                                              const FileInfo& file, Runtime& runtime) {
  auto chain = std::make_unique<StageChain>();
  chain->stages_.reserve(stages.size());
  for (std::size_t i = 0; i < stages.size(); ++i) {
    Stage& stage = *stages[i];
    if (stage.transforms()) {
      chain->stages_.push_back(
          stage.begin(file, runtime, build(stages.subspan(i + 1), file, runtime)));
      break;
    }
    chain->stages_.push_back(stage.begin(file, runtime, nullptr));
  }
  return chain;
}

task<Status> StageChain::prepare() {
  for (const auto& stage : stages_) {
    Status status = co_await stage->prepare();
    if (!status) co_return status;
  }
  co_return Status{};
}

task<Status> StageChain::on_chunk(Chunk chunk) {
  for (std::size_t i = 0; i < stages_.size(); ++i) {
    Chunk mine = chunk;
    if (i + 1 < stages_.size()) mine.lease = nullptr;
    Status status = co_await stages_[i]->on_chunk(mine);
    if (!status) co_return status;
  }
  co_return Status{};
}

task<Status> StageChain::finish(FileRecord& record) {
  for (; finished_ < stages_.size(); ++finished_) {
    Status status = co_await stages_[finished_]->finish(record);
    if (!status) co_return status;
  }
  co_return Status{};
}

task<void> StageChain::abort() {
  for (std::size_t i = finished_; i < stages_.size(); ++i)
    co_await stages_[i]->abort();
}

}  // namespace piperun::pipeline
