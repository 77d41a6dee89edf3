// The unit the ring completes. Ownership and threading:
//  - An Operation lives at a stable address (usually inside a coroutine frame) from submit()
//    until its complete() has run; its address is the SQE's user_data, so completing it needs
//    no allocation and no lookup table.
//  - Only the I/O thread touches an Operation while the ring owns it.
#pragma once

#include <cstdint>

struct io_uring_sqe;

namespace piperun::io {

struct Operation {
  // Fills `sqe` (all but user_data). Called again when the operation is re-submitted.
  using PrepareFn = void (*)(Operation& self, io_uring_sqe& sqe);
  // Receives the CQE's result (-errno on failure) and flags.
  using CompleteFn = void (*)(Operation& self, int result, std::uint32_t cqe_flags);

  PrepareFn prepare = nullptr;
  CompleteFn complete = nullptr;
  Operation* next_parked = nullptr;  // link while waiting for room in the ring
};

}  // namespace piperun::io
