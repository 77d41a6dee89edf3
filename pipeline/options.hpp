// Options of the engine (input walking, pipeline sizing, outputs, reports).
// Filled by cli/ from the TOML file; every path here is absolute once cli/ is done with it.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "io/ring_setup.hpp"
#include "pipeline/shard.hpp"

namespace piperun::pipeline {

inline constexpr std::uint64_t kMiB = 1024 * 1024;
inline constexpr unsigned kMaxQueueDepth = 4096;  // the most `queue_depth` may be

enum class IfNoFiles { error, warn, ignore };

struct InputOptions {
  std::vector<std::filesystem::path> paths;  // files or directories
  std::vector<std::string> include{"**"};    // globs against the path relative to the root
  std::vector<std::string> exclude;
  bool hidden = true;  // include dotfiles and dot-directories
  bool follow_symlinks = false;
  IfNoFiles if_no_files = IfNoFiles::error;
  // --shard: only the entries of this shard are handed out (pipeline/shard.hpp).
  Shard shard;
};

struct PipelineOptions {
  std::vector<std::string> stages{"hash", "compress", "write"};
  std::uint64_t memory_limit = 256 * kMiB;  // all chunk and upload buffers together
  // Read size, and frame size for compress. 2 MiB rather than DESIGN.md's 4 MiB: a chunk then
  // fits a core's L2 cache (2 MiB here) and one huge page; measured same-run, warm cache:
  // hash-only 4 x 256 MiB 145 ms against 172 ms, hash+compress+write of 1 GB 5-7% faster, for
  // 0.5% more compressed bytes (bench/RESULTS.md).
  std::uint64_t chunk_size = 2 * kMiB;
  unsigned queue_depth = 64;  // reads and writes in flight
  unsigned threads = 0;       // CPU workers; 0 = one per CPU we may use
  bool direct_io = false;     // O_DIRECT reads
  // sqpoll: a kernel thread submits (no io_uring_enter per batch) but spins on a core, which
  // the CPU stages then lack: off by default (measured: bench/RESULTS.md).
  io::RingSetup ring_setup = io::RingSetup::automatic;
};

struct OutputOptions {
  std::filesystem::path dir = "out";
  std::filesystem::path manifest = "out/manifest.json";
  // xxhsum-format checksum file; its stem names the file of every algorithm:
  // <stem>.xxh128, <stem>.xxh64, <stem>.sha256.
  std::filesystem::path checksums = "out/checksums.xxh128";
  bool fsync = false;
  // A re-run takes over what the manifest's earlier run did, when unchanged (resume_index.hpp).
  bool resume = true;
};

struct ReportOptions {
  std::chrono::milliseconds progress_interval{5000};
  std::filesystem::path events;      // empty = none
  std::filesystem::path prometheus;  // empty = none
};

}  // namespace piperun::pipeline
