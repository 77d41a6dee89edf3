// The reports' own account of a run, from the file records as they arrive: the engine's
// RunStats are only known when it returns them, and a fatal error or a second signal returns
// none, yet the reports still say what was done.
//
// Threads: add() runs on the I/O thread (the engine's on_file_done); it only counts and, for
// the first failures, copies two strings.
#pragma once

#include "pipeline/file_record.hpp"
#include "pipeline/run_stats.hpp"

namespace piperun::cli::report {

class RecordTally {
 public:
  void add(const pipeline::FileRecord& record);

  // Counted as the engine counts them; bytes_in is the size of the files read to the end
  // (a failed file's partial read is not known here); duration is left at zero.
  const pipeline::RunStats& stats() const { return stats_; }

 private:
  pipeline::RunStats stats_;
};

}  // namespace piperun::cli::report
