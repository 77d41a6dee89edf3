// pipe-run's entry point: the command line's subcommands, each run to an exit code.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "cli/bench_cli.hpp"
#include "cli/exit_codes.hpp"
#include "cli/job_command.hpp"

namespace piperun::cli {
namespace {

int run(int argc, char** argv) {
  CLI::App app{"pipe-run: read, hash, compress, write and upload batch directories in one pass"};
  app.set_version_flag("--version", "pipe-run " PIPE_RUN_VERSION);
  JobArguments job_arguments;
  add_job_arguments(app, job_arguments);
  BenchArguments bench_arguments;
  const CLI::App* bench = add_bench_command(app, bench_arguments);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? kExitOk : kExitUsage;
  }
  if (bench->parsed()) return run_bench_command(bench_arguments);
  if (job_arguments.config_file.empty()) {
    fmt::print(stderr, "pipe-run: CONFIG is required (or a subcommand: bench); see --help\n");
    return kExitUsage;
  }
  return run_job_command(job_arguments);
}

}  // namespace
}  // namespace piperun::cli

int main(int argc, char** argv) {
  return piperun::cli::run(argc, argv);
}
