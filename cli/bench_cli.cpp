#include "cli/bench_cli.hpp"

#include <cstdio>
#include <unistd.h>

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
