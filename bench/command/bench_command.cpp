#include "bench/command/bench_command.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

#include <fmt/core.h>

#include "bench/command/bottleneck.hpp"
#include "bench/command/io_job.hpp"
#include "bench/command/page_cache.hpp"
#include "bench/command/resource_usage.hpp"
#include "bench/command/stage_row.hpp"
#include "bench/command/test_file.hpp"
#include "bench/command/unique_fd.hpp"
#include "pipeline/options.hpp"
#include "stages/options.hpp"

namespace piperun::bench {
namespace {

constexpr std::uint64_t kRandomBlock = 4096;
constexpr std::size_t kPage = 4096;

// Brackets a row: CPU time, disk reads and peak RSS between its construction and end().
class RowMeter {
 public:
  RowMeter() {
    reset_peak_rss();
    before_ = take_usage_snapshot();
  }
  void end(BenchRow& row) const {
    const UsageSnapshot after = take_usage_snapshot();
    row.cpu_seconds = after.cpu_seconds - before_.cpu_seconds;
    row.storage_read_bytes = after.storage_read_bytes - before_.storage_read_bytes;
    row.peak_rss_bytes = peak_rss_bytes();
  }

 private:
  UsageSnapshot before_;
};

LatencyPercentiles percentiles(const LatencyHistogram& histogram) {
  auto us = [](std::uint64_t ns) { return static_cast<double>(ns) / 1000.0; };
  return {us(histogram.percentile_ns(0.50)), us(histogram.percentile_ns(0.90)),
          us(histogram.percentile_ns(0.99)), us(histogram.percentile_ns(0.999)),
          us(histogram.max_ns())};
}

std::string describe(const BenchRow& row) {
  std::string text = fmt::format("{:.0f} MB/s", row.mb_per_s());
  if (row.name.starts_with("rand")) text = fmt::format("{:.0f} IOPS", row.iops());
  return text + fmt::format(", CPU {:.0f}%, limited by {}", row.cpu_percent(), row.limited_by);
}

// The engine variant measured, as the options spell it: "" for the defaults.
std::string variant_name(const BenchOptions& options) {
  std::string name;
  auto add = [&name](std::string_view part) {
    name += name.empty() ? "" : " ";
    name += part;
  };
  if (options.ring_setup != io::RingSetup::automatic)
    add("--ring-setup " + std::string(ring_setup_name(options.ring_setup)));
  if (!options.fixed_buffers) add("--no-fixedbufs");
  if (options.fixed_file) add("--registerfiles");
  if (options.submit_each) add("--no-batching");
  return name;
}

class Bench {
 public:
  Bench(const BenchOptions& options, ProgressLine& progress)
      : options_(options), progress_(progress) {}

  std::expected<BenchReport, std::string> run();

 private:
  std::expected<void, std::string> prepare_cache();
  std::expected<BenchRow, std::string> raw_row(std::string name, Access access, std::uint64_t block,
                                               const std::filesystem::path& file);
  std::expected<BenchRow, std::string> stage_row(std::size_t stage_count);

