// How many requests may be in flight to the store: starts at upload.concurrency, halves when the
// server throttles (503 SlowDown, 429) and climbs back by one per window of successes (AIMD, as
// TCP and the AWS SDKs' adaptive retry mode do).
#pragma once

#include <algorithm>
#include <coroutine>

#include "io/ring.hpp"

namespace piperun::stages::upload {

class Throttle {
 public:
  Throttle(io::Ring& ring, unsigned max) : ring_(ring), max_(std::max(1u, max)), limit_(max_) {}
  Throttle(const Throttle&) = delete;
  Throttle& operator=(const Throttle&) = delete;

  unsigned limit() const noexcept { return limit_; }

  class Slot {
   public:
    bool await_ready() noexcept {
      if (throttle_.head_ == nullptr && throttle_.in_use_ < throttle_.limit_) {
        ++throttle_.in_use_;
        return true;
      }
      return false;
    }
    void await_suspend(std::coroutine_handle<> waiter) noexcept {
      waiter_ = waiter;
      (throttle_.tail_ != nullptr ? throttle_.tail_->next_ : throttle_.head_) = this;
      throttle_.tail_ = this;
    }
    void await_resume() const noexcept {}

   private:
    friend class Throttle;
    explicit Slot(Throttle& throttle) : throttle_(throttle) {}
    Throttle& throttle_;
    std::coroutine_handle<> waiter_;
    Slot* next_ = nullptr;
  };

  Slot acquire() noexcept { return Slot(*this); }

  // After each request: whether the server asked us to slow down.
  void release(bool throttled) noexcept {
    --in_use_;
    if (throttled) {
      limit_ = std::max(1u, limit_ / 2);
      successes_ = 0;
    } else if (limit_ < max_ && ++successes_ >= limit_) {
      ++limit_;
      successes_ = 0;
    }
    while (head_ != nullptr && in_use_ < limit_) {
      Slot* next = head_;
      head_ = next->next_;
      if (head_ == nullptr) tail_ = nullptr;
      ++in_use_;
      ring_.schedule(next->waiter_);
    }
  }

 private:
  io::Ring& ring_;
  unsigned max_;
  unsigned limit_;
  unsigned in_use_ = 0;
  unsigned successes_ = 0;
  Slot* head_ = nullptr;
  Slot* tail_ = nullptr;
};

}  // namespace piperun::stages::upload
