// Counters of one run, kept on the I/O thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/file_record.hpp"

namespace piperun::pipeline {

struct RunStats {
  std::uint64_t files_ok = 0;
  std::uint64_t files_failed = 0;
  std::uint64_t files_skipped = 0;  // symlinks not followed, special files
  std::uint64_t files_resumed = 0;  // of files_ok: unchanged since the earlier run, not read
  std::uint64_t bytes_in = 0;       // bytes read from input files
  std::uint64_t bytes_out = 0;      // compressed bytes, or bytes written without compress
  std::uint64_t compressed_in = 0;  // input bytes of the files compressed
  std::uint64_t compressed_out = 0;
  std::uint64_t objects_uploaded = 0;   // by the upload stage
  std::uint64_t objects_unchanged = 0;  // already in the store with the same digest: not sent
  std::uint64_t bytes_uploaded = 0;
  std::chrono::nanoseconds duration{};
  // Where the files waited (pipeline/live_progress.hpp): input I/O, the walk, each stage in
  // order; the bytes each was handed (a stage after compress sees compressed bytes).
  struct Place {
    std::string name;
    std::uint64_t bytes = 0;
    std::chrono::nanoseconds flow_time{};  // summed over the files waiting there at once
  };
  std::vector<Place> places;
  // The first failed files, in the order they finished: path and error (as many as the
  // manifest's summary lists).
  static constexpr std::size_t kListedFailures = 100;
  std::vector<std::pair<std::string, std::string>> first_failures;
  // SIGINT or SIGTERM stopped the run: files not yet done are not in the manifest.
  bool interrupted = false;

  // Counts a finished file's record: its status, what it produced and sent, the first
  // failures. bytes_in is not counted here: it is the bytes the reads delivered.
  void count(const FileRecord& record);

  // Input bytes per compressed byte; 0 when nothing was compressed.
  double compression_ratio() const {
    return compressed_out > 0 ? static_cast<double>(compressed_in) / compressed_out : 0.0;
  }
  std::uint64_t files_total() const { return files_ok + files_failed + files_skipped; }
  double throughput_mb_s() const {
    const double seconds = std::chrono::duration<double>(duration).count();
    return seconds > 0 ? static_cast<double>(bytes_in) / 1e6 / seconds : 0.0;
  }
};

}  // namespace piperun::pipeline
