// The event loop: one io_uring ring and the coroutines it resumes.
//
// Threading: everything here runs on the I/O thread that created the Ring, except post(),
// which any thread may call to have a coroutine resumed on the I/O thread.
//
// Invariants:
//  - At most `max_in_flight()` operations are in the kernel at once (the CQ's size), so the
//    completion queue can never overflow; the rest wait in a parked list, in order.
//  - Completions are copied out of the CQ before any continuation runs ("reap first, resume
//    after"), so a continuation that submits more work never re-enters the scan.
//  - An eventfd read is kept armed in the ring; post() writes the eventfd only when the loop is
//    about to sleep, so a busy loop pays no syscall per hand-off.
//  - The destructor cancels whatever is still in flight and waits for every completion: no
//    buffer is still the kernel's once the Ring is gone.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <system_error>
#include <vector>

#include <liburing.h>

#include "io/fault_injection.hpp"
#include "io/operation.hpp"
#include "io/remote_queue.hpp"
#include "io/ring_setup.hpp"

namespace piperun::io {

struct RingOptions {
  unsigned entries = 256;  // SQ size; the CQ gets twice as many
  RingSetup setup = RingSetup::automatic;
  unsigned max_io_workers = 0;  // cap on io-wq workers per kind; 0 = kernel default
  // One io_uring_enter per operation instead of one per loop step: only to measure what
  // batching saves.
  bool submit_each = false;
};

class Ring {
 public:
  static std::expected<std::unique_ptr<Ring>, std::error_code> create(const RingOptions& options);
  ~Ring();
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  // --- I/O thread ---

  // Hands `op` to the kernel now, or parks it until there is room. Never blocks.
  void submit(Operation& op);
  // Resumes `handle` from the loop, after the current step (never inline).
  void schedule(std::coroutine_handle<> handle);

  // One step of the loop: resume what is ready, submit, reap completions. Waits for at least one
  // event (a completion or a post()) when `wait` is true and nothing is ready.
  void step(bool wait);

  // Runs steps until `done()` is true.
  template <class Done>
  void run_until(Done&& done) {
    while (!done())
      step(true);
  }

  // Cancels every operation in flight (their coroutines see -ECANCELED) and reaps until none is.
  void cancel_all();

  io_uring* native() noexcept { return &ring_; }
  unsigned in_flight() const noexcept { return in_flight_; }
  unsigned max_in_flight() const noexcept { return max_in_flight_; }

  // --- any thread ---

  // Resumes work.handle on the I/O thread. After the call, `work` belongs to the ring. The ring
  // must exist when post() is called; it may be destroyed as soon as the work has run (the
  // destructor waits for post() to return).
  void post(RemoteWork& work) noexcept;

 private:
  Ring() = default;
  bool prepare_into_sqe(Operation& op);
  void drain_parked();
  void drain_remote();
  bool run_ready();  // true when it resumed anything
  void reap();
  void flush_submissions(bool wait);
  void arm_wakeup();

  struct WakeupOp : Operation {
    Ring* ring = nullptr;
  };

  // --- owned by the I/O thread ---
  io_uring ring_{};
  bool ring_ready_ = false;
  bool defer_taskrun_ = false;
  bool submit_each_ = false;
  unsigned in_flight_ = 0;
  unsigned max_in_flight_ = 0;
  Operation* parked_head_ = nullptr;
  Operation* parked_tail_ = nullptr;
  std::vector<std::coroutine_handle<>> ready_;
  std::vector<std::coroutine_handle<>> running_;
  std::vector<io_uring_cqe> reaped_;
  int wakeup_fd_ = -1;
  std::uint64_t wakeup_value_ = 0;
  WakeupOp wakeup_op_{};
  bool stopping_ = false;
  std::optional<FaultInjector> faults_;  // the test hook; empty in normal runs

  // --- shared with other threads ---
  RemoteQueue remote_;
  std::atomic<bool> sleeping_{false};
  std::atomic<unsigned> posters_{0};  // post() calls under way
};

}  // namespace piperun::io
