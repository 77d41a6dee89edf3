#include "cli/report/record_tally.hpp"

namespace piperun::cli::report {

void RecordTally::add(const pipeline::FileRecord& record) {
  stats_.count(record);
  if (record.status == pipeline::FileStatus::ok && !record.resumed) stats_.bytes_in += record.size;
}

}  // namespace piperun::cli::report
