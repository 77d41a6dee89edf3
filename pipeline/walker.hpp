// The input walker: enumerates input.paths on its own thread, so the I/O thread never blocks on
// a directory read, and hands FileEntry values over through a bounded queue.
//
// Threads: the owner (the I/O thread) calls start, poll, stop, counts and the destructor; the
// walker thread reads directories and pushes. The queue and the end flag are shared under
// mutex_; the counters are atomics. The walker thread waits while the queue is full: that is
// the backpressure that bounds the walk's memory.
//
// Order: roots in the given order; inside a root depth-first, each directory's entries sorted
// by their byte names (directories are descended where they sort, not handed out).
// Roots themselves are always followed if they are symlinks, as `find -H` does.
//
// Shard (options.shard): an entry outside it is dropped where include/exclude drop entries,
// whatever its kind (file, symlink, special file, failure), so each entry is handed out by
// exactly one shard; directories are descended by every shard (shard.hpp).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pipeline/file_entry.hpp"
#include "pipeline/glob.hpp"
#include "pipeline/options.hpp"

namespace piperun::pipeline {

class Walker {
 public:
  // `include` and `exclude` are options.include / options.exclude compiled (options' own
  // strings are not read). `excluded_paths` are absolute and lexically normal: pipe-run's own
  // outputs, skipped silently with everything under them. A queue_capacity of 0 counts as 1.
  Walker(InputOptions options, std::vector<GlobPattern> include, std::vector<GlobPattern> exclude,
         std::vector<std::filesystem::path> excluded_paths, std::size_t queue_capacity = 4096);
  ~Walker();  // stops and joins

  Walker(const Walker&) = delete;
  Walker& operator=(const Walker&) = delete;

  // Starts the walking thread; a second call does nothing. `notify` runs on the walker thread,
  // with no lock held, after each push that found the queue empty and once more when the walk
  // has ended; it must be cheap (e.g. write an eventfd). So a consumer polls until poll()
  // returns empty, then waits for notify. `notify` must not throw, and what it touches must
  // outlive the Walker (or the stop() call): the last notify may still be running when poll()
  // already reports finished. Should the thread fail to start, the walk ends at once with one
  // error entry and `notify` is called here, on the caller's thread.
  void start(std::function<void()> notify);

  enum class Poll { items, empty, finished };
  // Never blocks beyond a short mutex section. Appends up to `max` entries to `out`. Returns
  // items if it moved any, empty if none is ready but the walk goes on, finished when the walk
  // has ended and everything was taken.
  Poll poll(std::vector<FileEntry>& out, std::size_t max);

  // Asks the walk to end early (e.g. on SIGINT) and joins the thread; idempotent. Entries
  // already queued stay there for poll(), which then reports finished.
  void stop();

  struct Counts {
    std::uint64_t files = 0;  // regular files handed out so far (followed symlinks included)
    std::uint64_t bytes = 0;  // their sizes
    bool complete = false;    // the walk ended on its own: the figures are final
  };
  Counts counts() const;

 private:
  class Traversal;  // the walk itself, on the walker thread (walker.cpp)

  void run() noexcept;
  // Waits while the queue is full; false when the walk must stop instead.
  bool push(FileEntry entry);
  void end_walk() noexcept;

  // Set at construction, read-only afterwards.
  const InputOptions options_;
  const std::vector<GlobPattern> include_;
  const std::vector<GlobPattern> exclude_;
  std::vector<std::string> excluded_paths_;  // without a trailing '/'
  const std::size_t capacity_;

  // Shared, under mutex_.
  mutable std::mutex mutex_;
  std::condition_variable space_available_;  // the walker thread waits on it while full
  std::deque<FileEntry> queue_;
  bool walk_ended_ = false;

  std::atomic<bool> stop_requested_{false};
  std::atomic<std::uint64_t> files_{0};
  std::atomic<std::uint64_t> bytes_{0};
  std::atomic<bool> complete_{false};

  // Owner thread; notify_ is written before the walker thread starts and only read by it.
  std::function<void()> notify_;
  std::thread thread_;
  bool started_ = false;
};

}  // namespace piperun::pipeline
