// The write stage: an output tree under output.dir mirroring the input tree, `<rel><suffix>`
// (".zst" after compress), written through the ring with several writes in flight per file.
// Atomic: each file is written under a temporary name and renamed once complete; its mode
// (under the umask) and mtime are the input's. With fsync, files and then their directories
// are flushed before the run reports success.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "pipeline/stage.hpp"
#include "stages/options.hpp"
#include "stages/output_tree.hpp"

namespace piperun::stages {

class WriteStage final : public pipeline::Stage {
 public:
  WriteStage(WriteOptions options, std::string suffix);

  std::string_view name() const noexcept override { return "write"; }
  std::unique_ptr<pipeline::FileStage> begin(
      const pipeline::FileInfo& file, pipeline::Runtime& runtime,
      std::unique_ptr<pipeline::FileStage> downstream) override;
  std::expected<void, std::string> open_run() override { return tree_.open(); }
  pipeline::task<pipeline::Status> finish_run(pipeline::Runtime& runtime) override;
  pipeline::task<bool> outputs_hold(const pipeline::FileRecord& previous,
                                    pipeline::Runtime& runtime) override;

 private:
  WriteOptions options_;
  std::string suffix_;
  OutputTree tree_;
};

}  // namespace piperun::stages
