// Reads the start of `fd` into a pool buffer, through its registered index when it has one, and
// checks the bytes: a registered index that names no registered buffer fails the read.
#pragma once

#include <cstring>
#include <string>

#include "io/buffer_pool.hpp"
#include "io/ops.hpp"
#include "pipeline/task.hpp"

namespace piperun::testing {

inline pipeline::task<bool> reads_expected_bytes(io::Ring* ring, io::BufferLease* lease, int fd,
                                                 std::string expected) {
  io::TransferOp op;
  op.start(*ring, io::TransferOp::Direction::read, fd, lease->bytes().first(expected.size()), 0,
           lease->registered_index());
  auto bytes = co_await op;
  co_return bytes&&* bytes == expected.size() &&
      std::memcmp(lease->bytes().data(), expected.data(), expected.size()) == 0;
}

}  // namespace piperun::testing
