// offload(): the work runs on a TBB worker, the coroutine resumes on the I/O thread.
#include "pipeline/offload.hpp"

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "io/ring.hpp"
#include "pipeline/sync_wait.hpp"
#include "pipeline/task.hpp"

namespace piperun::pipeline {
namespace {

struct Threads {
  std::thread::id worker;
  std::thread::id resumed;
  int value = 0;
};

struct ComputeOnWorker {
  std::thread::id* worker;
  int operator()() const {
    *worker = std::this_thread::get_id();
    return 7 * 6;
  }
};

task<Threads> hop(CpuPool* cpu) {
  Threads seen;
  seen.value = co_await cpu->offload(ComputeOnWorker{&seen.worker});
  seen.resumed = std::this_thread::get_id();
  co_return seen;
}

TEST(Offload, RunsOnAWorkerAndResumesOnTheIoThread) {
  auto ring = std::move(*io::Ring::create(io::RingOptions{}));
  CpuPool cpu(*ring, 2);
  const Threads seen = sync_wait(*ring, hop(&cpu));
  EXPECT_EQ(seen.value, 42);
  EXPECT_NE(seen.worker, std::this_thread::get_id());
  EXPECT_EQ(seen.resumed, std::this_thread::get_id());
}

struct Busy {
  std::atomic<int>* running;
  std::atomic<int>* peak;
  void operator()() const {
    const int now = running->fetch_add(1) + 1;
    int seen = peak->load();
    while (seen < now && !peak->compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    running->fetch_sub(1);
  }
};

task<void> offload_busy(CpuPool* cpu, Busy busy, int* done, std::thread::id io_thread,
                        bool* wrong_thread) {
  co_await cpu->offload(busy);
  if (std::this_thread::get_id() != io_thread) *wrong_thread = true;
  ++*done;
}

TEST(Offload, ManyOffloadsRunInParallelAndAllComeBack) {
  auto ring = std::move(*io::Ring::create(io::RingOptions{}));
  CpuPool cpu(*ring, 2);
  std::atomic<int> running{0};
  std::atomic<int> peak{0};
  int done = 0;
  bool wrong_thread = false;
  for (int i = 0; i < 20; ++i) {
    spawn(offload_busy(&cpu, Busy{&running, &peak}, &done, std::this_thread::get_id(),
                       &wrong_thread));
  }
  ring->run_until([&] { return done == 20; });
  EXPECT_FALSE(wrong_thread);
  EXPECT_EQ(peak.load(), 2) << "two workers, both used, never more";
}

}  // namespace
}  // namespace piperun::pipeline
