#include "bench/command/resource_usage.hpp"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <sys/resource.h>

namespace piperun::bench {
namespace {

double seconds_of(const timeval& time) {
  return static_cast<double>(time.tv_sec) + static_cast<double>(time.tv_usec) / 1e6;
}

// The value after "<key>" on its line of a /proc file, or 0.
std::uint64_t proc_value(const char* file, const std::string& key) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size(), key) == 0) return std::stoull(line.substr(key.size()));
  }
  return 0;
}

}  // namespace

UsageSnapshot take_usage_snapshot() {
  UsageSnapshot snapshot;
  snapshot.when = std::chrono::steady_clock::now();
  rusage usage{};
  if (::getrusage(RUSAGE_SELF, &usage) == 0)
    snapshot.cpu_seconds = seconds_of(usage.ru_utime) + seconds_of(usage.ru_stime);
  snapshot.storage_read_bytes = proc_value("/proc/self/io", "read_bytes:");
  return snapshot;
}

bool reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

std::uint64_t peak_rss_bytes() {
  return proc_value("/proc/self/status", "VmHWM:") * 1024;
}

double memcpy_bytes_per_second() {
  constexpr std::size_t kBytes = 64u << 20;
  auto from = std::make_unique<std::byte[]>(kBytes);
  auto to = std::make_unique<std::byte[]>(kBytes);
  std::memset(from.get(), 1, kBytes);
  std::memset(to.get(), 2, kBytes);  // first touch outside the measurement
  double best = 0;
  for (int round = 0; round < 3; ++round) {
    const auto start = std::chrono::steady_clock::now();
    std::memcpy(to.get(), from.get(), kBytes);
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    // Keeps the copy from being optimised away.
    asm volatile("" : : "r"(to.get()) : "memory");
    best = std::max(best, static_cast<double>(kBytes) / took.count());
  }
  return best;
}

}  // namespace piperun::bench
