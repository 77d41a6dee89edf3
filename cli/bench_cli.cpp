#include "cli/bench_cli.hpp"

#include <cstdio>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "bench/command/bench_command.hpp"
#include "cli/exit_codes.hpp"
#include "cli/size_parse.hpp"
#include "pipeline/cpu_budget.hpp"

namespace piperun::cli {
namespace {

std::vector<std::string> split_stages(const std::string& list) {
  std::vector<std::string> stages;
  if (list == "none" || list.empty()) return stages;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = list.find(',', start);
    stages.push_back(list.substr(start, comma - start));
    if (comma == std::string::npos) return stages;
    start = comma + 1;
  }
}

std::expected<bench::BenchOptions, std::string> bench_options(const BenchArguments& arguments) {
  bench::BenchOptions options;
  options.dir = arguments.dir;
  auto size = parse_size(arguments.size);
  if (!size) return std::unexpected("--size: " + size.error());
  options.size = *size;
  auto block = parse_size(arguments.block_size);
  if (!block) return std::unexpected("--block-size: " + block.error());
  options.block_size = *block;
  auto runtime = parse_duration(arguments.runtime);
  if (!runtime) return std::unexpected("--runtime: " + runtime.error());
  options.runtime = *runtime;
  options.queue_depth = arguments.queue_depth;
  options.direct = arguments.direct;
  options.warm = arguments.warm;
  options.stages = split_stages(arguments.stages);
  options.compressibility = arguments.compressibility;
  options.level = arguments.level;
  const auto setup = bench::ring_setup_named(arguments.ring_setup);
  if (!setup) {
    return std::unexpected("--ring-setup " + arguments.ring_setup +
                           ": expected auto, defer, coop, plain or sqpoll");
  }
  options.ring_setup = *setup;
  options.fixed_buffers = !arguments.no_fixedbufs;
  options.fixed_file = arguments.registerfiles;
  options.submit_each = arguments.no_batching;
  options.cpu_threads = arguments.threads > 0 ? arguments.threads : pipeline::usable_cpus();
  if (auto valid = bench::validate(options); !valid) return std::unexpected(valid.error());
  return options;
}

}  // namespace

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

int run_bench_command(const BenchArguments& arguments) {
  auto options = bench_options(arguments);
  if (!options) {
    fmt::print(stderr, "pipe-run bench: {}\n", options.error());
    return kExitUsage;
  }
  bench::ProgressLine progress(::isatty(STDERR_FILENO) == 1);
  auto report = bench::run_bench(*options, progress);
  if (!report) {
    fmt::print(stderr, "pipe-run bench: {}\n", report.error());
    return kExitFatal;
  }
  if (arguments.json) {
    fmt::print("{}", bench::format_json(*report));
  } else {
    fmt::print("{}", bench::format_table(*report));
  }
  return kExitOk;
}

}  // namespace piperun::cli
