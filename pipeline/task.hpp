// task<T>: a lazy coroutine. It starts when awaited and, when done, resumes its awaiter by
// symmetric transfer (returned from final_suspend), so long chains of tasks never grow the
// stack. Exceptions are not used for control flow: an exception escaping a task terminates.
// Results travel as values (std::expected where a step can fail).
//
// spawn() starts a task<void> that nobody awaits; it frees itself when done.
// Frames come from the frame allocator (recycled, no malloc in steady state).
#pragma once

#include <coroutine>
#include <exception>
#include <optional>
#include <utility>

#include "pipeline/frame_allocator.hpp"

namespace piperun::pipeline {

template <class T = void>
class task;

namespace detail {

struct PromiseBase {
  std::coroutine_handle<> continuation;

  static void* operator new(std::size_t bytes) { return allocate_frame(bytes); }
  static void operator delete(void* frame, std::size_t bytes) noexcept {
    deallocate_frame(frame, bytes);
  }

  std::suspend_always initial_suspend() noexcept { return {}; }

  struct FinalAwaiter {
    bool await_ready() const noexcept { return false; }
    template <class Promise>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> done) noexcept {
      std::coroutine_handle<> next = done.promise().continuation;
      return next ? next : std::noop_coroutine();
    }
    void await_resume() const noexcept {}
  };
  FinalAwaiter final_suspend() noexcept { return {}; }
  [[noreturn]] void unhandled_exception() noexcept { std::terminate(); }
};

template <class T>
struct Promise : PromiseBase {
  std::optional<T> value;
  task<T> get_return_object() noexcept;
  template <class U>
  void return_value(U&& result) {
    value.emplace(std::forward<U>(result));
  }
  T take() { return std::move(*value); }
};

template <>
struct Promise<void> : PromiseBase {
  task<void> get_return_object() noexcept;
  void return_void() noexcept {}
  void take() noexcept {}
};

}  // namespace detail

template <class T>
class [[nodiscard]] task {
 public:
  using promise_type = detail::Promise<T>;

  task() = default;
  explicit task(std::coroutine_handle<promise_type> handle) : handle_(handle) {}
  task(task&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  task& operator=(task&& other) noexcept {
    if (this != &other) {
      if (handle_) handle_.destroy();
      handle_ = std::exchange(other.handle_, {});
    }
    return *this;
  }
  task(const task&) = delete;
  task& operator=(const task&) = delete;
  ~task() {
    if (handle_) handle_.destroy();
  }

  auto operator co_await() && noexcept {
    struct Awaiter {
      std::coroutine_handle<promise_type> handle;
      bool await_ready() const noexcept { return false; }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept {
        handle.promise().continuation = awaiting;
        return handle;  // start the task by symmetric transfer
      }
      T await_resume() { return handle.promise().take(); }
    };
    return Awaiter{handle_};
  }

 private:
  std::coroutine_handle<promise_type> handle_;
};

namespace detail {
template <class T>
task<T> Promise<T>::get_return_object() noexcept {
  return task<T>(std::coroutine_handle<Promise<T>>::from_promise(*this));
}
inline task<void> Promise<void>::get_return_object() noexcept {
  return task<void>(std::coroutine_handle<Promise<void>>::from_promise(*this));
}

// Runs eagerly and frees itself at the end.
struct Detached {
  struct promise_type {
    static void* operator new(std::size_t bytes) { return allocate_frame(bytes); }
    static void operator delete(void* frame, std::size_t bytes) noexcept {
      deallocate_frame(frame, bytes);
    }
    Detached get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    [[noreturn]] void unhandled_exception() noexcept { std::terminate(); }
  };
};
}  // namespace detail

// Starts `work` now; it runs until its first suspension before spawn() returns.
inline detail::Detached spawn(task<void> work) {
  co_await std::move(work);
}

}  // namespace piperun::pipeline
