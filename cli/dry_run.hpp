// `pipe-run CONFIG.toml --dry-run`: what a run of the job would do, without doing it.
//
// The inputs are walked and filtered (include, exclude, hidden, --shard) by the engine's own
// Walker, with the same exclusions as a real run (its manifest and checksum files), so the
// entries counted are the records a real run's manifest would hold. Nothing else of a run
// happens: no ring, no file is opened for reading, no output directory, lock, temporary,
// manifest, checksum file or digest cache is created, and no stage is built, so no server is
// looked up or contacted.
//
// Human text goes to stderr (none with -q, but for errors); with --json the same as one JSON
// document on stdout. Exit codes: 0; 1 when the walk met entries a real run would record as
// failed (an unreadable directory, a dangling followed symlink: each named on stderr, as a real
// run names them); 2 when nothing matched and input.if_no_files = "error", with a real run's
// message. Files that a real run would fail to open or read are not found out: none is opened.
#pragma once

#include "cli/config.hpp"
#include "cli/job_command.hpp"

namespace piperun::cli {

// `config` is loaded and validated, its input.shard set from --shard. Returns the exit code.
int run_dry_run(const Config& config, const JobArguments& arguments);

}  // namespace piperun::cli
