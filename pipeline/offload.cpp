#include "pipeline/offload.hpp"

#include <algorithm>
#include <mutex>
#include <optional>

#include <tbb/global_control.h>
#include <tbb/task_arena.h>

// The tsan preset compiles this file without ThreadSanitizer's instrumentation, like libtbb
// (CMakeLists.txt), so TSan sees neither oneTBB's task objects nor the queue that orders what
// the enqueuing thread wrote to a job before the worker runs it: enqueue() tells it that order.
#if defined(PIPE_RUN_TSAN_HANDOFF)
#include <sanitizer/tsan_interface.h>
#endif

namespace piperun::pipeline {

// oneTBB starts on the first enqueue: starting it costs 2-3 ms (the global_control loads
// libtbbmalloc; the arena looks for libirml and libiomp5), which a run that never offloads (raw
// reads, small files hashed inline) then does not pay.
struct CpuPool::Arena {
  explicit Arena(unsigned worker_threads) : threads(worker_threads) {}
  tbb::task_arena& started() {
    std::call_once(start, [this] {
      // TBB's default worker count assumes the calling thread works too (CPUs - 1); ours never
      // joins the arena, so allow one more.
      parallelism.emplace(tbb::global_control::max_allowed_parallelism, threads + 1);
      // No slot reserved for a master thread.
      arena.emplace(static_cast<int>(threads), 0);
    });
    return *arena;
  }
  unsigned threads;
  std::once_flag start;
  std::optional<tbb::global_control> parallelism;  // destroyed after the arena
  std::optional<tbb::task_arena> arena;
};

CpuPool::CpuPool(io::Ring& ring, unsigned threads)
    : ring_(ring), threads_(std::max(threads, 1u)), arena_(std::make_unique<Arena>(threads_)) {}

CpuPool::~CpuPool() = default;

void CpuPool::enqueue(CpuJob& job) {
  CpuJob* target = &job;
#if defined(PIPE_RUN_TSAN_HANDOFF)
  __tsan_release(target);
#endif
  arena_->started().enqueue([target] {
#if defined(PIPE_RUN_TSAN_HANDOFF)
    __tsan_acquire(target);
#endif
    target->run(*target);
  });
}

}  // namespace piperun::pipeline
