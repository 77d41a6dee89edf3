// CPU work off the I/O thread: `co_await cpu.offload(fn)` runs fn() on the oneTBB arena and
// resumes the coroutine on the I/O thread (through the ring's remote queue and eventfd).
//
// Lifetimes: the awaitable lives in the awaiting frame, holds fn and the result, and is the
// job TBB runs, so an offload allocates nothing of ours. The worker touches it last when it
// posts it back to the ring: from then on the frame may already be running again.
// fn must not throw and must not touch the ring or anything owned by the I/O thread other than
// what the awaiting coroutine handed it.
#pragma once

#include <coroutine>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "io/remote_queue.hpp"
#include "io/ring.hpp"

namespace piperun::pipeline {

struct CpuJob {
  void (*run)(CpuJob& self) = nullptr;
};

class CpuPool {
 public:
  // `threads` workers (at least 1) in their own arena.
  CpuPool(io::Ring& ring, unsigned threads);
  ~CpuPool();
  CpuPool(const CpuPool&) = delete;
  CpuPool& operator=(const CpuPool&) = delete;

  unsigned threads() const noexcept { return threads_; }
  io::Ring& ring() noexcept { return ring_; }

  // Any thread. The job runs on a worker; `job` must stay alive until it has run.
  void enqueue(CpuJob& job);

  template <class Fn>
  class Offload;

  template <class Fn>
  Offload<Fn> offload(Fn fn) {
    return Offload<Fn>(*this, std::move(fn));
  }

 private:
  struct Arena;
  io::Ring& ring_;
  unsigned threads_;
  std::unique_ptr<Arena> arena_;
};

template <class Fn>
class CpuPool::Offload : private CpuJob {
  using Result = std::invoke_result_t<Fn&>;
  static constexpr bool kVoid = std::is_void_v<Result>;

 public:
  Offload(CpuPool& pool, Fn fn) : pool_(&pool), fn_(std::move(fn)) { run = &run_on_worker; }
  Offload(const Offload&) = delete;
  Offload& operator=(const Offload&) = delete;

  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> waiter) {
    remote_.handle = waiter;
    pool_->enqueue(*this);  // last: the frame may resume before enqueue returns
  }
  Result await_resume() {
    if constexpr (!kVoid) return std::move(*result_);
  }

 private:
  static void run_on_worker(CpuJob& job) {
    auto& self = static_cast<Offload&>(job);
    if constexpr (kVoid) {
      self.fn_();
    } else {
      self.result_.emplace(self.fn_());
    }
    io::Ring& ring = self.pool_->ring();
    ring.post(self.remote_);
  }

  CpuPool* pool_;
  Fn fn_;
  io::RemoteWork remote_;
  struct Empty {};
  [[no_unique_address]] std::conditional_t<kVoid, Empty, std::optional<Result>> result_;
};

}  // namespace piperun::pipeline
