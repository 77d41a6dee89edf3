// `[report] events`: the run as a JSON Lines event log, one JSON object a line, each with
// "time" (RFC 3339, UTC, milliseconds) and "event":
//
//   {"time":..., "event":"run_started", "tool_version", "config", "roots", "stages"}
//   {"time":..., "event":"file", <the file's manifest record: path, status, digests,
//    compressed_size, output, upload, error, ...>}             one per file, as each is done
//   {"time":..., "event":"run_finished", "exit_code", "interrupted", "error" (when the run
//    ended early), "files": {...}, "bytes_in", "bytes_out", "ratio", "upload", "duration_s",
//    "throughput_mb_s"}
//
// A file event is the manifest's record (ManifestWriter::serialize_record), so names that are
// not UTF-8 come with "path_base64" / "output_base64" exactly as there.
//
// Threads: open() and finish() block (directories, join, rename): before and after the run.
// add() runs on the I/O thread and only serialises into memory; OutputFile's writer thread
// writes, and finish() publishes the log atomically under its path.
#pragma once

#include <expected>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/report/run_outcome.hpp"
#include "pipeline/file_record.hpp"
#include "pipeline/output_file.hpp"

namespace piperun::cli::report {

struct RunStart {
  std::string tool_version;
  std::string config_file;
  std::vector<std::string> roots;
  std::vector<std::string> stages;
};

class EventLog {
 public:
  // Creates the log (under a temporary name until finish) and logs run_started. The error
  // names the path and the reason.
  std::expected<void, std::string> open(const std::filesystem::path& path, const RunStart& start);

  // I/O thread; never blocks. Logs a file event. Ignored unless open() succeeded.
  void add(const pipeline::FileRecord& record);

  // Logs run_finished and publishes the log under its path (with fsync: durably).
  std::expected<void, std::string> finish(const RunOutcome& outcome, bool fsync);

  // Between a successful open() and finish().
  bool is_open() const { return open_; }

 private:
  pipeline::OutputFile file_;
  bool open_ = false;
};

}  // namespace piperun::cli::report
