// pipe-run's entry point: the command line of every subcommand (options, help texts, examples)
// and the command it runs. The options are all here because CLI11 is header-only and costs
// each source that includes it about 13 s of compile time (-O3): this is the only one.
#include <map>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "cli/bench_cli.hpp"
#include "cli/exit_codes.hpp"
#include "cli/job_command.hpp"
#include "cli/verify_cli.hpp"

namespace piperun::cli {
namespace {

void add_job_arguments(CLI::App& app, JobArguments& arguments) {
  app.add_option("CONFIG", arguments.config_file, "the job's TOML configuration");
  app.add_option("--set", arguments.overrides,
                 "override a key: section.key=value (value in TOML syntax)")
      ->take_all();
  app.add_flag("-q,--quiet", arguments.quiet, "print errors only");
  app.add_flag("-v,--verbose", arguments.verbose, "print every file");
  app.add_flag("--dry-run", arguments.dry_run,
               "walk and filter, print what would be done; write nothing, contact no server");
  app.add_flag("--json", arguments.json,
               "print the summary and failures as one JSON document on stdout");
  const std::map<std::string, ProgressMode> modes{{"auto", ProgressMode::automatic},
                                                  {"always", ProgressMode::always},
                                                  {"never", ProgressMode::never}};
  app.add_option("--progress", arguments.progress,
                 "auto (default): a live line on a terminal, else a plain line every "
                 "report.progress_interval, none with -q; always: the live line, even into a "
                 "log or with -q; never")
      ->transform(CLI::CheckedTransformer(modes, CLI::ignore_case))
      ->option_text("auto|always|never");
  app.add_option("--shard", arguments.shard,
                 "K/N: process only shard K of N (1-based), a partition by path hash")
      // An empty value (an unset CI variable) must not mean every file; the rest is checked
      // by parse_shard once the config is loaded.
      ->check([](const std::string& text) {
        return text.empty() ? std::string("expected K/N, got an empty value") : std::string();
      });
}

CLI::App* add_bench_command(CLI::App& app, BenchArguments& arguments) {
  CLI::App* bench = app.add_subcommand(
      "bench",
      "Measure the disk and each stage with the engine itself: sequential read and write, 4 KiB "
      "random reads, then read, read+hash, read+hash+compress, read+hash+compress+write on a "
      "generated test file; a table with MB/s, IOPS, latency percentiles, CPU use and the "
      "resource that limited each row (disk, cpu, memory)");
  bench->footer(
      "Examples:\n"
      "  pipe-run bench --dir /mnt/nvme --size 4GiB --direct      # the disk, fio-style\n"
      "  pipe-run bench --dir . --size 1GiB --warm --json          # stages on cached data\n"
      "  pipe-run bench --stages none --block-size 128KiB --queue-depth 32\n"
      "The test file DIR/pipe-run-bench.dat is kept and reused by the next run with the same "
      "size and compressibility; delete it when done.");
  bench->add_option("--dir", arguments.dir, "directory of the test file (on the disk to measure)")
      ->capture_default_str();
  bench->add_option("--size", arguments.size, "test file size (e.g. 4GiB)")->capture_default_str();
  bench->add_option("--block-size", arguments.block_size, "request size of the sequential rows")
      ->capture_default_str();
  bench->add_option("--queue-depth", arguments.queue_depth, "requests in flight")
      ->capture_default_str();
  bench->add_flag("--direct", arguments.direct, "O_DIRECT: bypass the page cache in every row");
  bench->add_flag("--warm", arguments.warm,
                  "read the test file from the page cache (read just before each row) instead "
                  "of dropping it from the cache first");
  bench
      ->add_option("--stages", arguments.stages,
                   "stage chain whose prefixes are measured (any of hash, compress, write, in "
                   "that order), or none")
      ->capture_default_str();
  bench->add_flag("--json", arguments.json, "print one JSON document on stdout");
  bench
      ->add_option("--compressibility", arguments.compressibility,
                   "zstd ratio of the generated data; 1 = incompressible")
      ->capture_default_str();
  bench->add_option("--runtime", arguments.runtime, "duration of the random-read row")
      ->capture_default_str();
  bench->add_option("--level", arguments.level, "zstd level of the compress rows")
      ->capture_default_str();
  bench->add_option("--threads", arguments.threads, "CPU workers; 0 = one per usable CPU")
      ->capture_default_str();
  auto* variants = bench->add_option_group(
      "engine variants", "to measure what each io_uring feature is worth (bench/RESULTS.md)");
  variants
      ->add_option("--ring-setup", arguments.ring_setup,
                   "auto (DEFER_TASKRUN where the kernel has it), defer, coop, plain, or sqpoll "
                   "(a kernel thread polls the submission queue)")
      ->capture_default_str();
  variants->add_flag("--no-fixedbufs", arguments.no_fixedbufs,
                     "raw rows: plain buffers instead of registered ones");
  variants->add_flag("--registerfiles", arguments.registerfiles,
                     "raw rows: the file registered with the ring");
  variants->add_flag("--no-batching", arguments.no_batching,
                     "raw rows: one io_uring_enter per request");
  return bench;
}

CLI::App* add_verify_command(CLI::App& app, VerifyArguments& arguments) {
  CLI::App* command = app.add_subcommand(
      "verify",
      "Check every output a run recorded in its manifest: re-read the output tree and a "
      "file:// store (decompressing .zst files), and look up uploaded objects (a HEAD with the "
      "digest pipe-run stored as metadata, else a download); compare sizes and digests");
  command->footer(
      "Examples:\n"
      "  pipe-run verify out/manifest.json                 # exit 0: every output holds\n"
      "  pipe-run verify --download out/manifest.json      # objects: the bytes, not metadata\n"
      "  pipe-run verify --json -q out/manifest.json > verify.json\n"
      "Each problem is one line on stderr: 'pipe-run verify: PATH-OR-URL: missing' (or the "
      "size or digest that differs). Exit codes: 0 all hold, 1 some do not, 2 the manifest "
      "cannot be read, 3 fatal. Credentials come from the environment as for a run "
      "(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, PIPE_RUN_HTTP_AUTH).");
  command->add_option("MANIFEST", arguments.manifest, "the manifest a run wrote")->required();
  command->add_flag("--download", arguments.download,
                    "download objects and hash their bytes even where a HEAD could tell");
  command->add_flag("--json", arguments.json,
                    "print the counts and the problems as one JSON document on stdout");
  command->add_flag("-q,--quiet", arguments.quiet, "print the problems only, no summary");
  command->add_option("--endpoint", arguments.endpoint,
                      "S3-compatible endpoint; default: the job's upload.endpoint");
  command->add_option("--region", arguments.region,
                      "S3 region; default: the job's upload.region, else us-east-1");
  command->add_option("--threads", arguments.threads, "CPU workers; 0 = one per usable CPU")
      ->capture_default_str();
  command->add_option("--concurrency", arguments.concurrency, "objects checked at once")
      ->capture_default_str();
  return command;
}

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
