// A budget of bytes shared by coroutines on the I/O thread: `co_await budget.acquire(n)` waits,
// first come first served, until n bytes are free. Holders never wait for more while they hold
// (they release what they have first, or their holdings complete without the budget), so the
// oldest waiter always gets its bytes in the end.
#pragma once

#include <coroutine>
#include <cstdint>

#include "io/ring.hpp"

namespace piperun::pipeline {

class ByteBudget {
 public:
  ByteBudget(io::Ring& ring, std::uint64_t total) : ring_(ring), total_(total), free_(total) {}
  ByteBudget(const ByteBudget&) = delete;
  ByteBudget& operator=(const ByteBudget&) = delete;

  std::uint64_t total() const noexcept { return total_; }

  class Acquire {
   public:
    bool await_ready() noexcept {
      if (budget_.head_ == nullptr && budget_.free_ >= bytes_) {
        budget_.free_ -= bytes_;
        return true;
      }
      return false;
    }
    void await_suspend(std::coroutine_handle<> waiter) noexcept {
      waiter_ = waiter;
      (budget_.tail_ != nullptr ? budget_.tail_->next_ : budget_.head_) = this;
      budget_.tail_ = this;
    }
    void await_resume() const noexcept {}

   private:
    friend class ByteBudget;
    Acquire(ByteBudget& budget, std::uint64_t bytes) : budget_(budget), bytes_(bytes) {}
    ByteBudget& budget_;
    std::uint64_t bytes_;
    std::coroutine_handle<> waiter_;
    Acquire* next_ = nullptr;
  };

  // `bytes` must not exceed total().
  Acquire acquire(std::uint64_t bytes) noexcept { return Acquire(*this, bytes); }

  void release(std::uint64_t bytes) noexcept {
    free_ += bytes;
    while (head_ != nullptr && head_->bytes_ <= free_) {
      Acquire* next = head_;
      head_ = next->next_;
      if (head_ == nullptr) tail_ = nullptr;
      free_ -= next->bytes_;
      ring_.schedule(next->waiter_);
    }
  }

 private:
  io::Ring& ring_;
  std::uint64_t total_;
  std::uint64_t free_;
  Acquire* head_ = nullptr;
  Acquire* tail_ = nullptr;
};

}  // namespace piperun::pipeline
