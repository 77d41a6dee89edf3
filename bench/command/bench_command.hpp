// `pipe-run bench`: lays out a test file, then measures with the engine itself what the disk
// and each stage combination sustain, and which resource limits each (see bottleneck.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bench/command/progress_line.hpp"
#include "bench/command/report.hpp"
#include "io/ring_setup.hpp"

namespace piperun::bench {

struct BenchOptions {
  std::filesystem::path dir = ".";      // where the test file lives (a disk, not tmpfs)
  std::uint64_t size = 1ull << 30;      // test file; rounded down to a multiple of block_size
  std::uint64_t block_size = 1u << 20;  // raw sequential rows
  unsigned queue_depth = 64;            // requests in flight, raw rows and stage rows
  bool direct = false;                  // O_DIRECT: every row reads the disk, never the cache
  bool warm = false;                    // buffered rows read a cached file instead of a cold one
  // The stage chain; the stage rows are its prefixes: read, read+hash, read+hash+compress, ...
  std::vector<std::string> stages{"hash", "compress", "write"};
  double compressibility = 3.0;  // of the generated data, as a zstd -3 ratio; 1 = incompressible
  std::chrono::milliseconds runtime{5000};  // random reads
  int level = 3;
  unsigned cpu_threads = 1;  // resolved by the caller
  // Engine variants, to measure what each is worth (raw rows; ring_setup also stage rows).
  io::RingSetup ring_setup = io::RingSetup::automatic;
  bool fixed_buffers = true;
  bool fixed_file = false;
  bool submit_each = false;
};

// auto, defer, coop, plain, sqpoll: the names --ring-setup takes, and back.
std::string_view ring_setup_name(io::RingSetup setup);
std::optional<io::RingSetup> ring_setup_named(std::string_view name);

// Checks the options; the message names the option at fault.
std::expected<void, std::string> validate(const BenchOptions& options);

// `options` as validate() accepts them.
std::expected<BenchReport, std::string> run_bench(const BenchOptions& options,
                                                  ProgressLine& progress);

}  // namespace piperun::bench
