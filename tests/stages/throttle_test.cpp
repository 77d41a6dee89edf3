// Throttle: the limit halves when the server throttles and climbs back one per window of
// successes; waiters beyond the limit wait.
#include "stages/upload/throttle.hpp"

#include <gtest/gtest.h>

#include "io/ring.hpp"
#include "pipeline/task.hpp"
#include "support/test_ring.hpp"

namespace piperun::stages::upload {
namespace {

pipeline::task<void> hold(Throttle* throttle, int* holding) {
  co_await throttle->acquire();
  ++*holding;
}

TEST(Throttle, HalvesWhenThrottledAndClimbsBackAfterSuccesses) {
  auto ring = piperun::testing::make_ring();
  Throttle throttle(*ring, 8);
  EXPECT_EQ(throttle.limit(), 8u);
  int holding = 0;
  for (int i = 0; i < 8; ++i)
    pipeline::spawn(hold(&throttle, &holding));
  EXPECT_EQ(holding, 8);

  throttle.release(true);  // 503: 4 allowed, 7 still in flight
  EXPECT_EQ(throttle.limit(), 4u);
  pipeline::spawn(hold(&throttle, &holding));
  ring->step(false);
  EXPECT_EQ(holding, 8);  // waits: 7 in flight against a limit of 4
  throttle.release(true);
  EXPECT_EQ(throttle.limit(), 2u);
  for (int i = 0; i < 5; ++i)
    throttle.release(false);  // 1 in flight: the waiter goes
  ring->run_until([&] { return holding == 9; });

  // Successes widen the window again, one step per window's worth, never past the maximum.
  for (int i = 0; i < 200; ++i) {
    pipeline::spawn(hold(&throttle, &holding));
    ring->run_until([&] { return holding == 10 + i; });
    throttle.release(false);
  }
  EXPECT_EQ(throttle.limit(), 8u);
}

TEST(Throttle, NeverBelowOne) {
  auto ring = piperun::testing::make_ring();
  Throttle throttle(*ring, 2);
  int holding = 0;
  for (int i = 0; i < 5; ++i) {
    pipeline::spawn(hold(&throttle, &holding));
    ring->run_until([&] { return holding == i + 1; });
    throttle.release(true);
  }
  EXPECT_EQ(throttle.limit(), 1u);
}

}  // namespace
}  // namespace piperun::stages::upload
