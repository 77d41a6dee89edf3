#include "pipeline/run_stats.hpp"

namespace piperun::pipeline {

void RunStats::count(const FileRecord& record) {
  switch (record.status) {
    case FileStatus::ok:
      ++files_ok;
      if (record.resumed) {
        ++files_resumed;  // nothing read or written for it in this run
      } else if (record.compressed_size) {
        compressed_in += record.size;
        compressed_out += *record.compressed_size;
        bytes_out += *record.compressed_size;
      } else if (!record.output_path.empty()) {
        bytes_out += record.size;
      }
      if (record.upload) {
        ++(record.upload->skipped ? objects_unchanged : objects_uploaded);
        bytes_uploaded += record.upload->bytes;
      }
      break;
    case FileStatus::failed:
      ++files_failed;
      if (first_failures.size() < kListedFailures)
        first_failures.emplace_back(record.rel_path, record.error);
      break;
    case FileStatus::skipped:
      ++files_skipped;
      break;
  }
}

}  // namespace piperun::pipeline
