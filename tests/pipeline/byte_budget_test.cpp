// ByteBudget: waiters get their bytes first come, first served, and only when they are free.
#include "pipeline/byte_budget.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "io/ring.hpp"
#include "pipeline/task.hpp"
#include "support/test_ring.hpp"

namespace piperun::pipeline {
namespace {

task<void> take(ByteBudget* budget, std::uint64_t bytes, std::vector<std::string>* log,
                std::string name) {
  co_await budget->acquire(bytes);
  log->push_back(name);
}

TEST(ByteBudget, WaitersAreServedInOrderWhenTheirBytesAreFree) {
  auto ring = piperun::testing::make_ring();
  ByteBudget budget(*ring, 100);
  std::vector<std::string> log;
  spawn(take(&budget, 60, &log, "a"));  // fits: done at once
  spawn(take(&budget, 50, &log, "b"));  // 40 free: waits
  spawn(take(&budget, 10, &log, "c"));  // would fit, but b came first
  EXPECT_EQ(log, std::vector<std::string>{"a"});

  budget.release(20);  // 60 free: b (50) goes, then c (10)
  ring->run_until([&] { return log.size() == 3; });
  EXPECT_EQ(log, (std::vector<std::string>{"a", "b", "c"}));

  spawn(take(&budget, 1, &log, "d"));  // 0 free
  ring->step(false);
  EXPECT_EQ(log.size(), 3u);
  budget.release(1);
  ring->run_until([&] { return log.size() == 4; });
}

}  // namespace
}  // namespace piperun::pipeline
