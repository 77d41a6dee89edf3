#include "cli/progress_display.hpp"

#include <array>
#include <deque>
#include <sys/ioctl.h>
#include <unistd.h>
#include <utility>

#include "cli/progress_line.hpp"
#include "pipeline/engine.hpp"

namespace piperun::cli {
namespace {

using Clock = std::chrono::steady_clock;
using pipeline::LiveProgress;

// The rate is taken over this much of the recent past: long enough to smooth the bursts of a
// read window, short enough to follow a change of file sizes.
constexpr std::chrono::seconds kRateWindow{3};
// Weight of the newest sample in the average of waiting files (at 10 samples a second, about
// half a second of memory).
constexpr double kWaitWeight = 0.2;

std::size_t terminal_width() {
  winsize size{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 1) return size.ws_col - 1;
  return 79;  // the last column would wrap on some terminals
}

// What the display remembers between samples.
class Sampler {
 public:
  explicit Sampler(const pipeline::Engine& engine) : engine_(engine), started_(Clock::now()) {}

  ProgressSample sample() {
    const LiveProgress& live = engine_.progress();
    const auto now = Clock::now();
    ProgressSample sample;
    sample.files_done = live.files_done.load(std::memory_order_relaxed);
    sample.files_failed = live.files_failed.load(std::memory_order_relaxed);
    sample.bytes_done = live.bytes_done.load(std::memory_order_relaxed);
    sample.walk_complete = live.walk_complete.load(std::memory_order_relaxed);
    sample.files_found =
        std::max(live.files_found.load(std::memory_order_relaxed), sample.files_done);
    sample.bytes_found =
        std::max(live.bytes_found.load(std::memory_order_relaxed), sample.bytes_done);
    sample.elapsed = now - started_;

    history_.emplace_back(now, sample.bytes_done);
    while (history_.size() > 2 && now - history_[1].first >= kRateWindow)
      history_.pop_front();
    const auto& [then, bytes_then] = history_.front();
    const double seconds = std::chrono::duration<double>(now - then).count();
    if (seconds > 0)
      sample.bytes_per_second = static_cast<double>(sample.bytes_done - bytes_then) / seconds;

    // A tie goes to the later place: an earlier stage waits on the backpressure of a later one.
    std::size_t limit = LiveProgress::kNowhere;
    double most = 0;
    for (std::size_t place = LiveProgress::kInput; place < engine_.place_count(); ++place) {
      waiting_[place] = (1 - kWaitWeight) * waiting_[place] + kWaitWeight * live.waiting(place);
      if (waiting_[place] >= most && waiting_[place] > 0.05) {
        most = waiting_[place];
        limit = place;
      }
    }
    sample.limit = engine_.place_name(limit);
    return sample;
  }

 private:
  const pipeline::Engine& engine_;
  const Clock::time_point started_;
  std::deque<std::pair<Clock::time_point, std::uint64_t>> history_;
  std::array<double, LiveProgress::kMaxPlaces> waiting_{};
};

}  // namespace

ProgressDisplay::ProgressDisplay(const pipeline::Engine& engine, Console& console, Style style,
                                 std::chrono::milliseconds plain_interval)
    : engine_(engine), console_(console), style_(style), plain_interval_(plain_interval) {
  thread_ = std::thread([this] { run(); });
}

void ProgressDisplay::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  console_.clear_live();
}

void ProgressDisplay::run() {
  Sampler sampler(engine_);
  auto next_plain = Clock::now() + plain_interval_;
  std::unique_lock lock(mutex_);
  for (;;) {
    if (wake_.wait_for(lock, kTick, [this] { return stopping_; })) return;
    lock.unlock();
    const ProgressSample sample = sampler.sample();
    if (style_ == Style::live) {
      console_.draw_live(format_live_progress(sample, terminal_width()));
    } else if (Clock::now() >= next_plain) {
      console_.line(format_plain_progress(sample));
      next_plain += plain_interval_;
    }
    lock.lock();
  }
}

}  // namespace piperun::cli
