#include "bench/command/stage_row.hpp"

#include <algorithm>
#include <system_error>

#include "pipeline/engine.hpp"
#include "stages/hash.hpp"
#include "stages/registry.hpp"

namespace piperun::bench {

std::expected<pipeline::RunStats, std::string> run_stage_row(const StageRowSpec& spec) {
  pipeline::EngineOptions options;
  options.input.paths = {spec.input};
  options.pipeline.stages = spec.stages;
  options.pipeline.queue_depth = spec.queue_depth;
  options.pipeline.direct_io = spec.direct;
  options.pipeline.ring_setup = spec.ring_setup;
  options.pipeline.threads = spec.cpu_threads;
  options.cpu_threads = spec.cpu_threads;
  options.output.dir = spec.scratch / "out";
  options.output.manifest = spec.scratch / "manifest.json";
  options.output.checksums = spec.scratch / "checksums.xxh128";
  options.manifest_header.tool_version = "pipe-run " PIPE_RUN_VERSION " bench";
  options.manifest_header.roots = {spec.input.string()};
  options.manifest_header.stages = spec.stages;

  stages::StageOptions stage_options;
  stage_options.compress.level = spec.level;
  stage_options.write.dir = options.output.dir;
  stage_options.cpu_threads = spec.cpu_threads;
  if (std::find(spec.stages.begin(), spec.stages.end(), "hash") != spec.stages.end()) {
    const std::string name(stages::algorithm_name(stage_options.hash.algorithms.front()));
    options.checksum_files.push_back({name, options.output.checksums});
  }
  auto stages = stages::make_stages(spec.stages, stage_options);
  if (!stages) return std::unexpected(stages.error());

  std::error_code error;
  std::filesystem::remove_all(spec.scratch, error);
  std::filesystem::create_directories(spec.scratch, error);
  if (error) return std::unexpected(spec.scratch.string() + ": " + error.message());

  std::string failure;
  pipeline::EngineHooks hooks;
  hooks.on_file_done = [&failure](const pipeline::FileRecord& record) {
    if (record.status == pipeline::FileStatus::failed)
      failure = record.rel_path + ": " + record.error;
  };
  pipeline::Engine engine(std::move(options), std::move(*stages), std::move(hooks));
  auto stats = engine.run();
  std::filesystem::remove_all(spec.scratch, error);
  if (!stats) return std::unexpected(stats.error().message);
  if (!failure.empty()) return std::unexpected(failure);
  return *stats;
}

}  // namespace piperun::bench
