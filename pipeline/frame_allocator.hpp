// Recycles coroutine frames, so a coroutine per chunk or per file costs no malloc in steady
// state. Frames are created and destroyed on the I/O thread; free lists are per thread, by size
// class. Under AddressSanitizer frames go straight to operator new, so use-after-free of a frame
// is still caught.
#pragma once

#include <cstddef>

namespace piperun::pipeline {

void* allocate_frame(std::size_t bytes);
void deallocate_frame(void* frame, std::size_t bytes) noexcept;

}  // namespace piperun::pipeline
