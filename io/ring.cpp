#include "io/ring.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <span>
#include <sys/eventfd.h>
#include <thread>
#include <unistd.h>
#include <utility>

namespace piperun::io {
namespace {

constexpr unsigned kReapBatch = 256;

constexpr unsigned kDefer = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
constexpr unsigned kCoop = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN;
constexpr unsigned kSqpoll = IORING_SETUP_SQPOLL | IORING_SETUP_SINGLE_ISSUER;
constexpr unsigned kSqpollIdleMs = 50;

// Flag sets to try, best first. Automatic: DEFER_TASKRUN runs completion work only when we ask
// for events, which suits a loop that always ends in io_uring_enter; kernels before 6.1 refuse
// it (EINVAL), and then the next set is tried. An explicit choice is that set or an error.
std::span<const unsigned> setup_flags(RingSetup setup) {
  static constexpr std::array<unsigned, 3> kAutomatic{kDefer, kCoop, 0};
  static constexpr std::array<unsigned, 1> kDeferOnly{kDefer};
  static constexpr std::array<unsigned, 1> kCoopOnly{kCoop};
  static constexpr std::array<unsigned, 1> kPlain{0};
  static constexpr std::array<unsigned, 1> kSqpollOnly{kSqpoll};
  switch (setup) {
    case RingSetup::automatic:
      return kAutomatic;
    case RingSetup::defer_taskrun:
      return kDeferOnly;
    case RingSetup::coop_taskrun:
      return kCoopOnly;
    case RingSetup::plain:
      return kPlain;
    case RingSetup::sqpoll:
      return kSqpollOnly;
  }
  return kAutomatic;
}

}  // namespace

std::expected<std::unique_ptr<Ring>, std::error_code> Ring::create(const RingOptions& options) {
  std::unique_ptr<Ring> ring(new Ring());
  int result = -EINVAL;
  // Unprivileged users pay for the ring's memory from RLIMIT_MEMLOCK, shared by all their
  // processes: when it is short (ENOMEM), a smaller ring still works.
  for (unsigned entries = options.entries; entries >= 8; entries /= 2) {
    for (unsigned flags : setup_flags(options.setup)) {
      io_uring_params params{};
      params.flags = flags | IORING_SETUP_CQSIZE;
      params.cq_entries = entries * 2;
      params.sq_thread_idle = kSqpollIdleMs;
      result = io_uring_queue_init_params(entries, &ring->ring_, &params);
      if (result == 0) {
        ring->defer_taskrun_ = (flags & IORING_SETUP_DEFER_TASKRUN) != 0;
        ring->max_in_flight_ = params.cq_entries;
        break;
      }
      // EINVAL: this kernel does not know these flags; try the next set.
      if (result != -EINVAL) break;
    }
    if (result != -ENOMEM) break;
  }
  if (result != 0) return std::unexpected(std::error_code(-result, std::system_category()));
  ring->ring_ready_ = true;
  ring->submit_each_ = options.submit_each;
  auto faults = FaultInjector::from_environment();
  if (!faults) {
    std::fprintf(stderr, "pipe-run: %s\n", faults.error().c_str());
    return std::unexpected(std::make_error_code(std::errc::invalid_argument));
  }
  ring->faults_ = *faults;

  if (options.max_io_workers > 0) {
    unsigned limits[2] = {options.max_io_workers, options.max_io_workers};
    // A cap is an optimisation: a kernel that refuses it still works.
    (void)io_uring_register_iowq_max_workers(&ring->ring_, limits);
  }

  // A blocking eventfd: io_uring polls it instead of parking an io-wq worker on the read.
  ring->wakeup_fd_ = ::eventfd(0, EFD_CLOEXEC);
  if (ring->wakeup_fd_ < 0) return std::unexpected(std::error_code(errno, std::system_category()));
  ring->reaped_.resize(ring->max_in_flight_);
  ring->arm_wakeup();
  return ring;
}

Ring::~Ring() {
  if (!ring_ready_) return;
  cancel_all();
  // The work a post() handed over may have run already, and its poster still be reading
  // sleeping_ or writing the eventfd: wait for it before they go.
  while (posters_.load(std::memory_order_acquire) != 0)
    std::this_thread::yield();
  io_uring_queue_exit(&ring_);
  if (wakeup_fd_ >= 0) ::close(wakeup_fd_);
}

void Ring::submit(Operation& op) {
  // Parked operations go first, so submission order is kept.
  if (parked_head_ == nullptr && prepare_into_sqe(op)) return;
  op.next_parked = nullptr;
  if (parked_tail_ != nullptr) {
    parked_tail_->next_parked = &op;
  } else {
    parked_head_ = &op;
  }
  parked_tail_ = &op;
}

void Ring::schedule(std::coroutine_handle<> handle) {
  ready_.push_back(handle);
}

bool Ring::prepare_into_sqe(Operation& op) {
  if (in_flight_ >= max_in_flight_) return false;
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) {
    // The SQ is full: hand it to the kernel, then take a fresh entry.
    flush_submissions(false);
    sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) return false;
  }
  op.prepare(op, *sqe);
  if (faults_ && !op.fault_exempt) op.injected_result = faults_->on_submit(sqe->opcode);
  io_uring_sqe_set_data(sqe, &op);
  ++in_flight_;
  if (submit_each_) flush_submissions(false);
  return true;
}

