// What `pipe-run bench` measured: one row per measurement, the machine, the test file; and the
// two ways of showing it (a table for people, one JSON document for programs).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace piperun::bench {

struct LatencyPercentiles {
  double p50_us = 0, p90_us = 0, p99_us = 0, p999_us = 0, max_us = 0;
};

struct BenchRow {
  std::string name;  // seq-read, seq-write, rand-read-4k, read, read+hash, ...
  std::uint64_t bytes = 0;
  std::uint64_t operations = 0;  // I/O requests (raw rows); 0 for stage rows
  double seconds = 0;
  // Writes: the fdatasync after the last completion. Not in `seconds`, as fio leaves its
  // end_fsync out of the rate it reports.
  double flush_seconds = 0;
  std::optional<LatencyPercentiles> latency;  // per request (raw rows)
  double cpu_seconds = 0;                     // all threads, user + system
  std::uint64_t storage_read_bytes = 0;       // what the disk delivered (the rest was cached)
  std::uint64_t peak_rss_bytes = 0;
  std::optional<double> compression_ratio;  // rows with compress
  std::string limited_by;                   // disk, cpu or memory
  double limit_use = 0;                     // how much of that resource the row used (0..1)

  double mb_per_s() const { return seconds > 0 ? static_cast<double>(bytes) / 1e6 / seconds : 0; }
  double iops() const { return seconds > 0 ? static_cast<double>(operations) / seconds : 0; }
  // CPU use in percent of one core, as top shows it.
  double cpu_percent() const { return seconds > 0 ? 100.0 * cpu_seconds / seconds : 0; }
};

struct BenchReport {
  std::string tool_version;
  unsigned cpus = 1;
  double memcpy_mb_per_s = 0;  // one core
  std::string file;
  std::uint64_t file_size = 0;
  bool file_reused = false;
  double compressibility = 0;
  std::uint64_t block_size = 0;
  unsigned queue_depth = 0;
  bool direct = false;
  bool warm = false;
  int level = 0;
  std::string variant;  // engine variant options, "" for the defaults
  std::vector<BenchRow> rows;
};

std::string format_table(const BenchReport& report);
std::string format_json(const BenchReport& report);

}  // namespace piperun::bench
