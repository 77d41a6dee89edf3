// offload(): the work runs on a TBB worker, the coroutine resumes on the I/O thread.
#include "pipeline/offload.hpp"

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "io/ring.hpp"
#include "pipeline/sync_wait.hpp"
#include "pipeline/task.hpp"
#include "support/test_ring.hpp"

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
  auto ring = piperun::testing::make_ring();
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
  auto ring = piperun::testing::make_ring();
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

// Sleeps `delay_ms`, then records where it ran and in which order it finished.
class SleepJob final : public BackgroundJob {
 public:
  int delay_ms = 0;
  std::thread::id ran_on;
  int finished_as = -1;
  std::atomic<int>* finish_counter = nullptr;

 private:
  void execute() noexcept override {
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    ran_on = std::this_thread::get_id();
    finished_as = finish_counter->fetch_add(1);
  }
};

task<std::vector<std::thread::id>> await_in_order(std::vector<SleepJob>* jobs) {
  std::vector<std::thread::id> resumed_on;
  for (SleepJob& job : *jobs) {
    co_await job;
    resumed_on.push_back(std::this_thread::get_id());
  }
  co_return resumed_on;
}

TEST(BackgroundJob, StartedJobsRunTogetherAndAreAwaitedLaterInAnyOrder) {
  auto ring = piperun::testing::make_ring();
  CpuPool cpu(*ring, 2);
  std::atomic<int> finished{0};
  // The first job is the slowest: the second is done (and not yet awaited) when the first one
  // is awaited, and the third is awaited after it finished.
  std::vector<SleepJob> jobs(3);
  const int delays[] = {80, 5, 0};
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    jobs[i].delay_ms = delays[i];
    jobs[i].finish_counter = &finished;
  }
  jobs[0].start(cpu);
  jobs[1].start(cpu);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_TRUE(jobs[1].done()) << "runs without anyone awaiting it";
  EXPECT_FALSE(jobs[0].done());
  jobs[2].start(cpu);
  const auto resumed_on = sync_wait(*ring, await_in_order(&jobs));
  EXPECT_EQ(finished.load(), 3);
  EXPECT_EQ(jobs[0].finished_as, 2) << "the slow one finished last";
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    EXPECT_TRUE(jobs[i].done());
    EXPECT_NE(jobs[i].ran_on, std::this_thread::get_id()) << "job " << i;
    EXPECT_EQ(resumed_on[i], std::this_thread::get_id()) << "job " << i;
  }
  // A finished job can start again.
  jobs[0].delay_ms = 0;
  jobs[0].start(cpu);
  sync_wait(*ring, await_in_order(&jobs));
  EXPECT_EQ(finished.load(), 4);
}

}  // namespace
}  // namespace piperun::pipeline
