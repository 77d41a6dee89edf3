#include "pipeline/stage_chain.hpp"

namespace piperun::pipeline {

std::unique_ptr<StageChain> StageChain::build(std::span<const std::unique_ptr<Stage>> stages,
                                              const FileInfo& file, Runtime& runtime,
                                              FlowPlace* place, std::size_t first_place) {
  auto chain = std::make_unique<StageChain>();
  chain->place_ = place;
  chain->first_place_ = first_place;
  chain->stages_.reserve(stages.size());
  for (std::size_t i = 0; i < stages.size(); ++i) {
    Stage& stage = *stages[i];
    if (stage.transforms()) {
      // The stages after it are fed from a coroutine of the transforming stage, which waits
      // beside the file flow: it gets a place of its own.
      std::unique_ptr<StageChain> downstream =
          build(stages.subspan(i + 1), file, runtime, nullptr, first_place + i + 1);
      if (place != nullptr) {
        downstream->own_place_.emplace(place->live());
        downstream->place_ = &*downstream->own_place_;
      }
      chain->stages_.push_back(stage.begin(file, runtime, std::move(downstream)));
      chain->ends_pipeline_ = false;
      break;
    }
    chain->stages_.push_back(stage.begin(file, runtime, nullptr));
  }
  return chain;
}

task<Status> StageChain::prepare() {
  for (std::size_t i = 0; i < stages_.size(); ++i) {
    FlowPlace::Scope here(place_, first_place_ + i);
    Status status = co_await stages_[i]->prepare();
    if (!status) co_return status;
  }
  co_return Status{};
}

task<Status> StageChain::on_chunk(Chunk chunk) {
  for (std::size_t i = 0; i < stages_.size(); ++i) {
    Chunk mine = chunk;
    if (i + 1 < stages_.size()) mine.lease = nullptr;
    FlowPlace::Scope here(place_, first_place_ + i);
    if (place_ != nullptr && place_->live() != nullptr)
      place_->live()->count_bytes(first_place_ + i, chunk.bytes.size());
    Status status = co_await stages_[i]->on_chunk(mine);
    if (!status) co_return status;
  }
  if (ends_pipeline_ && place_ != nullptr && place_->live() != nullptr)
    LiveProgress::add(place_->live()->bytes_done, chunk.source_bytes);
  co_return Status{};
}

task<Status> StageChain::finish(FileRecord& record) {
  for (; finished_ < stages_.size(); ++finished_) {
    FlowPlace::Scope here(place_, first_place_ + finished_);
    Status status = co_await stages_[finished_]->finish(record);
    if (!status) co_return status;
  }
  co_return Status{};
}

task<void> StageChain::abort() {
  for (std::size_t i = finished_; i < stages_.size(); ++i) {
    FlowPlace::Scope here(place_, first_place_ + i);
    co_await stages_[i]->abort();
  }
}

}  // namespace piperun::pipeline
