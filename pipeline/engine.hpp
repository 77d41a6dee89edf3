// The engine: one run of the pipeline. It owns the ring, the buffer pool, the CPU pool and the
// walker; runs `queue_depth` file workers as coroutines on the I/O thread (the calling thread);
// feeds them from the walker; records every finished file in the manifest and checksum files.
#pragma once

#include <expected>
#include <filesystem>
#include <functional>
#include <memory>
#include <signal.h>
#include <string>
#include <vector>

#include "pipeline/checksum_writer.hpp"
#include "pipeline/file_record.hpp"
#include "pipeline/live_progress.hpp"
#include "pipeline/manifest_writer.hpp"
#include "pipeline/options.hpp"
#include "pipeline/run_stats.hpp"
#include "pipeline/stage.hpp"

namespace piperun::pipeline {

struct EngineOptions {
  InputOptions input;
  PipelineOptions pipeline;
  OutputOptions output;
  std::vector<ChecksumFile> checksum_files;  // one per hash algorithm; empty: none written
  ManifestHeader manifest_header;
  unsigned cpu_threads = 1;  // resolved: never 0 here
  // Read SIGINT and SIGTERM through the ring (a signalfd). The caller must have blocked them in
  // every thread before run(). First signal: no new files, files in the middle are abandoned,
  // the manifest and checksum files of what is done are written. Second: nothing is written.
  bool handle_signals = false;
  // Take over the records of files the earlier run at output.manifest did, when they and their
  // outputs are unchanged (pipeline/resume_index.hpp).
  bool resume = false;
};

// SIGINT and SIGTERM: what handle_signals reads, and so what the caller must block first.
sigset_t stop_signals();

struct EngineHooks {
  // After each file, on the I/O thread: report a failure or a skip. Must not block.
  std::function<void(const FileRecord&)> on_file_done;
  // Progress events of the stages (Runtime::event), on the I/O thread. Must not block.
  std::function<void(std::string_view)> on_event;
};

struct RunError {
  enum class Kind { no_files, fatal, interrupted } kind;
  std::string message;
};

class Engine {
 public:
  Engine(EngineOptions options, std::vector<std::unique_ptr<Stage>> stages, EngineHooks hooks);
  ~Engine();

  // Runs the whole job on the calling thread. On success the manifest and checksum files are
  // in place; on error nothing of them is left behind.
  std::expected<RunStats, RunError> run();

  // What the run has done so far: any thread may sample it while run() goes on.
  const LiveProgress& progress() const noexcept { return live_; }
  // The name of a LiveProgress place: "input", "walk", then the stages' names.
  std::string_view place_name(std::size_t place) const noexcept;
  std::size_t place_count() const noexcept { return LiveProgress::kFirstStage + stages_.size(); }

 private:
  struct Run;
  EngineOptions options_;
  std::vector<std::unique_ptr<Stage>> stages_;
  EngineHooks hooks_;
  LiveProgress live_;
};

}  // namespace piperun::pipeline
