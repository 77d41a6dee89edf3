#include "bench/command/progress_line.hpp"

#include <cstdio>

#include <fmt/core.h>

namespace piperun::bench {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

ProgressLine::~ProgressLine() {
  if (drawn_) fmt::print(stderr, "\n");
}

void ProgressLine::start(std::string_view what) {
  what_ = what;
  started_ = last_draw_ = Clock::now();
  if (terminal_) {
    fmt::print(stderr, "\r\033[Kpipe-run bench: {} ...", what_);
    drawn_ = true;
  } else {
    fmt::print(stderr, "pipe-run bench: {} ...\n", what_);
  }
  std::fflush(stderr);
}

void ProgressLine::update(double fraction) {
  if (!terminal_ || Clock::now() - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = Clock::now();
  fmt::print(stderr, "\r\033[Kpipe-run bench: {} {:3.0f}% ({:.1f} s)", what_, 100 * fraction,
             seconds_since(started_));
  std::fflush(stderr);
}

void ProgressLine::finish(std::string_view result) {
  fmt::print(stderr, "{}pipe-run bench: {}: {} ({:.1f} s)\n", terminal_ ? "\r\033[K" : "", what_,
             result, seconds_since(started_));
  drawn_ = false;
  std::fflush(stderr);
}

}  // namespace piperun::bench
