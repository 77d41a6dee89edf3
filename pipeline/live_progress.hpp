// What a run has done so far and where its files wait now, for a progress display that samples
// it from another thread, and for the summary's time per stage.
//
// Threads: the I/O thread is the only writer (plain load + store on relaxed atomics: no locked
// instruction in the hot path); any thread may read. A reader sees each counter on its own,
// not a consistent snapshot, which a display redrawn ten times a second does not need.
//
// Places: every file flow waits at one co_await at a time: on input I/O (open, statx, reads,
// close), on the walk (a worker with no file while the walk goes on), or inside a stage (its
// CPU work, its writes, its requests). The place where most flows wait is what limits the run
// now. A stage that feeds the stages after it from a coroutine of its own (compress) waits for
// them there as a second waiter of the same file; so a tie goes to the later place, whose
// backpressure the earlier one feels. The integral of waiters over time (flow-seconds) per
// place says where the files spent the run.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>

namespace piperun::pipeline {

class LiveProgress {
 public:
  enum Place : std::size_t { kNowhere = 0, kInput = 1, kWalk = 2, kFirstStage = 3 };
  static constexpr std::size_t kMaxPlaces = 8;  // up to five stages

  // The walk: regular files found and their bytes; complete once the walk has ended.
  std::atomic<std::uint64_t> files_found{0};
  std::atomic<std::uint64_t> bytes_found{0};
  std::atomic<bool> walk_complete{false};
  // Regular files done (ok or failed); input bytes that went through every stage (StageChain),
  // or that a resumed file accounts for.
  std::atomic<std::uint64_t> files_done{0};
  std::atomic<std::uint64_t> files_failed{0};
  std::atomic<std::uint64_t> bytes_done{0};

  // I/O thread.
  static void add(std::atomic<std::uint64_t>& counter, std::uint64_t amount) {
    counter.store(counter.load(std::memory_order_relaxed) + amount, std::memory_order_relaxed);
  }
  // A flow leaves `from` for `to`.
  void move(std::size_t from, std::size_t to) {
    if (from == to) return;
    const auto now = Clock::now();
    change(from, now, -1);
    change(to, now, +1);
  }
  // Bytes a place was handed (a stage's input; the reads' for kInput).
  void count_bytes(std::size_t place, std::uint64_t bytes) { add(bytes_[place], bytes); }

  // Any thread.
  std::uint32_t waiting(std::size_t place) const {
    return waiting_[place].load(std::memory_order_relaxed);
  }
  std::uint64_t bytes(std::size_t place) const {
    return bytes_[place].load(std::memory_order_relaxed);
  }
  // Flow-seconds spent waiting in `place`. Exact once the run is over; during the run it lags
  // by the time since the place's last change.
  std::chrono::nanoseconds flow_time(std::size_t place) const {
    return std::chrono::nanoseconds(flow_ns_[place].load(std::memory_order_relaxed));
  }

 private:
  using Clock = std::chrono::steady_clock;
  void change(std::size_t place, Clock::time_point now, int by) {
    if (place == kNowhere) return;
    const std::uint32_t before = waiting_[place].load(std::memory_order_relaxed);
    if (before > 0) {
      const auto span = std::chrono::duration_cast<std::chrono::nanoseconds>(now - last_[place]);
      add(flow_ns_[place], static_cast<std::uint64_t>(span.count()) * before);
    }
    last_[place] = now;
    waiting_[place].store(before + by, std::memory_order_relaxed);
  }

  std::array<std::atomic<std::uint32_t>, kMaxPlaces> waiting_{};
  std::array<std::atomic<std::uint64_t>, kMaxPlaces> bytes_{};
  std::array<std::atomic<std::uint64_t>, kMaxPlaces> flow_ns_{};
  std::array<Clock::time_point, kMaxPlaces> last_{};  // I/O thread only
};

// Where one file flow is: it enters a place for the span of a co_await and returns to where it
// was, so a stage that feeds the stages after it (compress) hands the wait on to them.
class FlowPlace {
 public:
  explicit FlowPlace(LiveProgress* live) : live_(live) {}
  FlowPlace(const FlowPlace&) = delete;
  FlowPlace& operator=(const FlowPlace&) = delete;
  ~FlowPlace() {
    if (live_ != nullptr) live_->move(current_, LiveProgress::kNowhere);
  }

  // A null flow makes a scope that does nothing.
  class Scope {
   public:
    Scope(FlowPlace* flow, std::size_t place)
        : flow_(flow), previous_(flow != nullptr ? flow->current_ : LiveProgress::kNowhere) {
      if (flow_ != nullptr) flow_->go(place);
    }
    ~Scope() {
      if (flow_ != nullptr) flow_->go(previous_);
    }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    FlowPlace* flow_;
    std::size_t previous_;
  };

  LiveProgress* live() const { return live_; }

 private:
  void go(std::size_t place) {
    if (live_ != nullptr) live_->move(current_, place);
    current_ = place;
  }
  LiveProgress* live_;
  std::size_t current_ = LiveProgress::kNowhere;
};

// `co_await placed(flow, place, op)`: the flow is in `place` for the span of awaiting `op`,
// which must outlive the co_await (a temporary in the same expression does).
template <class Awaitable>
class Placed {
 public:
  Placed(FlowPlace& flow, std::size_t place, Awaitable& inner)
      : flow_(flow), place_(place), inner_(inner) {}
  bool await_ready() {
    scope_.emplace(&flow_, place_);
    return inner_.await_ready();
  }
  auto await_suspend(std::coroutine_handle<> waiter) { return inner_.await_suspend(waiter); }
  decltype(auto) await_resume() {
    scope_.reset();
    return inner_.await_resume();
  }

 private:
  FlowPlace& flow_;
  std::size_t place_;
  Awaitable& inner_;
  std::optional<FlowPlace::Scope> scope_;
};

template <class Awaitable>
Placed<std::remove_reference_t<Awaitable>> placed(FlowPlace& flow, std::size_t place,
                                                  Awaitable&& inner) {
  return {flow, place, inner};
}

}  // namespace piperun::pipeline
