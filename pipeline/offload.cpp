#include "pipeline/offload.hpp"

#include <algorithm>

#include <tbb/global_control.h>
#include <tbb/task_arena.h>

namespace piperun::pipeline {

struct CpuPool::Arena {
  explicit Arena(unsigned threads)
      // TBB's default worker count assumes the calling thread works too (CPUs - 1); ours never
      // joins the arena, so allow one more.
      : parallelism(tbb::global_control::max_allowed_parallelism, threads + 1),
        // No slot reserved for a master thread.
        arena(static_cast<int>(threads), 0) {}
  tbb::global_control parallelism;
  tbb::task_arena arena;
};

CpuPool::CpuPool(io::Ring& ring, unsigned threads)
    : ring_(ring), threads_(std::max(threads, 1u)), arena_(std::make_unique<Arena>(threads_)) {
  arena_->arena.initialize();
}

CpuPool::~CpuPool() = default;

void CpuPool::enqueue(CpuJob& job) {
  CpuJob* target = &job;
  arena_->arena.enqueue([target] { target->run(*target); });
}

}  // namespace piperun::pipeline
