// Runs a task to completion on the ring, from outside any coroutine (main, tests).
#pragma once

#include <optional>
#include <utility>

#include "io/ring.hpp"
#include "pipeline/task.hpp"

namespace piperun::pipeline {

namespace detail {
template <class T>
task<void> store_result(task<T> work, std::optional<T>* out, bool* done) {
  out->emplace(co_await std::move(work));
  *done = true;
}
inline task<void> mark_done(task<void> work, bool* done) {
  co_await std::move(work);
  *done = true;
}
}  // namespace detail

template <class T>
T sync_wait(io::Ring& ring, task<T> work) {
  bool done = false;
  if constexpr (std::is_void_v<T>) {
    spawn(detail::mark_done(std::move(work), &done));
    ring.run_until([&done] { return done; });
  } else {
    std::optional<T> result;
    spawn(detail::store_result(std::move(work), &result, &done));
    ring.run_until([&done] { return done; });
    return std::move(*result);
  }
}

}  // namespace piperun::pipeline
