// pipe-run's entry point: the command line's subcommands, each run to an exit code.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "cli/bench_cli.hpp"
#include "cli/exit_codes.hpp"
#include "cli/job_command.hpp"
#include "cli/verify_cli.hpp"

namespace piperun::cli {
namespace {

int run(int argc, char** argv) {
  CLI::App app{"pipe-run: read, hash, compress, write and upload batch directories in one pass"};
  app.set_version_flag("--version", "pipe-run " PIPE_RUN_VERSION);
  app.footer(R"(Examples:
  pipe-run job.toml                               # run the job the config describes
  pipe-run job.toml --set compress.level=19 -v    # override a key; name every file
  pipe-run job.toml --dry-run                     # what would be done; writes nothing
  pipe-run job.toml --shard 2/4 --json > s2.json  # one of 4 CI jobs; summary as JSON
  pipe-run verify out/manifest.json               # check every output against the manifest
  pipe-run bench --dir /mnt/nvme --direct         # disk and stage throughput

Exit codes: 0 all done, 1 some files failed (stderr and the manifest say which),
2 usage or configuration error (nothing processed), 3 fatal error, 130 interrupted.
Each subcommand has its own --help. The config keys are in README.md.)");
  JobArguments job_arguments;
  add_job_arguments(app, job_arguments);
  BenchArguments bench_arguments;
  const CLI::App* bench = add_bench_command(app, bench_arguments);
  VerifyArguments verify_arguments;
  const CLI::App* verify = add_verify_command(app, verify_arguments);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? kExitOk : kExitUsage;
  }
  if (bench->parsed()) return run_bench_command(bench_arguments);
  if (verify->parsed()) return run_verify_command(verify_arguments);
  if (job_arguments.config_file.empty()) {
    fmt::print(stderr,
               "pipe-run: CONFIG is required (or a subcommand: bench, verify); see --help\n");
    return kExitUsage;
  }
  return run_job_command(job_arguments);
}

}  // namespace
}  // namespace piperun::cli

int main(int argc, char** argv) {
  return piperun::cli::run(argc, argv);
}