void Ring::drain_parked() {
  while (parked_head_ != nullptr) {
    Operation* op = parked_head_;
    Operation* next = op->next_parked;
    if (!prepare_into_sqe(*op)) return;
    parked_head_ = next;
    if (parked_head_ == nullptr) parked_tail_ = nullptr;
  }
}

void Ring::drain_remote() {
  for (RemoteWork* work = remote_.take_all(); work != nullptr;) {
    // Read the link before resuming: the node lives in the frame that is about to run.
    RemoteWork* next = work->next;
    ready_.push_back(work->handle);
    work = next;
  }
}

bool Ring::run_ready() {
  // Handles scheduled while running go to the next step, so one busy coroutine cannot starve
  // the completion queue.
  running_.swap(ready_);
  for (std::coroutine_handle<> handle : running_)
    handle.resume();
  const bool resumed = !running_.empty();
  running_.clear();
  return resumed;
}

void Ring::flush_submissions(bool wait) {
  int result;
  do {
    if (wait) {
      result = io_uring_submit_and_wait(&ring_, 1);
    } else if (defer_taskrun_) {
      result = io_uring_submit_and_get_events(&ring_);
    } else {
      result = io_uring_submit(&ring_);
    }
    // EINTR: a signal arrived while we waited; nothing was lost, enter again.
  } while (result == -EINTR);
  // EAGAIN/EBUSY: the kernel is short of memory or holds overflowed completions; the caller
  // reaps next, which frees room, and the unsubmitted entries stay in the SQ for the next call.
}

void Ring::reap() {
  // At most max_in_flight_ completions can be waiting, which is reaped_'s size.
  unsigned total = 0;
  while (total < reaped_.size()) {
    std::array<io_uring_cqe*, kReapBatch> cqes;
    const auto room =
        static_cast<unsigned>(std::min<std::size_t>(kReapBatch, reaped_.size() - total));
    const unsigned count = io_uring_peek_batch_cqe(&ring_, cqes.data(), room);
    if (count == 0) break;
    for (unsigned i = 0; i < count; ++i)
      reaped_[total + i] = *cqes[i];
    io_uring_cq_advance(&ring_, count);
    total += count;
    if (count < room) break;  // the CQ is empty
  }
  in_flight_ -= total;
  for (unsigned i = 0; i < total; ++i) {
    auto* op = reinterpret_cast<Operation*>(static_cast<std::uintptr_t>(reaped_[i].user_data));
    const int result =
        op->injected_result != 0 ? std::exchange(op->injected_result, 0) : reaped_[i].res;
    op->complete(*op, result, reaped_[i].flags);
  }
}

