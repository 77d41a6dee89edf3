#include "pipeline/engine.hpp"

#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <optional>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "io/buffer_pool.hpp"
#include "io/ops.hpp"
#include "io/ring.hpp"
#include "pipeline/file_flow.hpp"
#include "pipeline/resume_index.hpp"
#include "pipeline/sync_wait.hpp"
#include "pipeline/walker.hpp"

namespace piperun::pipeline {
namespace {

// Entries taken from the walker per poll: enough to amortise its mutex.
constexpr std::size_t kWalkBatch = 256;
// Read-ahead per file, in chunks. O_DIRECT reads need many in flight to keep the device's
// queue full (up to queue_depth, as fio's iodepth). Page-cache reads are memory copies: a
// little read-ahead overlaps them with the stages, more only spreads the bytes over more
// buffer pages, each zeroed on first touch (and, in a VM that hands freed memory back to its
// host, faulted in from the host: 27% of a hash-only run's samples in clear_page_erms here).
// Measured on 4 x 256 MiB cached files, hash only, alternating: 2 chunks (4 MiB) a file took
// 130-146 ms against 164-175 ms for 4 chunks (8 MiB) in a fresh process after a cache drop,
// 105 against 115 ms warm (hyperfine), peak RSS 25 against 42 MiB; compress + write of the
// mixed tree and of one 1 GiB file the same within noise.
constexpr std::size_t kMaxDirectWindow = 64;
constexpr std::size_t kSmallSlotBytes = 64 * 1024;
constexpr std::uint64_t kBufferedReadAheadBytes = 4 * kMiB;

std::size_t read_window(const PipelineOptions& pipeline, std::size_t pool_buffers) {
  const std::size_t wanted =
      pipeline.direct_io ? std::min<std::size_t>(pipeline.queue_depth, kMaxDirectWindow)
                         : std::max<std::size_t>(2, kBufferedReadAheadBytes / pipeline.chunk_size);
  // Half the pool at most, so one large file leaves buffers for the others.
  return std::clamp<std::size_t>(wanted, 1, std::max<std::size_t>(1, pool_buffers / 2));
}

// How memory_limit is shared between read buffers and the buffers stages produce into.
struct PoolSizes {
  std::size_t inputs = 0;
  std::size_t outputs = 0;       // output buffers (slots included); 0 when no stage produces
  std::size_t output_slots = 0;  // small-file slots carved from them
};

PoolSizes split_memory(const PipelineOptions& pipeline, std::size_t output_bytes,
                       std::size_t output_slot_bytes, unsigned cpu_threads) {
  const std::uint64_t memory = pipeline.memory_limit;
  const std::uint64_t chunk = pipeline.chunk_size;
  PoolSizes sizes;
  if (output_bytes == 0) {
    sizes.inputs = std::max<std::size_t>(2, memory / chunk);
    return sizes;
  }
  // Output buffers for the frames the CPU pool works on and those being written, plus a slot
  // for each small file in flight. Reads get twice as many: a queue ahead of the compressor.
  // More would only wait for it, and every buffer touched once costs its zeroing: on 1.1 GB of
  // real files, 15 + 49 buffers of 4 MiB (all of 256 MiB) ran 12% slower than 8 + 16.
  const std::size_t frames = std::max<std::size_t>(4, 2 * std::size_t{cpu_threads} + 2);
  sizes.output_slots = pipeline.queue_depth;
  const std::size_t slots_per_buffer = std::max<std::size_t>(1, output_bytes / output_slot_bytes);
  const std::size_t slot_buffers = (sizes.output_slots + slots_per_buffer - 1) / slots_per_buffer;
  sizes.outputs = frames + slot_buffers;
  if (sizes.outputs * output_bytes + 2 * chunk > memory) {
    // A small memory_limit: no slots, the fewest buffers that still keep the cores busy.
    sizes.output_slots = 0;
    sizes.outputs =
        std::clamp<std::size_t>((memory - std::min(memory, 2 * chunk)) / output_bytes, 2, frames);
  }
  const std::uint64_t input_memory =
      memory - std::min<std::uint64_t>(memory, sizes.outputs * output_bytes);
  // Plus the buffers the small-file slots are carved from, so large files keep their share.
  const std::size_t input_slot_buffers =
      (pipeline.queue_depth * kSmallSlotBytes + chunk - 1) / chunk;
  sizes.inputs =
      std::clamp<std::size_t>(input_memory / chunk, 2, 2 * sizes.outputs + input_slot_buffers);
  return sizes;
}

// Level-triggered hand-off from the walker thread: "entries may be ready". The awaiting
// coroutine is resumed on the I/O thread through the ring's remote queue.
class WalkSignal {
 public:
  explicit WalkSignal(io::Ring& ring) : ring_(ring) {}

