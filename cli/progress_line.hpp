// The text of a progress report: the live line a terminal redraws, and the plain line CI logs
// get every few seconds. Pure formatting, so tests can pin it down.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace piperun::cli {

struct ProgressSample {
  std::uint64_t files_done = 0;
  std::uint64_t files_found = 0;  // so far; final once walk_complete
  std::uint64_t files_failed = 0;
  std::uint64_t bytes_done = 0;
  std::uint64_t bytes_found = 0;
  bool walk_complete = false;
  double bytes_per_second = 0;  // over the last few seconds
  std::chrono::nanoseconds elapsed{};
  std::string_view limit;  // where most files wait now (a stage, "input", "walk"); may be empty
};

// Seconds left at the current rate; none while the walk goes on or nothing moves.
std::optional<std::chrono::seconds> eta(const ProgressSample& sample);

// "41%  8,200/20,000 files  1.23/3.00 GB  512 MB/s  ETA 0:04  limit: compress", cut to `width`
// columns so the terminal never wraps it (a wrapped line cannot be redrawn in place).
std::string format_live_progress(const ProgressSample& sample, std::size_t width);

// "pipe-run: progress: 8200/20000 files, 1.23 of 3.00 GB (41%), 512 MB/s, ETA 4 s, ..."
std::string format_plain_progress(const ProgressSample& sample);

// 999 B, 12.3 kB, 512.0 MB, 1.23 GB: decimal units, as the summary's MB.
std::string format_bytes(std::uint64_t bytes);

}  // namespace piperun::cli
