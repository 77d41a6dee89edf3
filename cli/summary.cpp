#include "cli/summary.hpp"

#include <algorithm>
#include <sys/resource.h>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "cli/progress_line.hpp"

namespace piperun::cli {
namespace {

double seconds_of(const pipeline::RunStats& stats) {
  return std::chrono::duration<double>(stats.duration).count();
}

double mb_per_s(std::uint64_t bytes, double seconds) {
  return seconds > 0 ? static_cast<double>(bytes) / 1e6 / seconds : 0.0;
}

// The share of all flow-time spent in each place, for those that had any.
double waited_share(const pipeline::RunStats& stats, const pipeline::RunStats::Place& place) {
  std::chrono::nanoseconds total{};
  for (const auto& each : stats.places)
    total += each.flow_time;
  return total.count() > 0 ? static_cast<double>(place.flow_time.count()) / total.count() : 0.0;
}

}  // namespace

std::string format_summary(const pipeline::RunStats& stats) {
  const double seconds = seconds_of(stats);
  std::string out;
  if (stats.bytes_out > 0 || stats.compressed_out > 0) {
    out = fmt::format(", {:.1f} MB out", static_cast<double>(stats.bytes_out) / 1e6);
    if (stats.compressed_out > 0) out += fmt::format(" (ratio {:.2f})", stats.compression_ratio());
  }
  std::string upload;
  if (stats.objects_uploaded + stats.objects_unchanged > 0) {
    upload = fmt::format("; upload: {} sent ({:.1f} MB), {} unchanged in the store",
                         stats.objects_uploaded, static_cast<double>(stats.bytes_uploaded) / 1e6,
                         stats.objects_unchanged);
  }
  const std::string resumed =
      stats.files_resumed > 0 ? fmt::format(", {} of them resumed", stats.files_resumed) : "";
  return fmt::format(
      "pipe-run: {} files ({} ok{}, {} failed, {} skipped), {:.1f} MB read{} in {:.2f} s "
      "({:.1f} MB/s, {:.0f} files/s){}",
      stats.files_total(), stats.files_ok, resumed, stats.files_failed, stats.files_skipped,
      static_cast<double>(stats.bytes_in) / 1e6, out, seconds, stats.throughput_mb_s(),
      seconds > 0 ? static_cast<double>(stats.files_total()) / seconds : 0.0, upload);
}

std::string format_summary_details(const pipeline::RunStats& stats, std::uint64_t peak_rss_bytes) {
  const double seconds = seconds_of(stats);
  std::string lines;
  std::string stages;
  for (const auto& place : stats.places) {
    if (place.name != "walk" && place.bytes > 0) {
      stages += fmt::format("{}{} {} ({:.1f} MB/s)", stages.empty() ? "" : ", ", place.name,
                            format_bytes(place.bytes), mb_per_s(place.bytes, seconds));
    }
  }
  const std::string waited = format_waited(stats);
  if (!stages.empty()) lines += "pipe-run: per stage: " + stages + "\n";
  lines += "pipe-run: ";
  if (!waited.empty()) lines += "files waited on: " + waited + "; ";
  lines += fmt::format("peak RSS {:.0f} MiB\n", static_cast<double>(peak_rss_bytes) / 1048576.0);
  if (stats.files_failed > 0) {
    constexpr std::size_t kNamed = 5;
    std::string named;
    const std::size_t shown = std::min(kNamed, stats.first_failures.size());
    for (std::size_t i = 0; i < shown; ++i) {
      const auto& [path, error] = stats.first_failures[i];
      named += fmt::format("{}{} ({})", named.empty() ? "" : ", ", path, error);
    }
    const std::uint64_t more = stats.files_failed - shown;
    if (more > 0) named += fmt::format(" and {} more", more);
    lines += fmt::format("pipe-run: failed: {}; the manifest lists every failure\n", named);
  }
  return lines;
}

std::string format_waited(const pipeline::RunStats& stats) {
  std::string waited;
  for (const auto& place : stats.places) {
    if (const double share = waited_share(stats, place); share >= 0.005)
      waited += fmt::format("{}{} {:.0f}%", waited.empty() ? "" : ", ", place.name, share * 100);
  }
  return waited;
}

std::string format_json_summary(const std::expected<pipeline::RunStats, pipeline::RunError>& run,
                                int exit_code, std::uint64_t peak_rss_bytes) {
  if (!run) {
    static constexpr const char* kKinds[] = {"no_files", "fatal", "interrupted"};
    return format_json_error(kKinds[static_cast<int>(run.error().kind)], run.error().message,
                             exit_code, peak_rss_bytes);
  }
  nlohmann::ordered_json document;
  document["exit_code"] = exit_code;
  const pipeline::RunStats& stats = *run;
  const double seconds = seconds_of(stats);
  document["interrupted"] = stats.interrupted;
  document["files"] = {{"total", stats.files_total()},
                       {"ok", stats.files_ok},
                       {"failed", stats.files_failed},
                       {"skipped", stats.files_skipped},
                       {"resumed", stats.files_resumed}};
  document["bytes_in"] = stats.bytes_in;
  document["bytes_out"] = stats.bytes_out;
  document["compression_ratio"] = stats.compression_ratio();
  document["upload"] = {{"objects_sent", stats.objects_uploaded},
                        {"objects_unchanged", stats.objects_unchanged},
                        {"bytes_sent", stats.bytes_uploaded}};
  document["duration_s"] = seconds;
  document["throughput_mb_s"] = stats.throughput_mb_s();
  document["files_per_s"] = seconds > 0 ? static_cast<double>(stats.files_total()) / seconds : 0.0;
  auto& places = document["stages"] = nlohmann::ordered_json::array();
  for (const auto& place : stats.places) {
    places.push_back({{"name", place.name},
                      {"bytes", place.bytes},
                      {"throughput_mb_s", mb_per_s(place.bytes, seconds)},
                      {"waited_share", waited_share(stats, place)}});
  }
  document["peak_rss_bytes"] = peak_rss_bytes;
  auto& failures = document["failures"] = nlohmann::ordered_json::array();
  for (const auto& [path, error] : stats.first_failures)
    failures.push_back({{"path", path}, {"error", error}});
  document["failures_listed"] = stats.first_failures.size();
  // Names that are not UTF-8 get U+FFFD here; the manifest keeps their exact bytes.
  return document.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string format_json_error(std::string_view kind, std::string_view message, int exit_code,
                              std::uint64_t peak_rss_bytes) {
  nlohmann::ordered_json document;
  document["exit_code"] = exit_code;
  document["error"] = {{"kind", kind}, {"message", message}};
  document["peak_rss_bytes"] = peak_rss_bytes;
  return document.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::uint64_t peak_rss_bytes() {
  rusage usage{};
  if (::getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return static_cast<std::uint64_t>(usage.ru_maxrss) * 1024;
}

}  // namespace piperun::cli