  // Walker thread.
  void notify() {
    if (state_.exchange(kSignalled, std::memory_order_acq_rel) == kArmed) ring_.post(remote_);
  }

  // I/O thread: co_await signal.wait().
  auto wait() {
    struct Awaiter {
      WalkSignal& signal;
      bool await_ready() {
        int expected = kSignalled;
        return signal.state_.compare_exchange_strong(expected, kIdle, std::memory_order_acq_rel);
      }
      bool await_suspend(std::coroutine_handle<> waiter) {
        signal.remote_.handle = waiter;
        int expected = kIdle;
        if (signal.state_.compare_exchange_strong(expected, kArmed, std::memory_order_acq_rel)) {
          return true;
        }
        // Signalled in between: consume it and go on without suspending.
        signal.state_.store(kIdle, std::memory_order_release);
        return false;
      }
      void await_resume() {
        // The post consumed the arming; clear the signal that triggered it.
        int expected = kSignalled;
        signal.state_.compare_exchange_strong(expected, kIdle, std::memory_order_acq_rel);
      }
    };
    return Awaiter{*this};
  }

 private:
  static constexpr int kIdle = 0;
  static constexpr int kArmed = 1;
  static constexpr int kSignalled = 2;
  io::Ring& ring_;
  io::RemoteWork remote_;
  std::atomic<int> state_{kIdle};
};

}  // namespace

// Everything one run owns, on the I/O thread.
struct Engine::Run {
  Engine& engine;
  io::Ring& ring;
  FlowShared shared;
  ManifestWriter manifest;
  ChecksumWriter checksums;
  WalkSignal walk_signal;  // outlives the walker, whose thread notifies it
  // Made once the outputs are open, so that their temporary files are excluded too.
  std::optional<Walker> walker;
  RunStats stats;
  std::optional<ResumeIndex> resume;  // the earlier run's manifest, when resuming

  // Interruption: a signalfd read kept armed in the ring.
  int signal_fd = -1;
  io::TransferOp signal_read;
  signalfd_siginfo signal_info{};
  bool watcher_running = false;
  bool abort_outputs = false;  // a second signal: leave nothing behind

  std::deque<FileEntry> pending;
  std::vector<FileEntry> batch;
  bool walk_finished = false;
  unsigned workers_running = 0;
  bool feeder_running = false;
  // Workers with nothing to do wait here for the feeder.
  std::vector<std::coroutine_handle<>> idle_workers;

  Run(Engine& owner, io::Ring& ring_ref, Runtime runtime)
      : engine(owner), ring(ring_ref), shared{runtime, owner.stages_}, walk_signal(ring_ref) {
    signal_read.fault_exempt = true;
    shared.direct_io = owner.options_.pipeline.direct_io;
    shared.follow_symlinks = owner.options_.input.follow_symlinks;
    shared.max_reads_in_flight = owner.options_.pipeline.queue_depth;
    shared.live = &owner.live_;
  }

  ~Run() {
    if (signal_fd >= 0) ::close(signal_fd);
  }

  // Our own outputs and their temporary files, which may lie inside an input tree.
  std::vector<std::filesystem::path> excluded_paths() const {
    std::vector<std::filesystem::path> paths = manifest.paths();
    for (auto& path : checksums.paths())
      paths.push_back(std::move(path));
    return paths;
  }

  void start_walk() {
    const InputOptions& input = engine.options_.input;
    walker.emplace(input, GlobPattern::compile_all(input.include),
                   GlobPattern::compile_all(input.exclude), excluded_paths());
    walker->start([this] { walk_signal.notify(); });
  }

  // First signal: stop taking files and abandon those in the middle. Second: also write nothing.
  void interrupt() {
    if (stats.interrupted) {
      abort_outputs = true;
      return;
    }
    stats.interrupted = true;
    shared.stop_requested = true;
    walker->stop();
    pending.clear();
    wake_idle_workers();
  }

  void wake_idle_workers() {
    for (auto handle : idle_workers)
      ring.schedule(handle);
    idle_workers.clear();
  }

  auto wait_for_work() {
    struct Awaiter {
      Run& run;
      bool await_ready() const noexcept { return false; }
      void await_suspend(std::coroutine_handle<> waiter) { run.idle_workers.push_back(waiter); }
      void await_resume() const noexcept {}
    };
    return Awaiter{*this};
  }

