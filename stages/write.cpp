#include "stages/write.hpp"

#include "stages/tree_file_writer.hpp"

namespace piperun::stages {

WriteStage::WriteStage(WriteOptions options, std::string suffix)
    : options_(std::move(options)), suffix_(std::move(suffix)), tree_(options_.dir) {}

std::unique_ptr<pipeline::FileStage> WriteStage::begin(
    const pipeline::FileInfo& file, pipeline::Runtime& runtime,
    std::unique_ptr<pipeline::FileStage> /*downstream*/) {
  TreeFileWriterOptions writer;
  writer.fsync = options_.fsync;
  writer.target = file.rel_path + suffix_;
  return make_tree_file_writer(tree_, std::move(writer), file, runtime);
}

pipeline::task<pipeline::Status> WriteStage::finish_run(pipeline::Runtime& runtime) {
  if (!options_.fsync) co_return pipeline::Status{};
  co_return co_await tree_.sync_directories(runtime.ring);
}

pipeline::task<bool> WriteStage::outputs_hold(const pipeline::FileRecord& previous,
                                              pipeline::Runtime& runtime) {
  if (previous.output_path != previous.rel_path + suffix_) co_return false;
  co_return co_await tree_.holds(runtime.ring, previous.output_path,
                                 previous.compressed_size.value_or(previous.size),
                                 previous.mtime_ns);
}

}  // namespace piperun::stages
