// One waiting coroutine, woken by another on the I/O thread: through the ring, never inline,
// so the waker goes on with its own work first.
#pragma once

#include <coroutine>
#include <utility>

#include "io/ring.hpp"

namespace piperun::pipeline {

class Wakeup {
 public:
  auto wait() noexcept {
    struct Awaiter {
      Wakeup& wakeup;
      bool await_ready() const noexcept { return false; }
      void await_suspend(std::coroutine_handle<> waiter) noexcept { wakeup.waiter_ = waiter; }
      void await_resume() const noexcept {}
    };
    return Awaiter{*this};
  }
  void notify(io::Ring& ring) {
    if (waiter_) ring.schedule(std::exchange(waiter_, {}));
  }

 private:
  std::coroutine_handle<> waiter_;
};

}  // namespace piperun::pipeline
