// The raw rows of `pipe-run bench`, measured the way fio measures them but through the
// engine's own ring and buffer pool: a whole file read or written sequentially, or random
// reads for a while, `queue_depth` operations always in flight, each one's latency recorded.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <system_error>

#include "bench/command/latency_histogram.hpp"
#include "io/ring_setup.hpp"

namespace piperun::bench {

enum class Access { sequential_read, sequential_write, random_read };

struct IoJobSpec {
  Access access = Access::sequential_read;
  int fd = -1;
  std::uint64_t size = 0;  // bytes to transfer (sequential), or the range to read (random)
  std::uint64_t block_size = 1u << 20;
  unsigned queue_depth = 64;
  std::chrono::nanoseconds runtime{};  // random reads: how long to go on
  bool direct = false;                 // the file is open with O_DIRECT
  // Engine variants, to measure what each is worth.
  io::RingSetup ring_setup = io::RingSetup::automatic;
  bool fixed_buffers = true;  // READ_FIXED / WRITE_FIXED from registered buffers
  bool fixed_file = false;    // the fd registered with the ring (IOSQE_FIXED_FILE)
  bool submit_each = false;   // one io_uring_enter per request instead of one per batch
  // Called on the I/O thread about every 100 ms with the fraction done (0..1).
  std::function<void(double)> progress;
};

struct IoJobResult {
  std::uint64_t bytes = 0;
  std::uint64_t operations = 0;
  std::chrono::nanoseconds elapsed{};  // first request to last completion
  LatencyHistogram latency;
};

std::expected<IoJobResult, std::error_code> run_io_job(const IoJobSpec& spec);

}  // namespace piperun::bench
