#include "cli/report/prometheus_textfile.hpp"

#include <chrono>
#include <cstdint>
#include <string_view>

#include <fmt/format.h>

#include "cli/exit_codes.hpp"
#include "pipeline/manifest_writer.hpp"
#include "pipeline/output_file.hpp"

namespace piperun::cli::report {
namespace {

// A label value as the exposition format quotes it: UTF-8, with backslash, double quote and
// line feed escaped.
std::string label_value(std::string_view text) {
  std::string escaped;
  for (char c : pipeline::ManifestWriter::valid_utf8(text)) {
    switch (c) {
      case '\\':
        escaped += "\\\\";
        break;
      case '"':
        escaped += "\\\"";
        break;
      case '\n':
        escaped += "\\n";
        break;
      default:
        escaped += c;
    }
  }
  return escaped;
}

class Textfile {
 public:
  explicit Textfile(std::string_view config_name)
      : config_label_(fmt::format("config=\"{}\"", label_value(config_name))) {}

  // Starts a metric: its HELP and TYPE lines, once, before its samples.
  Textfile& metric(std::string_view name, std::string_view help) {
    name_ = name;
    fmt::format_to(std::back_inserter(text_), "# HELP {} {}\n# TYPE {} gauge\n", name, help, name);
    return *this;
  }

  // One sample of the current metric; `extra_label` is `key="value"` or empty.
  template <typename Value>
  Textfile& sample(Value value, std::string_view extra_label = {}) {
    fmt::format_to(std::back_inserter(text_), "{}{{{}{}{}}} {}\n", name_, config_label_,
                   extra_label.empty() ? "" : ",", extra_label, value);
    return *this;
  }

  std::string take() { return std::move(text_); }

 private:
  std::string config_label_;
  std::string name_;
  std::string text_;
};

}  // namespace

std::string format_prometheus_textfile(const RunOutcome& outcome) {
  const pipeline::RunStats& stats = outcome.stats;
  const double seconds = std::chrono::duration<double>(stats.duration).count();
  const double finished_s =
      std::chrono::duration<double>(outcome.finished_at.time_since_epoch()).count();
  Textfile file(outcome.config_name);
  file.metric("pipe_run_files", "Files the last run finished, by status.")
      .sample(stats.files_ok, R"(status="ok")")
      .sample(stats.files_failed, R"(status="failed")")
      .sample(stats.files_skipped, R"(status="skipped")");
  file.metric("pipe_run_files_resumed",
              "Of the ok files, those unchanged since the run before, not read again.")
      .sample(stats.files_resumed);
  file.metric("pipe_run_read_bytes", "Bytes read from input files.").sample(stats.bytes_in);
  file.metric("pipe_run_output_bytes",
              "Bytes out: compressed bytes, or bytes written without compression.")
      .sample(stats.bytes_out);
  file.metric("pipe_run_compressed_input_bytes", "Input bytes of the files compressed.")
      .sample(stats.compressed_in);
  file.metric("pipe_run_compressed_output_bytes", "Compressed bytes of those files.")
      .sample(stats.compressed_out);
  file.metric("pipe_run_compression_ratio",
              "Compressed input bytes per compressed byte; 0 when nothing was compressed.")
      .sample(stats.compression_ratio());
  file.metric("pipe_run_objects", "Objects the upload stage handled, by status.")
      .sample(stats.objects_uploaded, R"(status="uploaded")")
      .sample(stats.objects_unchanged, R"(status="unchanged")");
  file.metric("pipe_run_uploaded_bytes", "Bytes sent to the store.").sample(stats.bytes_uploaded);
  file.metric("pipe_run_stage_bytes",
              "Bytes each place was handed: input the bytes read, each stage its input (after "
              "compress, compressed bytes).");
  for (const auto& place : stats.places) {
    if (place.name != "walk")
      file.sample(place.bytes, fmt::format("stage=\"{}\"", label_value(place.name)));
  }
  file.metric("pipe_run_stage_wait_seconds",
              "Time files spent waiting in each place, summed over the files in flight: the "
              "largest is what limited the run.");
  for (const auto& place : stats.places) {
    file.sample(fmt::format("{:.3f}", std::chrono::duration<double>(place.flow_time).count()),
                fmt::format("stage=\"{}\"", label_value(place.name)));
  }
  file.metric("pipe_run_peak_rss_bytes", "Peak resident memory of the last run.")
      .sample(outcome.peak_rss_bytes);
  file.metric("pipe_run_duration_seconds", "Wall-clock duration of the last run.")
      .sample(fmt::format("{:.3f}", seconds));
  file.metric("pipe_run_last_run_timestamp_seconds",
              "When the last run ended, in seconds since the Unix epoch.")
      .sample(fmt::format("{:.3f}", finished_s));
  file.metric("pipe_run_exit_code",
              "Exit code of the last run: 0 all done, 1 some files failed, 2 usage error, 3 "
              "fatal error, 130 interrupted.")
      .sample(outcome.exit_code);
  file.metric("pipe_run_interrupted", "1 when SIGINT or SIGTERM stopped the last run.")
      .sample(stats.interrupted || outcome.exit_code == kExitInterrupted ? 1 : 0);
  return file.take();
}

std::expected<void, std::string> write_prometheus_textfile(const std::filesystem::path& path,
                                                           const RunOutcome& outcome, bool fsync) {
  pipeline::OutputFile file;
  if (auto opened = file.open(path); !opened) return opened;
  file.append(format_prometheus_textfile(outcome));
  return file.commit(fsync);
}

}  // namespace piperun::cli::report
