#include "cli/report/step_summary.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <string_view>
#include <unistd.h>

#include <fmt/format.h>

#include "cli/exit_codes.hpp"
#include "cli/progress_line.hpp"
#include "cli/summary.hpp"
#include "pipeline/manifest_writer.hpp"

namespace piperun::cli::report {
namespace {

// Failures named in the table; the manifest lists them all.
constexpr std::size_t kNamedFailures = 10;

std::string verdict(const RunOutcome& outcome) {
  switch (outcome.exit_code) {
    case kExitOk:
      return "all done";
    case kExitSomeFailed:
      return fmt::format("{} failed", outcome.stats.files_failed == 1
                                          ? std::string("1 file")
                                          : fmt::format("{} files", outcome.stats.files_failed));
    case kExitInterrupted:
      return "interrupted: the counts are those of the files done";
    default:
      return outcome.error.empty() ? "failed" : "failed: " + markdown_cell(outcome.error);
  }
}

}  // namespace

std::string markdown_cell(std::string_view text) {
  static constexpr std::string_view kMarkup = "\\`*_[]<>|~&#!";
  std::string cell;
  for (char c : pipeline::ManifestWriter::valid_utf8(text)) {
    if (c == '\n' || c == '\r') {
      cell += "<br>";
      continue;
    }
    if (kMarkup.find(c) != std::string_view::npos) cell += '\\';
    cell += c;
  }
  return cell;
}

std::string format_step_summary(const RunOutcome& outcome) {
  const pipeline::RunStats& stats = outcome.stats;
  const double seconds = std::chrono::duration<double>(stats.duration).count();
  // A blank line first: whatever the file holds, the heading starts a block of its own.
  std::string text =
      fmt::format("\n### pipe-run: {}\n\n{} (exit code {})\n\n", markdown_cell(outcome.config_name),
                  verdict(outcome), outcome.exit_code);
  text += "| | |\n| --- | ---: |\n";
  const auto row = [&text](std::string_view name, const std::string& value) {
    fmt::format_to(std::back_inserter(text), "| {} | {} |\n", name, value);
  };
  row("files ok", std::to_string(stats.files_ok));
  row("files failed", std::to_string(stats.files_failed));
  row("files skipped", std::to_string(stats.files_skipped));
  row("files resumed", std::to_string(stats.files_resumed));
  row("bytes in", format_bytes(stats.bytes_in));
  row("bytes out", format_bytes(stats.bytes_out));
  row("ratio", stats.compressed_out > 0 ? fmt::format("{:.2f}", stats.compression_ratio()) : "-");
  row("duration", fmt::format("{:.2f} s", seconds));
  row("throughput", fmt::format("{:.1f} MB/s", stats.throughput_mb_s()));
  if (const std::string waited = format_waited(stats); !waited.empty())
    row("files waited on", waited);
  if (outcome.peak_rss_bytes > 0)
    row("peak RSS",
        fmt::format("{:.0f} MiB", static_cast<double>(outcome.peak_rss_bytes) / 1048576));
  if (outcome.uploads) {
    row("uploads", fmt::format("{} sent ({}), {} unchanged in the store", stats.objects_uploaded,
                               format_bytes(stats.bytes_uploaded), stats.objects_unchanged));
  }
  if (!stats.first_failures.empty()) {
    text += "\n#### Failures\n\n| path | error |\n| --- | --- |\n";
    const std::size_t named = std::min(kNamedFailures, stats.first_failures.size());
    for (std::size_t i = 0; i < named; ++i)
      row(markdown_cell(stats.first_failures[i].first),
          markdown_cell(stats.first_failures[i].second));
    if (stats.files_failed > named) {
      fmt::format_to(std::back_inserter(text), "\n{} more: the manifest lists them.\n",
                     stats.files_failed - named);
    }
  }
  return text;
}

std::expected<void, std::string> append_step_summary(const std::filesystem::path& path,
                                                     const RunOutcome& outcome) {
  const auto failed = [&path](const char* action) {
    return std::unexpected(fmt::format("{} '{}': {}", action, path.string(), std::strerror(errno)));
  };
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return failed("cannot open");
  const std::string text = format_step_summary(outcome);
  std::string_view rest = text;
  while (!rest.empty()) {
    const ssize_t written = ::write(fd, rest.data(), rest.size());
    if (written < 0) {
      if (errno == EINTR) continue;  // a signal's handler ran: nothing was written, go on
      auto error = failed("cannot write");
      ::close(fd);
      return error;
    }
    rest.remove_prefix(static_cast<std::size_t>(written));
  }
  if (::close(fd) != 0) return failed("cannot write");
  return {};
}

}  // namespace piperun::cli::report
