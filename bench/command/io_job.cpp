#include "bench/command/io_job.hpp"

#include <bit>
#include <memory>
#include <optional>

#include "bench/command/test_data.hpp"
#include "io/buffer_pool.hpp"
#include "io/ops.hpp"
#include "io/ring.hpp"
#include "pipeline/task.hpp"

namespace piperun::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kPage = 4096;
constexpr auto kProgressEvery = std::chrono::milliseconds(100);

struct Job {
  Job(const IoJobSpec& job_spec, io::Ring& job_ring) : spec(job_spec), ring(job_ring) {}

  const IoJobSpec& spec;
  io::Ring& ring;
  int fd = -1;  // spec.fd, or its index among the ring's registered files
  IoJobResult result;
  std::uint64_t next_offset = 0;
  std::uint64_t random_state = 0x853c49e6748fea9bull;
  Clock::time_point start;
  Clock::time_point deadline;
  Clock::time_point last_progress;
  unsigned running = 0;
  std::error_code error;

  // The next operation's offset, or none when the job is done (or has failed).
  std::optional<std::uint64_t> next(Clock::time_point now) {
    if (error) return std::nullopt;
    if (spec.access == Access::random_read) {
      if (now >= deadline) return std::nullopt;
      // xorshift64: the offsets need to be spread, not unpredictable.
      random_state ^= random_state << 13;
      random_state ^= random_state >> 7;
      random_state ^= random_state << 17;
      return random_state % (spec.size / spec.block_size) * spec.block_size;
    }
    if (next_offset >= spec.size) return std::nullopt;
    const std::uint64_t offset = next_offset;
    next_offset += spec.block_size;
    return offset;
  }

  void record(std::size_t bytes, Clock::time_point started, Clock::time_point now) {
    result.bytes += bytes;
    ++result.operations;
    result.latency.record(static_cast<std::uint64_t>((now - started).count()));
    if (spec.progress && now - last_progress >= kProgressEvery) {
      last_progress = now;
      const double done = spec.access == Access::random_read
                              ? std::chrono::duration<double>(now - start) / spec.runtime
                              : static_cast<double>(result.bytes) / static_cast<double>(spec.size);
      spec.progress(std::min(done, 1.0));
    }
  }
};

pipeline::task<void> worker(Job& job, io::BufferLease lease) {
  const bool writes = job.spec.access == Access::sequential_write;
  const auto direction =
      writes ? io::TransferOp::Direction::write : io::TransferOp::Direction::read;
  // Buffered reads of large blocks copy on io-wq workers, in parallel, as the engine's do.
  const bool async = !writes && !job.spec.direct && job.spec.block_size >= 16 * 1024;
  io::TransferOp op;
  // One clock read per request: the end of one is the start of the next.
  auto now = Clock::now();
  for (auto offset = job.next(now); offset; offset = job.next(now)) {
    const std::size_t length =
        std::min<std::uint64_t>(job.spec.block_size, job.spec.size - *offset);
    const auto started = now;
    if (writes) stamp_sectors(lease.bytes().first(length), *offset);
    op.start(job.ring, direction, job.fd, lease.bytes().first(length), *offset,
             lease.registered_index(), job.spec.direct, async, job.spec.fixed_file);
    auto done = co_await op;
    now = Clock::now();
    if (!done) {
      job.error = done.error();
      break;
    }
    job.record(*done, started, now);
    if (*done < length && !writes) break;  // EOF: the file is shorter than expected
  }
  --job.running;
}

}  // namespace

std::expected<IoJobResult, std::error_code> run_io_job(const IoJobSpec& spec) {
  if (spec.block_size == 0 || spec.size < spec.block_size || spec.queue_depth == 0)
    return std::unexpected(std::make_error_code(std::errc::invalid_argument));
  io::RingOptions ring_options;
  ring_options.entries = std::max(8u, std::bit_ceil(spec.queue_depth));
  ring_options.setup = spec.ring_setup;
  ring_options.submit_each = spec.submit_each;
  auto ring = io::Ring::create(ring_options);
  if (!ring) return std::unexpected(ring.error());
  if (spec.fixed_file) {
    if (const int result = io_uring_register_files((*ring)->native(), &spec.fd, 1); result < 0)
      return std::unexpected(std::error_code(-result, std::system_category()));
  }
  io::BufferPool::Options pool_options;
  pool_options.buffer_bytes = (spec.block_size + kPage - 1) / kPage * kPage;
  pool_options.count = spec.queue_depth;
  pool_options.register_with_ring = spec.fixed_buffers;
  auto pool = io::BufferPool::create(**ring, pool_options);
  if (!pool) return std::unexpected(pool.error());

  Job job(spec, **ring);
  job.fd = spec.fixed_file ? 0 : spec.fd;
  std::vector<io::BufferLease> leases;
  for (unsigned i = 0; i < spec.queue_depth; ++i) {
    leases.push_back((*pool)->try_acquire());
    // Written bytes: incompressible, like most data a disk test writes (fio's default too).
    if (spec.access == Access::sequential_write) fill_test_data(leases.back().bytes(), 0, 1.0);
  }
  job.start = job.last_progress = Clock::now();
  job.deadline = job.start + spec.runtime;
  job.running = spec.queue_depth;
  for (auto& lease : leases)
    pipeline::spawn(worker(job, std::move(lease)));
  (*ring)->run_until([&job] { return job.running == 0; });
  job.result.elapsed = Clock::now() - job.start;
  if (job.error) return std::unexpected(job.error);
  return std::move(job.result);
}

}  // namespace piperun::bench
