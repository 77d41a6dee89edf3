// The progress display of a run: a thread that samples the engine's LiveProgress ten times a
// second and draws a live line on a terminal (redrawn at most ten times a second) or, for logs,
// a plain line every interval. It never touches the I/O thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "cli/console.hpp"

namespace piperun::pipeline {
class Engine;
}

namespace piperun::cli {

class ProgressDisplay {
 public:
  enum class Style { live, plain };
  static constexpr std::chrono::milliseconds kTick{100};

  // Starts the thread; `engine` and `console` must outlive stop().
  ProgressDisplay(const pipeline::Engine& engine, Console& console, Style style,
                  std::chrono::milliseconds plain_interval);
  ~ProgressDisplay() { stop(); }
  ProgressDisplay(const ProgressDisplay&) = delete;
  ProgressDisplay& operator=(const ProgressDisplay&) = delete;

  // Joins the thread and erases the live line; idempotent.
  void stop();

 private:
  void run();

  const pipeline::Engine& engine_;
  Console& console_;
  const Style style_;
  const std::chrono::milliseconds plain_interval_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace piperun::cli
