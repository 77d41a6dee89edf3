#include "bench/command/bottleneck.hpp"

#include <algorithm>
#include <vector>

namespace piperun::bench {

void classify_bottleneck(BenchRow& row, bool cpu_stages, bool writes, const MachineLimits& limits) {
  if (row.seconds <= 0 || row.bytes == 0) {
    row.limited_by = "none";
    row.limit_use = 0;
    return;
  }
  const double bytes = static_cast<double>(row.bytes);
  const double from_disk = std::min(static_cast<double>(row.storage_read_bytes), bytes);
  const bool reads_disk = from_disk >= 0.5 * bytes;

  struct Candidate {
    const char* resource;
    double use;
  };
  std::vector<Candidate> candidates;
  if (reads_disk) {
    candidates.push_back({"disk", limits.disk_read_bytes_per_second
                                      ? from_disk / row.seconds / *limits.disk_read_bytes_per_second
                                      : 1.0});
  }
  if (writes) {
    const double written = row.compression_ratio ? bytes / *row.compression_ratio : bytes;
    candidates.push_back({"disk", limits.disk_write_bytes_per_second
                                      ? written / row.seconds / *limits.disk_write_bytes_per_second
                                      : 1.0});
  }
  if (cpu_stages) {
    candidates.push_back({"cpu", row.cpu_seconds / row.seconds / limits.cpus});
  }
  if (!reads_disk) {
    const double cached = bytes - from_disk;
    candidates.push_back(
        {"memory", cached / row.seconds / (limits.memcpy_bytes_per_second * limits.cpus)});
  }
  const auto top =
      std::max_element(candidates.begin(), candidates.end(),
                       [](const Candidate& a, const Candidate& b) { return a.use < b.use; });
  row.limited_by = top->resource;
  row.limit_use = top->use;
}

}  // namespace piperun::bench
