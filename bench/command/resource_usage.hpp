// What a benchmark row cost the machine: CPU time of every thread of the process (the io-wq
// workers that copy cached pages are threads of ours too), bytes the block layer really read
// (/proc/self/io), and the peak resident set, which can be reset between rows.
#pragma once

#include <chrono>
#include <cstdint>

namespace piperun::bench {

struct UsageSnapshot {
  std::chrono::steady_clock::time_point when;
  double cpu_seconds = 0;                // user + system, all threads
  std::uint64_t storage_read_bytes = 0;  // read_bytes of /proc/self/io: what the disk delivered
};

UsageSnapshot take_usage_snapshot();

// Starts a new peak-RSS measurement (/proc/self/clear_refs). False where the kernel refuses.
bool reset_peak_rss();
// VmHWM of /proc/self/status, in bytes; 0 when unknown.
std::uint64_t peak_rss_bytes();

// Single-core memory copy bandwidth, bytes per second, measured on 64 MiB (beyond the caches):
// the ceiling of a page-cache read, which is such a copy.
double memcpy_bytes_per_second();

}  // namespace piperun::bench
