// How a ring is set up: its own header, so that options structs can name it without pulling
// in liburing.
#pragma once

namespace piperun::io {

// Who submits and when the kernel runs completion work (bench/RESULTS.md has what each cost).
enum class RingSetup {
  automatic,      // the best this kernel has: defer_taskrun, else coop_taskrun, else plain
  defer_taskrun,  // SINGLE_ISSUER | DEFER_TASKRUN: completion work only when we ask for events
  coop_taskrun,   // SINGLE_ISSUER | COOP_TASKRUN: no interrupting IPI for completion work
  plain,          // no setup flags
  sqpoll,         // a kernel thread polls the SQ: no submit syscalls, but it spins on a core
};

}  // namespace piperun::io