  void record(const FileRecord& record) {
    // Abandoned in the middle: not done, so not in the manifest.
    if (stats.interrupted && record.status == FileStatus::failed && record.error == kInterrupted) {
      return;
    }
    LiveProgress& live = engine.live_;
    if (record.kind == "file" && record.status != FileStatus::skipped) {
      LiveProgress::add(live.files_done, 1);
      if (record.status == FileStatus::failed) LiveProgress::add(live.files_failed, 1);
      if (record.resumed) LiveProgress::add(live.bytes_done, record.size);
    }
    stats.count(record);
    manifest.add(record);
    checksums.add(record);
    if (engine.hooks_.on_file_done) engine.hooks_.on_file_done(record);
  }

  static task<void> feed(Run* run);
  static task<void> work(Run* run, std::size_t window_slots);
  static task<std::optional<FileRecord>> try_resume(Run* run, const FileEntry& entry);
  static task<void> watch_signals(Run* run);
  static task<void> stop_watching(Run* run);
  static task<Status> finish_stages(Run* run);
  static task<void> close_stages(Run* run);
};

sigset_t stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  return signals;
}

Engine::Engine(EngineOptions options, std::vector<std::unique_ptr<Stage>> stages, EngineHooks hooks)
    : options_(std::move(options)), stages_(std::move(stages)), hooks_(std::move(hooks)) {}

Engine::~Engine() = default;

std::string_view Engine::place_name(std::size_t place) const noexcept {
  switch (place) {
    case LiveProgress::kNowhere:
      return "";
    case LiveProgress::kInput:
      return "input";
    case LiveProgress::kWalk:
      return "walk";
    default:
      return place < place_count() ? stages_[place - LiveProgress::kFirstStage]->name() : "";
  }
}

