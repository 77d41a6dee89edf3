#include "cli/summary.hpp"

#include <fmt/core.h>

namespace piperun::cli {

std::string format_summary(const pipeline::RunStats& stats) {
  const double seconds = std::chrono::duration<double>(stats.duration).count();
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

}  // namespace piperun::cli
