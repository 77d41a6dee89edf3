// The main command, `pipe-run CONFIG.toml [options]`: its arguments (the options that set them
// are in cli/main.cpp), and the run that turns a config into an engine run, reports and an exit
// code.
#pragma once

#include <string>
#include <vector>

namespace piperun::cli {

enum class ProgressMode { automatic, always, never };

struct JobArguments {
  std::string config_file;
  std::vector<std::string> overrides;  // --set section.key=value
  bool quiet = false;
  bool verbose = false;
  bool dry_run = false;
  bool json = false;  // the summary as one JSON document on stdout
  ProgressMode progress = ProgressMode::automatic;
  std::string shard;  // "K/N"; empty: every file
};

// Returns the process exit code.
int run_job_command(const JobArguments& arguments);

}  // namespace piperun::cli
