// The run's manifest: one JSON document, streamed to disk while the run goes on, published
// atomically when the run ends (OutputFile).
//
//   {
//     "manifest_version": 1,
//     "tool": "pipe-run", "tool_version": ..., "config_file": ..., "roots": [...],
//     "stages": [...], "shard": "K/N" (only with --shard), "settings": {"section.key": ...},
//     "files": [
//       {"path": ..., "kind": ..., "status": ..., "size": ..., "mode": "0644", "mtime": ...,
//        "mtime_ns": ..., "digests": {...}, ...},            one line per add(), in add() order
//       ...
//     ],
//     "summary": {"files": {"total", "ok", "failed", "skipped", "resumed"}, "bytes_in",
//     "bytes_out",
//                 "duration_s", "throughput_mb_s", "failures": [{"path", "error"}, ...]}
//   }
//
// Names are bytes, not necessarily UTF-8. A "path" or "symlink_target" that is not valid UTF-8
// holds the name with each invalid byte replaced by U+FFFD, and "path_base64" /
// "symlink_target_base64" beside it holds the exact bytes (standard base64, padded), so
// nothing is lost. Other text (errors, header fields) that is not UTF-8 gets the replacement
// only.
//
// Threads: open() and finish() block (directories, join, rename) and run before and after the
// file flow; add() runs on the I/O thread and only serialises into memory (OutputFile hands
// the bytes to its writer thread).
#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pipeline/file_record.hpp"
#include "pipeline/output_file.hpp"
#include "pipeline/run_stats.hpp"

namespace piperun::pipeline {

struct ManifestHeader {
  std::string tool_version;
  std::string config_file;
  std::vector<std::string> roots;
  std::vector<std::string> stages;
  // What decides a file's outputs (stages, algorithms, level, where outputs go), as
  // "section.key" = value: a re-run resumes only from a manifest with the same (resume_index.hpp).
  std::vector<std::pair<std::string, std::string>> settings;
  std::string shard = {};  // "K/N" when the run is one shard of its input; empty: not written
};

class ManifestWriter {
 public:
  static constexpr int kFormatVersion = 1;
  // The summary lists the first this many failed records, in add() order.
  static constexpr std::size_t kMaxListedFailures = 100;

  // Creates the directories and the temporary file and stages the header. Call once.
  std::expected<void, std::string> open(const std::filesystem::path& path,
                                        const ManifestHeader& header);

  // I/O thread. Appends the record to "files"; never blocks on I/O, never throws on odd names.
  // Ignored unless open() succeeded.
  void add(const FileRecord& record);

  // Writes the summary and publishes the manifest under its path (with fsync: durably).
  // Counts in the summary are those of the records added, so they always match "files";
  // bytes, duration and throughput come from `stats`. Reports any write error.
  std::expected<void, std::string> finish(const RunStats& stats, bool fsync);

  // Drops the manifest: nothing appears under its path. Also done by the destructor when
  // finish() did not run.
  void abandon() noexcept { file_.abandon(); }
  // The final and the temporary path, once open.
  std::vector<std::filesystem::path> paths() const {
    return {file_.final_path(), file_.temp_path()};
  }

  // One record as a single-line JSON object, exactly as it appears in "files".
  static std::string serialize_record(const FileRecord& record);
  // `text` as the manifest writes text that may not be UTF-8: unchanged when it is valid, else
  // with each byte that starts no well-formed sequence replaced by U+FFFD.
  static std::string valid_utf8(std::string_view text);

 private:
  OutputFile file_;
  bool open_ = false;
  std::uint64_t records_ = 0;
  std::uint64_t ok_ = 0;
  std::uint64_t failed_ = 0;
  std::uint64_t skipped_ = 0;
  std::uint64_t resumed_ = 0;  // of ok_: carried over from the earlier run
  struct ListedFailure {
    std::string rel_path;
    std::string error;
  };
  std::vector<ListedFailure> listed_failures_;
};

}  // namespace piperun::pipeline
