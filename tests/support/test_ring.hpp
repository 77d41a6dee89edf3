// A ring for a test to run its operations on.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "io/ring.hpp"

namespace piperun::testing {

// No test can go on without a ring: one that cannot be made stops the suite, saying why.
inline std::unique_ptr<io::Ring> make_ring(const io::RingOptions& options = {}) {
  auto ring = io::Ring::create(options);
  if (!ring) {
    std::fprintf(stderr, "cannot set up an io_uring: %s\n", ring.error().message().c_str());
    std::abort();
  }
  return std::move(*ring);
}

}  // namespace piperun::testing