std::expected<RunStats, RunError> Engine::run() {
  const auto started = std::chrono::steady_clock::now();
  const PipelineOptions& pipeline = options_.pipeline;
  if (place_count() > LiveProgress::kMaxPlaces)
    return std::unexpected(RunError{RunError::Kind::fatal, "too many stages"});

  io::RingOptions ring_options;
  ring_options.entries = std::clamp(pipeline.queue_depth * 2, 64u, 4096u);
  ring_options.max_io_workers = std::max(4u, options_.cpu_threads * 2);
  ring_options.setup = pipeline.ring_setup;
  auto ring = io::Ring::create(ring_options);
  if (!ring)
    return std::unexpected(
        RunError{RunError::Kind::fatal, "io_uring setup: " + ring.error().message()});

  std::size_t output_bytes = 0;
  std::size_t output_slot_bytes = 0;
  for (const auto& stage : stages_) {
    output_bytes = std::max(output_bytes, stage->output_buffer_bytes(pipeline.chunk_size));
    output_slot_bytes = std::max(output_slot_bytes, stage->output_buffer_bytes(kSmallSlotBytes));
  }
  // Stages with buffers of their own (upload) take their share first.
  PipelineOptions pools = pipeline;
  for (const auto& stage : stages_)
    pools.memory_limit -= std::min(pools.memory_limit / 2, stage->reserved_memory());
  const PoolSizes sizes =
      split_memory(pools, output_bytes, output_slot_bytes, options_.cpu_threads);

  io::BufferPool::Options pool_options;
  pool_options.buffer_bytes = pipeline.chunk_size;
  pool_options.count = sizes.inputs;
  // A slot for every file in flight, from the same memory: small files then share a few
  // buffers instead of touching the first page of a whole buffer each.
  pool_options.small_slot_bytes = kSmallSlotBytes;
  pool_options.small_slots = pipeline.queue_depth;
  // Registration pins (so zeroes) the whole pool up front, which cost more than it saved for
  // page-cache reads (measured: bench/RESULTS.md); O_DIRECT reads save a page pinning per I/O.
  // Only the buffers a run can hold at once are registered: the reads in flight and the chunks
  // the CPU stages work on. Pinning all 256 MiB of the default pool took a third of a 4 GiB
  // raw read here (the VM faults fresh pages in from its host); a buffer past these still
  // works, read without a registered index.
  pool_options.register_with_ring = pipeline.direct_io;
  pool_options.max_registered = pipeline.queue_depth + 4 * std::size_t{options_.cpu_threads};
  // The first reads start once 2 MiB are pinned; pinning the rest on the kernel's workers
  // overlaps them. Up front, the 72 MiB of a default O_DIRECT run took 90-130 ms here.
  pool_options.fill_in_background = true;
  auto pool = io::BufferPool::create(**ring, pool_options);
  if (!pool)
    return std::unexpected(
        RunError{RunError::Kind::fatal, "buffer pool: " + pool.error().message()});

  std::unique_ptr<io::BufferPool> output_pool;
  if (sizes.outputs > 0) {
    io::BufferPool::Options options;
    options.buffer_bytes = output_bytes;
    options.count = sizes.outputs;
    options.small_slot_bytes = output_slot_bytes;
    options.small_slots = sizes.output_slots;
    options.register_with_ring = false;
    auto created = io::BufferPool::create(**ring, options);
    if (!created)
      return std::unexpected(
          RunError{RunError::Kind::fatal, "output buffer pool: " + created.error().message()});
    output_pool = std::move(*created);
  }

  CpuPool cpu(**ring, options_.cpu_threads);
  Run run(*this, **ring, Runtime{**ring, cpu, **pool, output_pool.get(), hooks_.on_event});

  for (const auto& stage : stages_) {
    if (auto opened = stage->open_run(); !opened) {
      return std::unexpected(RunError{RunError::Kind::fatal, opened.error()});
    }
  }

  // Before the new manifest is opened: it will replace the one the index reads.
  if (options_.resume) {
    auto index = ResumeIndex::open(options_.output.manifest, options_.manifest_header.settings);
    if (index) {
      run.resume.emplace(std::move(*index));
    } else if (hooks_.on_event) {
      hooks_.on_event(index.error());
    }
  }
  if (auto opened = run.manifest.open(options_.output.manifest, options_.manifest_header);
      !opened) {
    return std::unexpected(RunError{RunError::Kind::fatal, opened.error()});
  }
  if (auto opened = run.checksums.open(options_.checksum_files); !opened) {
    run.manifest.abandon();
    return std::unexpected(RunError{RunError::Kind::fatal, opened.error()});
  }

  if (options_.handle_signals) {
    const sigset_t signals = stop_signals();
    run.signal_fd = ::signalfd(-1, &signals, SFD_CLOEXEC);
    if (run.signal_fd < 0) {
      run.manifest.abandon();
      run.checksums.abandon();
      return std::unexpected(
          RunError{RunError::Kind::fatal, std::string("signalfd: ") + std::strerror(errno)});
    }
    run.watcher_running = true;
    spawn(Run::watch_signals(&run));
  }
  run.start_walk();
  const std::size_t workers = std::max<std::size_t>(1, pipeline.queue_depth);
  const std::size_t window = read_window(pipeline, pool_options.count);
  run.feeder_running = true;
  spawn(Run::feed(&run));
  for (std::size_t i = 0; i < workers; ++i) {
    ++run.workers_running;
    spawn(Run::work(&run, window));
  }
  (*ring)->run_until([&run] { return run.workers_running == 0 && !run.feeder_running; });
  if (run.watcher_running) {
    spawn(Run::stop_watching(&run));
    (*ring)->run_until([&run] { return !run.watcher_running; });
  }
  run.walker->stop();
  run.stats.bytes_in = run.shared.bytes_in;
  for (std::size_t i = LiveProgress::kInput; i < place_count(); ++i)
    run.stats.places.push_back({std::string(place_name(i)), live_.bytes(i), live_.flow_time(i)});
  // Whatever happens next, the stages let go of what lives on the ring while it still runs.
  struct CloseStages {
    Run& run;
    ~CloseStages() { sync_wait(run.ring, Run::close_stages(&run)); }
  } close_stages{run};
  run.stats.duration = std::chrono::steady_clock::now() - started;

  if (run.abort_outputs) {
    run.manifest.abandon();
    run.checksums.abandon();
    return std::unexpected(
        RunError{RunError::Kind::interrupted, "interrupted twice: nothing was written"});
  }
  const bool nothing_found = run.stats.files_total() == 0;
  if (nothing_found && !run.stats.interrupted && options_.input.if_no_files == IfNoFiles::error) {
    run.manifest.abandon();
    run.checksums.abandon();
    return std::unexpected(RunError{RunError::Kind::no_files, "no input files matched"});
  }
  if (!run.stats.interrupted) {
    if (Status finished = sync_wait(**ring, Run::finish_stages(&run)); !finished) {
      run.manifest.abandon();
      run.checksums.abandon();
      return std::unexpected(RunError{RunError::Kind::fatal, finished.error().message});
    }
  }
  if (auto done = run.checksums.finish(options_.output.fsync); !done) {
    run.manifest.abandon();
    return std::unexpected(RunError{RunError::Kind::fatal, done.error()});
  }
  if (auto done = run.manifest.finish(run.stats, options_.output.fsync); !done) {
    return std::unexpected(RunError{RunError::Kind::fatal, done.error()});
  }
  return run.stats;
}

