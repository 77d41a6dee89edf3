// CPU work off the I/O thread: `co_await cpu.offload(fn)` runs fn() on the oneTBB arena and
// resumes the coroutine on the I/O thread (through the ring's remote queue and eventfd).
//
// Lifetimes: the awaitable lives in the awaiting frame, holds fn and the result, and is the
// job TBB runs, so an offload allocates nothing of ours. The worker touches it last when it
// posts it back to the ring: from then on the frame may already be running again.
// fn must not throw and must not touch the ring or anything owned by the I/O thread other than
// what the awaiting coroutine handed it.
#pragma once

#include <atomic>
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

// A job started now and awaited later, so that one coroutine keeps several running (the
// frames of a file being compressed). execute() runs on a worker; an awaiting coroutine resumes
// on the I/O thread. start(), done() and co_await are for the I/O thread; a started job must
// be awaited (or seen done()) before it is destroyed or started again.
class BackgroundJob : private CpuJob {
 public:
  BackgroundJob() { run = &run_on_worker; }
  BackgroundJob(const BackgroundJob&) = delete;
  BackgroundJob& operator=(const BackgroundJob&) = delete;

  void start(CpuPool& pool) {
    pool_ = &pool;
    state_.store(kRunning, std::memory_order_relaxed);
    pool.enqueue(*this);
  }
  bool done() const noexcept { return state_.load(std::memory_order_acquire) == kDone; }

  bool await_ready() const noexcept { return done(); }
  bool await_suspend(std::coroutine_handle<> waiter) noexcept {
    remote_.handle = waiter;
    int expected = kRunning;
    // Fails when the job finished in between: go on without suspending.
    return state_.compare_exchange_strong(expected, kAwaited, std::memory_order_acq_rel);
  }
  void await_resume() const noexcept {}

 protected:
  ~BackgroundJob() = default;
  virtual void execute() noexcept = 0;

 private:
  static void run_on_worker(CpuJob& job) {
    auto& self = static_cast<BackgroundJob&>(job);
    self.execute();
    // Once it is done and not awaited, the I/O thread may reuse the job: touch it no more.
    io::Ring& ring = self.pool_->ring();
    if (self.state_.exchange(kDone, std::memory_order_acq_rel) == kAwaited) ring.post(self.remote_);
  }

  static constexpr int kDone = 0;
  static constexpr int kRunning = 1;
  static constexpr int kAwaited = 2;
  CpuPool* pool_ = nullptr;
  io::RemoteWork remote_;
  std::atomic<int> state_{kDone};
};

}  // namespace piperun::pipeline
