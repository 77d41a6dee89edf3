// A bounded ring of jobs (a file's frames being compressed, its writes) that one coroutine
// starts and a second one, run by this class, completes in the order they were started.
//
// Why a second coroutine: completing a job frees what it holds (buffers). Were jobs completed
// only when the starter comes back for a free one, a starter waiting for a buffer would sit on
// finished jobs holding the very buffers it waits for, and files would deadlock each other.
//
// `Owner::complete(Job&)` (a task<void>) waits for the job and handles its result. I/O thread
// only. The owner must drain() before it is destroyed.
#pragma once

#include <cassert>
#include <cstddef>
#include <vector>

#include "io/ring.hpp"
#include "pipeline/task.hpp"
#include "pipeline/wakeup.hpp"

namespace piperun::pipeline {

template <class Job, class Owner>
class InOrder {
 public:
  InOrder(Owner& owner, io::Ring& ring, std::size_t capacity)
      : owner_(owner), ring_(ring), jobs_(capacity) {}
  ~InOrder() { assert(!running_ && count_ == 0 && "drain() before destruction"); }
  InOrder(const InOrder&) = delete;
  InOrder& operator=(const InOrder&) = delete;

  // The next job to start, once one is free. Start it, then call started().
  task<Job*> reserve() {
    while (count_ == jobs_.size())
      co_await freed_.wait();
    if (!running_) {
      running_ = true;
      stopping_ = false;
      spawn(complete_in_order());
    }
    co_return &jobs_[(head_ + count_) % jobs_.size()];
  }
  void started() {
    ++count_;
    job_started_.notify(ring_);
  }

  // Waits until every started job is completed. Jobs may be started again afterwards.
  task<void> drain() {
    stopping_ = true;
    job_started_.notify(ring_);
    while (running_)
      co_await stopped_.wait();
  }

  std::size_t in_flight() const noexcept { return count_; }

 private:
  task<void> complete_in_order() {
    for (;;) {
      if (count_ == 0) {
        if (stopping_) break;
        co_await job_started_.wait();
        continue;
      }
      co_await owner_.complete(jobs_[head_]);
      head_ = (head_ + 1) % jobs_.size();
      --count_;
      freed_.notify(ring_);
    }
    running_ = false;
    stopped_.notify(ring_);
  }

  Owner& owner_;
  io::Ring& ring_;
  std::vector<Job> jobs_;  // a ring: head_ is the oldest job in flight
  std::size_t head_ = 0;
  std::size_t count_ = 0;
  bool running_ = false;
  bool stopping_ = false;
  Wakeup job_started_;  // the completer waits here for a job
  Wakeup freed_;        // reserve() waits here for a free job
  Wakeup stopped_;      // drain() waits here for the completer
};

}  // namespace piperun::pipeline