task<void> Engine::Run::feed(Run* run) {
  for (;;) {
    run->batch.clear();
    if (run->stats.interrupted) break;
    const Walker::Poll poll = run->walker->poll(run->batch, kWalkBatch);
    const Walker::Counts found = run->walker->counts();
    LiveProgress& live = run->engine.live_;
    live.files_found.store(found.files, std::memory_order_relaxed);
    live.bytes_found.store(found.bytes, std::memory_order_relaxed);
    live.walk_complete.store(found.complete, std::memory_order_relaxed);
    if (poll == Walker::Poll::items) {
      for (auto& entry : run->batch)
        run->pending.push_back(std::move(entry));
      run->wake_idle_workers();
      // Let the workers take these before reading more: the walk queue is the buffer.
      while (run->pending.size() > kWalkBatch)
        co_await run->wait_for_work();
      continue;
    }
    if (poll == Walker::Poll::finished) break;
    co_await run->walk_signal.wait();
  }
  run->walk_finished = true;
  run->feeder_running = false;
  run->wake_idle_workers();
}

task<void> Engine::Run::work(Run* run, std::size_t window_slots) {
  // Made for the first file: of the queue_depth workers, those a short run never feeds then
  // touch no memory for it.
  std::unique_ptr<ReadSlot[]> window;
  FlowPlace place(&run->engine.live_);
  for (;;) {
    if (run->pending.empty()) {
      if (run->walk_finished) break;
      co_await placed(place, LiveProgress::kWalk, run->wait_for_work());
      continue;
    }
    if (run->stats.interrupted) break;
    FileEntry entry = std::move(run->pending.front());
    run->pending.pop_front();
    if (run->pending.size() <= kWalkBatch) run->wake_idle_workers();
    std::optional<FileRecord> record;
    if (run->resume) record = co_await try_resume(run, entry);
    // Not a conditional expression: g++ 12 miscompiles a co_await inside one.
    if (!record) {
      if (!window) window = std::make_unique<ReadSlot[]>(window_slots);
      record = co_await process_file(&run->shared, std::span(window.get(), window_slots),
                                     std::move(entry));
    }
    run->record(*record);
  }
  --run->workers_running;
}

task<std::optional<FileRecord>> Engine::Run::try_resume(Run* run, const FileEntry& entry) {
  const auto where = run->resume->find(entry);
  if (!where) co_return std::nullopt;
  std::optional<FileRecord> previous =
      co_await run->resume->read(run->ring, *where, entry.rel_path);
  if (!previous) co_return std::nullopt;
  for (const auto& stage : run->engine.stages_) {
    if (!co_await stage->outputs_hold(*previous, run->shared.runtime)) co_return std::nullopt;
  }
  previous->resumed = true;
  if (previous->upload) {
    // Nothing was sent in this run.
    previous->upload->skipped = true;
    previous->upload->bytes = 0;
    previous->upload->attempts = 0;
  }
  co_return previous;
}

task<void> Engine::Run::watch_signals(Run* run) {
  auto bytes = std::as_writable_bytes(std::span(&run->signal_info, 1));
  for (;;) {
    run->signal_read.start(run->ring, io::TransferOp::Direction::read, run->signal_fd, bytes, 0,
                           -1);
    auto read = co_await run->signal_read;
    // Cancelled: the run is over.
    if (!read || *read != bytes.size()) break;
    run->interrupt();
  }
  run->watcher_running = false;
}

task<Status> Engine::Run::finish_stages(Run* run) {
  for (const auto& stage : run->engine.stages_) {
    if (Status status = co_await stage->finish_run(run->shared.runtime); !status) co_return status;
  }
  co_return Status{};
}

task<void> Engine::Run::close_stages(Run* run) {
  for (const auto& stage : run->engine.stages_)
    co_await stage->close_run(run->shared.runtime);
}

task<void> Engine::Run::stop_watching(Run* run) {
  (void)co_await io::Cancel(run->ring, run->signal_read);
}

}  // namespace piperun::pipeline
