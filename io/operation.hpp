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
  // What the next completion reports instead of the kernel's result; 0: the kernel's. Set only
  // by the fault-injection test hook (io/fault_injection.hpp).
  int injected_result = 0;
  // Never failed by that hook: reads of the ring's wake-up eventfd and the run's signalfd are
  // how the program works, not I/O a device could fail.
  bool fault_exempt = false;
};

}  // namespace piperun::io
