// Which resource limited a benchmark row: the one it used the largest share of.
//  - disk: rows that wrote, or read most of their bytes from the disk (not the page cache);
//    use = the row's disk rate / the raw sequential rate measured in the same run.
//  - cpu: rows with CPU stages (hash, compress); use = CPU time / (wall time x CPUs).
//  - memory: bytes that came from the page cache are one memory copy each (the kernel's copy
//    into our buffers); use = that rate / (single-core memcpy rate x CPUs).
// A raw row that read from the disk is the disk's rate by definition (use 1).
#pragma once

#include <optional>

#include "bench/command/report.hpp"

namespace piperun::bench {

struct MachineLimits {
  unsigned cpus = 1;
  double memcpy_bytes_per_second = 1;                 // one core
  std::optional<double> disk_read_bytes_per_second;   // the raw sequential read, from disk
  std::optional<double> disk_write_bytes_per_second;  // the raw sequential write
};

// Sets row.limited_by and row.limit_use. `cpu_stages`: the row hashes or compresses.
void classify_bottleneck(BenchRow& row, bool cpu_stages, bool writes, const MachineLimits& limits);

}  // namespace piperun::bench
