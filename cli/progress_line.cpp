#include "cli/progress_line.hpp"

#include <fmt/core.h>

namespace piperun::cli {
namespace {

std::string grouped(std::uint64_t value) {
  std::string digits = std::to_string(value);
  for (std::ptrdiff_t at = static_cast<std::ptrdiff_t>(digits.size()) - 3; at > 0; at -= 3)
    digits.insert(static_cast<std::size_t>(at), ",");
  return digits;
}

std::string clock_time(std::chrono::seconds left) {
  const auto total = left.count();
  if (total >= 3600)
    return fmt::format("{}:{:02}:{:02}", total / 3600, total / 60 % 60, total % 60);
  return fmt::format("{}:{:02}", total / 60, total % 60);
}

std::string rate(double bytes_per_second) {
  return format_bytes(static_cast<std::uint64_t>(bytes_per_second)) + "/s";
}

unsigned percent(const ProgressSample& sample) {
  if (sample.bytes_found > 0)
    return static_cast<unsigned>(
        std::min<std::uint64_t>(100, sample.bytes_done * 100 / sample.bytes_found));
  if (sample.files_found > 0)
    return static_cast<unsigned>(sample.files_done * 100 / sample.files_found);
  return 100;
}

}  // namespace

std::string format_bytes(std::uint64_t bytes) {
  const double value = static_cast<double>(bytes);
  if (bytes < 1000) return fmt::format("{} B", bytes);
  if (bytes < 1000'000) return fmt::format("{:.1f} kB", value / 1e3);
  if (bytes < 1000'000'000) return fmt::format("{:.1f} MB", value / 1e6);
  if (bytes < 1000'000'000'000) return fmt::format("{:.2f} GB", value / 1e9);
  return fmt::format("{:.2f} TB", value / 1e12);
}

std::optional<std::chrono::seconds> eta(const ProgressSample& sample) {
  if (!sample.walk_complete || sample.bytes_per_second <= 0) return std::nullopt;
  const std::uint64_t left =
      sample.bytes_found > sample.bytes_done ? sample.bytes_found - sample.bytes_done : 0;
  return std::chrono::seconds(
      static_cast<std::int64_t>(static_cast<double>(left) / sample.bytes_per_second + 0.5));
}

std::string format_live_progress(const ProgressSample& sample, std::size_t width) {
  const std::string_view more = sample.walk_complete ? "" : "+";
  std::string line;
  if (sample.walk_complete) line = fmt::format("{:3}%  ", percent(sample));
  line += fmt::format("{}/{}{} files  {}/{}{}  {}", grouped(sample.files_done),
                      grouped(sample.files_found), more, format_bytes(sample.bytes_done),
                      format_bytes(sample.bytes_found), more, rate(sample.bytes_per_second));
  if (auto left = eta(sample)) line += "  ETA " + clock_time(*left);
  if (!sample.limit.empty()) line += fmt::format("  limit: {}", sample.limit);
  if (sample.files_failed > 0) line += fmt::format("  {} failed", grouped(sample.files_failed));
  if (line.size() > width) line.resize(width);
  return line;
}

std::string format_plain_progress(const ProgressSample& sample) {
  std::string line =
      fmt::format("pipe-run: progress: {}/{}{} files, {} of {}{}", sample.files_done,
                  sample.files_found, sample.walk_complete ? "" : " found so far",
                  format_bytes(sample.bytes_done), format_bytes(sample.bytes_found),
                  sample.walk_complete ? fmt::format(" ({}%)", percent(sample)) : std::string());
  line += fmt::format(", {}", rate(sample.bytes_per_second));
  if (auto left = eta(sample)) line += fmt::format(", ETA {} s", left->count());
  if (sample.files_failed > 0) line += fmt::format(", {} failed", sample.files_failed);
  if (!sample.limit.empty()) line += fmt::format(", limited by {}", sample.limit);
  line += fmt::format(", {:.0f} s elapsed", std::chrono::duration<double>(sample.elapsed).count());
  return line;
}

}  // namespace piperun::cli
