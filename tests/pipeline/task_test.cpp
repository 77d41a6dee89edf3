// task<T>: laziness, results, deep chains without stack growth, frame recycling.
#include "pipeline/task.hpp"

#include <gtest/gtest.h>

#include "io/ring.hpp"
#include "pipeline/sync_wait.hpp"
#include "support/test_ring.hpp"

namespace piperun::pipeline {
namespace {

using piperun::testing::make_ring;

task<int> answer(int* started) {
  ++*started;
  co_return 42;
}

TEST(Task, StartsOnlyWhenAwaited) {
  auto ring = make_ring();
  int started = 0;
  task<int> pending = answer(&started);
  EXPECT_EQ(started, 0);
  EXPECT_EQ(sync_wait(*ring, std::move(pending)), 42);
  EXPECT_EQ(started, 1);
}

task<int> count_down(int depth) {
  if (depth == 0) co_return 0;
  co_return 1 + co_await count_down(depth - 1);
}

TEST(Task, DeepChainsDoNotGrowTheStack) {
  // A million nested awaits would overflow an 8 MiB stack without symmetric transfer. g++ turns
  // the transfer into a tail call only when optimising and not instrumenting for ASan or TSan
  // (which calls __tsan_func_exit after it), so other builds check less.
#if defined(__OPTIMIZE__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  constexpr int kDepth = 1'000'000;
#else
  constexpr int kDepth = 1'000;
#endif
  auto ring = make_ring();
  EXPECT_EQ(sync_wait(*ring, count_down(kDepth)), kDepth);
}

task<std::string> move_only_result() {
  std::string text(1000, 'x');
  co_return text;
}

TEST(Task, ReturnsValuesByMove) {
  auto ring = make_ring();
  EXPECT_EQ(sync_wait(*ring, move_only_result()).size(), 1000u);
}

task<void> set_flag(bool* flag) {
  *flag = true;
  co_return;
}

TEST(Task, DestroyingAnUnstartedTaskRunsNothing) {
  bool flag = false;
  { task<void> never = set_flag(&flag); }
  EXPECT_FALSE(flag);
}

TEST(Task, SpawnRunsEagerly) {
  bool flag = false;
  spawn(set_flag(&flag));
  EXPECT_TRUE(flag);
}

}  // namespace
}  // namespace piperun::pipeline