void Ring::step(bool wait) {
  drain_remote();
  // Whatever ran may have finished what the caller waits for: let it look before we sleep.
  const bool resumed = run_ready();
  drain_parked();
  bool may_sleep = wait && !resumed && ready_.empty() && parked_head_ == nullptr;
  if (may_sleep) {
    // Pairs with post(): either the poster sees sleeping_ and writes the eventfd, or we see
    // its work here and do not sleep.
    sleeping_.store(true, std::memory_order_seq_cst);
    if (!remote_.empty()) may_sleep = false;
  }
  flush_submissions(may_sleep);
  sleeping_.store(false, std::memory_order_relaxed);
  reap();
}

void Ring::post(RemoteWork& work) noexcept {
  // Counted before the push, after which the I/O thread may resume the work, finish and destroy
  // the ring while this call still uses it; the destructor waits for the count to drop.
  posters_.fetch_add(1, std::memory_order_relaxed);
  remote_.push(work);
  if (sleeping_.exchange(false, std::memory_order_seq_cst)) {
    const std::uint64_t one = 1;
    // A failed write would leave the loop asleep; eventfd writes only fail on counter overflow,
    // which 2^64 wake-ups cannot reach.
    [[maybe_unused]] ssize_t written = ::write(wakeup_fd_, &one, sizeof one);
  }
  posters_.fetch_sub(1, std::memory_order_release);  // last touch of the ring
}

void Ring::arm_wakeup() {
  wakeup_op_.ring = this;
  wakeup_op_.fault_exempt = true;
  wakeup_op_.prepare = [](Operation& self, io_uring_sqe& sqe) {
    Ring& ring = *static_cast<WakeupOp&>(self).ring;
    io_uring_prep_read(&sqe, ring.wakeup_fd_, &ring.wakeup_value_, sizeof ring.wakeup_value_, 0);
  };
  wakeup_op_.complete = [](Operation& self, int, std::uint32_t) {
    Ring& ring = *static_cast<WakeupOp&>(self).ring;
    // Whatever the result, posted work is drained at the start of the next step; keep the read
    // armed unless we are shutting down.
    if (ring.stopping_) return;
    ring.submit(ring.wakeup_op_);
  };
  submit(wakeup_op_);
}

void Ring::cancel_all() {
  stopping_ = true;
  struct CancelOp : Operation {
    bool in_flight = false;
  } cancel_op;
  cancel_op.prepare = [](Operation&, io_uring_sqe& sqe) {
    io_uring_prep_cancel64(&sqe, 0, IORING_ASYNC_CANCEL_ANY);
  };
  cancel_op.complete = [](Operation& self, int, std::uint32_t) {
    static_cast<CancelOp&>(self).in_flight = false;
  };
  for (;;) {
    // Parked operations never reached the kernel: complete them as cancelled.
    while (parked_head_ != nullptr) {
      Operation* op = parked_head_;
      parked_head_ = op->next_parked;
      if (parked_head_ == nullptr) parked_tail_ = nullptr;
      op->complete(*op, -ECANCELED, 0);
    }
    run_ready();
    if (in_flight_ == 0 && ready_.empty() && parked_head_ == nullptr) break;
    // One cancel covers everything in flight when it is issued; continuations may submit more,
    // which the next round cancels.
    if (!cancel_op.in_flight && in_flight_ > 0 && prepare_into_sqe(cancel_op)) {
      cancel_op.in_flight = true;
    }
    // A cancelled operation completes only when its own CQE arrives: until then its buffer is
    // still the kernel's, so wait for every one.
    if (in_flight_ > 0) flush_submissions(true);
    reap();
  }
}

}  // namespace piperun::io
