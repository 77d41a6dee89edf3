// Counters of one run, kept on the I/O thread.
#pragma once

#include <chrono>
#include <cstdint>

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
  // SIGINT or SIGTERM stopped the run: files not yet done are not in the manifest.
  bool interrupted = false;

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