  const BenchOptions& options_;
  ProgressLine& progress_;
  MachineLimits limits_;
  TestFile file_;
};

// Cold or warm, as asked; O_DIRECT rows never see the cache.
std::expected<void, std::string> Bench::prepare_cache() {
  if (options_.direct) return {};
  const std::error_code error =
      options_.warm ? load_into_page_cache(file_.path) : drop_from_page_cache(file_.path);
  if (error) return std::unexpected(fmt::format("{}: {}", file_.path.string(), error.message()));
  return {};
}

std::expected<BenchRow, std::string> Bench::raw_row(std::string name, Access access,
                                                    std::uint64_t block,
                                                    const std::filesystem::path& file) {
  const bool writes = access == Access::sequential_write;
  if (!writes) {
    if (auto ready = prepare_cache(); !ready) return std::unexpected(ready.error());
  }
  const int flags = (writes ? O_WRONLY | O_CREAT | O_TRUNC : O_RDONLY) | O_CLOEXEC |
                    (options_.direct ? O_DIRECT : 0);
  UniqueFd fd{::open(file.c_str(), flags, 0644)};
  if (fd.fd < 0) return std::unexpected(fmt::format("{}: {}", file.string(), std::strerror(errno)));
  // Random reads want no read-ahead around each block, as fio asks (fadvise_hint).
  if (access == Access::random_read) (void)::posix_fadvise(fd.fd, 0, 0, POSIX_FADV_RANDOM);
  // The blocks are allocated before the clock starts, as fio lays out a file it writes
  // (fallocate=native): the row measures writing, not block allocation.
  if (writes) {
    if (const int error = ::posix_fallocate(fd.fd, 0, static_cast<off_t>(file_.size)); error != 0)
      return std::unexpected(
          fmt::format("{}: cannot allocate: {}", file.string(), std::strerror(error)));
  }

  IoJobSpec spec;
  spec.access = access;
  spec.fd = fd.fd;
  spec.size = file_.size;
  spec.block_size = block;
  spec.queue_depth = options_.queue_depth;
  spec.runtime = options_.runtime;
  spec.direct = options_.direct;
  spec.ring_setup = options_.ring_setup;
  spec.fixed_buffers = options_.fixed_buffers;
  spec.fixed_file = options_.fixed_file;
  spec.submit_each = options_.submit_each;
  spec.progress = [this](double fraction) { progress_.update(fraction); };

  BenchRow row;
  row.name = std::move(name);
  progress_.start(row.name);
  RowMeter meter;
  auto result = run_io_job(spec);
  // Writes end with a flush to the disk, as fio's end_fsync=1 does.
  std::chrono::nanoseconds flush{};
  if (result && writes) {
    const auto flush_start = std::chrono::steady_clock::now();
    if (::fdatasync(fd.fd) != 0)
      result = std::unexpected(std::error_code(errno, std::system_category()));
    flush = std::chrono::steady_clock::now() - flush_start;
  }
  meter.end(row);
  if (!result)
    return std::unexpected(fmt::format("{}: {}", file.string(), result.error().message()));
  // From the first request to the last completion, as fio counts: setting up the ring and
  // registering the buffers is not I/O, and fio's rate leaves out its end_fsync (seen with
  // strace: 2 GiB written in 0.54 s, reported as 3.96 GB/s, then 1.5 s in the fsync). The
  // flush is reported on its own.
  row.seconds = std::chrono::duration<double>(result->elapsed).count();
  row.flush_seconds = std::chrono::duration<double>(flush).count();
  row.bytes = result->bytes;
  row.operations = result->operations;
  row.latency = percentiles(result->latency);
  // The raw rows are the disk's own rates: measured against nothing.
  classify_bottleneck(row, false, writes,
                      MachineLimits{limits_.cpus, limits_.memcpy_bytes_per_second, {}, {}});
  progress_.finish(describe(row));
  return row;
}

std::expected<BenchRow, std::string> Bench::stage_row(std::size_t stage_count) {
  StageRowSpec spec;
  spec.input = file_.path;
  spec.scratch = options_.dir / ".pipe-run-bench.out";
  spec.stages.assign(options_.stages.begin(), options_.stages.begin() + stage_count);
  spec.level = options_.level;
  spec.queue_depth = options_.queue_depth;
  spec.direct = options_.direct;
  spec.cpu_threads = options_.cpu_threads;
  spec.ring_setup = options_.ring_setup;
  if (auto ready = prepare_cache(); !ready) return std::unexpected(ready.error());

  BenchRow row;
  row.name = "read";
  for (const auto& stage : spec.stages)
    row.name += "+" + stage;
  progress_.start(row.name);
  RowMeter meter;
  auto stats = run_stage_row(spec);
  if (!stats) return std::unexpected(stats.error());
  row.seconds = std::chrono::duration<double>(stats->duration).count();
  meter.end(row);
  row.bytes = stats->bytes_in;
  if (stats->compressed_out > 0) row.compression_ratio = stats->compression_ratio();
  const bool cpu_stages = stage_count > 0;
  const bool writes =
      std::find(spec.stages.begin(), spec.stages.end(), "write") != spec.stages.end();
  classify_bottleneck(row, cpu_stages, writes, limits_);
  progress_.finish(describe(row));
  return row;
}

std::expected<BenchReport, std::string> Bench::run() {
  BenchReport report;
  report.tool_version = "pipe-run " PIPE_RUN_VERSION;
  report.cpus = options_.cpu_threads;
  report.block_size = options_.block_size;
  report.queue_depth = options_.queue_depth;
  report.direct = options_.direct;
  report.warm = options_.warm && !options_.direct;
  report.level = options_.level;
  report.compressibility = options_.compressibility;
  report.variant = variant_name(options_);

  progress_.start("memory copy rate");
  limits_.cpus = options_.cpu_threads;
  limits_.memcpy_bytes_per_second = memcpy_bytes_per_second();
  report.memcpy_mb_per_s = limits_.memcpy_bytes_per_second / 1e6;
  progress_.finish(fmt::format("{:.0f} MB/s a core", report.memcpy_mb_per_s));

  const std::uint64_t size = options_.size / options_.block_size * options_.block_size;
  progress_.start(fmt::format("test file {}", (options_.dir / "pipe-run-bench.dat").string()));
  auto file = lay_out_test_file(options_.dir, size, options_.compressibility,
                                [this](double fraction) { progress_.update(fraction); });
  if (!file) return std::unexpected(file.error());
  file_ = *file;
  progress_.finish(file_.reused ? "reused" : "laid out");
  report.file = file_.path.string();
  report.file_size = file_.size;
  report.file_reused = file_.reused;

  auto read = raw_row("seq-read", Access::sequential_read, options_.block_size, file_.path);
  if (!read) return std::unexpected(read.error());
  report.rows.push_back(*read);
  if (read->limited_by == "disk") limits_.disk_read_bytes_per_second = read->mb_per_s() * 1e6;

  const std::filesystem::path written = options_.dir / "pipe-run-bench.write";
  auto write = raw_row("seq-write", Access::sequential_write, options_.block_size, written);
  std::error_code ignored;
  std::filesystem::remove(written, ignored);
  if (!write) return std::unexpected(write.error());
  report.rows.push_back(*write);
  limits_.disk_write_bytes_per_second = write->mb_per_s() * 1e6;

  auto random = raw_row("rand-read-4k", Access::random_read, kRandomBlock, file_.path);
  if (!random) return std::unexpected(random.error());
  report.rows.push_back(*random);

  if (!options_.stages.empty()) {
    for (std::size_t count = 0; count <= options_.stages.size(); ++count) {
      auto row = stage_row(count);
      if (!row) return std::unexpected(row.error());
      report.rows.push_back(*row);
    }
  }
  return report;
}

}  // namespace

namespace {

struct NamedSetup {
  io::RingSetup setup;
  std::string_view name;
};
constexpr std::array<NamedSetup, 5> kRingSetups{{{io::RingSetup::automatic, "auto"},
                                                 {io::RingSetup::defer_taskrun, "defer"},
                                                 {io::RingSetup::coop_taskrun, "coop"},
                                                 {io::RingSetup::plain, "plain"},
                                                 {io::RingSetup::sqpoll, "sqpoll"}}};

}  // namespace

std::string_view ring_setup_name(io::RingSetup setup) {
  for (const NamedSetup& named : kRingSetups) {
    if (named.setup == setup) return named.name;
  }
  return "auto";
}

std::optional<io::RingSetup> ring_setup_named(std::string_view name) {
  for (const NamedSetup& named : kRingSetups) {
    if (named.name == name) return named.setup;
  }
  return std::nullopt;
}

std::expected<void, std::string> validate(const BenchOptions& options) {
  std::error_code error;
  if (!std::filesystem::is_directory(options.dir, error))
    return std::unexpected(fmt::format("--dir {}: not a directory", options.dir.string()));
  if (options.block_size == 0 || options.block_size % kPage != 0)
    return std::unexpected(
        fmt::format("--block-size {}: must be a multiple of 4 KiB", options.block_size));
  if (options.block_size > (64u << 20)) return std::unexpected("--block-size: at most 64 MiB");
  if (options.size < options.block_size)
    return std::unexpected("--size: must be at least --block-size");
  if (options.queue_depth == 0 || options.queue_depth > pipeline::kMaxQueueDepth) {
    return std::unexpected(fmt::format("--queue-depth {}: must be 1..{}", options.queue_depth,
                                       pipeline::kMaxQueueDepth));
  }
  if (options.compressibility < 1.0 || options.compressibility > 100.0)
    return std::unexpected("--compressibility: must be 1 (incompressible) to 100");
  if (options.runtime.count() <= 0) return std::unexpected("--runtime: must be more than 0");
  if (options.level < stages::CompressOptions::kMinLevel ||
      options.level > stages::CompressOptions::kMaxLevel) {
    return std::unexpected(fmt::format("--level {}: must be {}..{}", options.level,
                                       stages::CompressOptions::kMinLevel,
                                       stages::CompressOptions::kMaxLevel));
  }
  static const std::vector<std::string> kOrder{"hash", "compress", "write"};
  auto at = kOrder.begin();
  for (const auto& stage : options.stages) {
    at = std::find(at, kOrder.end(), stage);
    if (at == kOrder.end()) {
      return std::unexpected(fmt::format(
          "--stages: '{}': expected any of hash, compress, write, in that order, or none", stage));
    }
    ++at;
  }
  return {};
}

std::expected<BenchReport, std::string> run_bench(const BenchOptions& options,
                                                  ProgressLine& progress) {
  return Bench(options, progress).run();
}

}  // namespace piperun::bench
