#include "bench/command/report.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

namespace piperun::bench {
namespace {

std::string mib(std::uint64_t bytes) {
  return fmt::format("{:.0f} MiB", static_cast<double>(bytes) / (1 << 20));
}

// "61us", "1.4ms": three significant figures at most, so that the column stays narrow.
std::string duration_text(double us) {
  if (us < 1000) return fmt::format("{:.0f}us", us);
  if (us < 100'000) return fmt::format("{:.1f}ms", us / 1000);
  return fmt::format("{:.0f}ms", us / 1000);
}

std::string latency_cell(const std::optional<LatencyPercentiles>& latency) {
  if (!latency) return "-";
  return duration_text(latency->p50_us) + "/" + duration_text(latency->p99_us) + "/" +
         duration_text(latency->p999_us);
}

}  // namespace

std::string format_table(const BenchReport& report) {
  std::string out = fmt::format(
      "{}: {} ({}{}), compressibility {:.1f}; {} x QD{}{}; {} CPUs, memcpy {:.0f} MB/s a core\n",
      report.tool_version, report.file, mib(report.file_size), report.file_reused ? ", reused" : "",
      report.compressibility, mib(report.block_size), report.queue_depth,
      report.direct ? ", O_DIRECT" : (report.warm ? ", warm" : ", cold"), report.cpus,
      report.memcpy_mb_per_s);
  out += fmt::format("{:<26} {:>9} {:>9} {:>22} {:>6} {:>6} {:>8} {:>6}  {}\n", "row", "MB/s",
                     "IOPS", "lat p50/p99/p99.9", "CPU", "disk", "RSS", "ratio", "limited by");
  for (const BenchRow& row : report.rows) {
    const double from_disk =
        row.bytes > 0 ? 100.0 * static_cast<double>(row.storage_read_bytes) / row.bytes : 0;
    out += fmt::format(
        "{:<26} {:>9.0f} {:>9} {:>22} {:>5.0f}% {:>5.0f}% {:>8} {:>6}  {} ({:.0f}%)\n", row.name,
        row.mb_per_s(), row.operations > 0 ? fmt::format("{:.0f}", row.iops()) : "-",
        latency_cell(row.latency), row.cpu_percent(), std::min(from_disk, 100.0),
        mib(row.peak_rss_bytes),
        row.compression_ratio ? fmt::format("{:.2f}", *row.compression_ratio) : "-", row.limited_by,
        100.0 * row.limit_use);
  }
  out +=
      "MB = 10^6 bytes; latency per request; CPU in % of one core (all threads);\ndisk = share of "
      "the bytes the disk delivered (the rest came from the page "
      "cache)\n";
  return out;
}

std::string format_json(const BenchReport& report) {
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (const BenchRow& row : report.rows) {
    nlohmann::ordered_json entry{
        {"name", row.name},
        {"bytes", row.bytes},
        {"seconds", row.seconds},
        {"mb_per_s", row.mb_per_s()},
        {"operations", row.operations},
        {"iops", row.iops()},
        {"cpu_seconds", row.cpu_seconds},
        {"cpu_percent", row.cpu_percent()},
        {"storage_read_bytes", row.storage_read_bytes},
        {"peak_rss_bytes", row.peak_rss_bytes},
        {"limited_by", row.limited_by},
        {"limit_use", row.limit_use},
    };
    if (row.latency) {
      entry["latency_us"] = {{"p50", row.latency->p50_us},
                             {"p90", row.latency->p90_us},
                             {"p99", row.latency->p99_us},
                             {"p999", row.latency->p999_us},
                             {"max", row.latency->max_us}};
    }
    if (row.flush_seconds > 0) entry["flush_seconds"] = row.flush_seconds;
    if (row.compression_ratio) entry["compression_ratio"] = *row.compression_ratio;
    rows.push_back(std::move(entry));
  }
  nlohmann::ordered_json document{
      {"tool", report.tool_version},
      {"machine", {{"cpus", report.cpus}, {"memcpy_mb_per_s", report.memcpy_mb_per_s}}},
      {"file",
       {{"path", report.file},
        {"size", report.file_size},
        {"reused", report.file_reused},
        {"compressibility", report.compressibility}}},
      {"options",
       {{"block_size", report.block_size},
        {"queue_depth", report.queue_depth},
        {"direct", report.direct},
        {"warm", report.warm},
        {"level", report.level},
        {"variant", report.variant}}},
      {"rows", std::move(rows)},
  };
  return document.dump(2) + "\n";
}

}  // namespace piperun::bench
