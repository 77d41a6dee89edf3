#include "pipeline/frame_allocator.hpp"

#include <array>
#include <new>
#include <utility>

namespace piperun::pipeline {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kRecycle = false;
#else
constexpr bool kRecycle = true;
#endif

constexpr std::size_t kGranule = 64;
constexpr std::size_t kClasses = 64;  // frames up to 4 KiB are recycled
constexpr std::size_t kMaxCachedPerClass = 1024;

struct FreeFrame {
  FreeFrame* next;
};

struct FreeLists {
  std::array<FreeFrame*, kClasses> heads{};
  std::array<std::size_t, kClasses> counts{};
  ~FreeLists() {
    for (FreeFrame*& head : heads) {
      while (head != nullptr)
        ::operator delete(std::exchange(head, head->next));
    }
  }
};

thread_local FreeLists free_lists;

std::size_t size_class(std::size_t bytes) {
  return (bytes + kGranule - 1) / kGranule;
}

}  // namespace

void* allocate_frame(std::size_t bytes) {
  const std::size_t cls = size_class(bytes);
  if (kRecycle && cls < kClasses) {
    if (FreeFrame* frame = free_lists.heads[cls]) {
      free_lists.heads[cls] = frame->next;
      --free_lists.counts[cls];
      return frame;
    }
    return ::operator new(cls* kGranule);
  }
  return ::operator new(bytes);
}

void deallocate_frame(void* frame, std::size_t bytes) noexcept {
  const std::size_t cls = size_class(bytes);
  if (kRecycle && cls < kClasses && free_lists.counts[cls] < kMaxCachedPerClass) {
    auto* node = static_cast<FreeFrame*>(frame);
    node->next = free_lists.heads[cls];
    free_lists.heads[cls] = node;
    ++free_lists.counts[cls];
    return;
  }
  ::operator delete(frame);
}

}  // namespace piperun::pipeline
