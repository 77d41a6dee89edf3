#include "io/buffer_pool.hpp"

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/uio.h>

namespace piperun::io {
namespace {

// Whether this process may lock memory without limit (CAP_IPC_LOCK in its effective set).
bool may_lock_unlimited() {
  std::FILE* status = std::fopen("/proc/self/status", "re");
  if (status == nullptr) return false;
  char line[256];
  unsigned long long effective = 0;
  while (std::fgets(line, sizeof line, status) != nullptr) {
    if (std::sscanf(line, "CapEff: %llx", &effective) == 1) break;
  }
  std::fclose(status);
  constexpr int kCapIpcLock = 14;
  return (effective >> kCapIpcLock & 1) != 0;
}

// How many buffers registration may pin. RLIMIT_MEMLOCK is counted per user, across all of
// the user's processes and their rings: take at most half, so that a second pipe-run of the
// same user still gets a ring.
std::size_t registrable_buffers(std::size_t count, std::size_t buffer_bytes) {
  rlimit limit{};
  if (may_lock_unlimited() || ::getrlimit(RLIMIT_MEMLOCK, &limit) != 0 ||
      limit.rlim_cur == RLIM_INFINITY) {
    return count;
  }
  return std::min<std::size_t>(count, limit.rlim_cur / 2 / buffer_bytes);
}

}  // namespace

BufferLease& BufferLease::operator=(BufferLease&& other) noexcept {
  if (this != &other) {
    release();
    pool_ = std::exchange(other.pool_, nullptr);
    index_ = other.index_;
  }
  return *this;
}

void BufferLease::release() noexcept {
  if (pool_ != nullptr) std::exchange(pool_, nullptr)->give_back(index_);
}

std::expected<std::unique_ptr<BufferPool>, std::error_code> BufferPool::create(
    Ring& ring, const Options& options) {
  if (options.count == 0 || options.buffer_bytes == 0 || options.buffer_bytes % 4096 != 0) {
    return std::unexpected(std::make_error_code(std::errc::invalid_argument));
  }
  std::unique_ptr<BufferPool> pool(new BufferPool(ring));
  pool->buffer_bytes_ = options.buffer_bytes;
  pool->count_ = options.count;
  pool->region_bytes_ = options.buffer_bytes * options.count;
  // Anonymous pages are only backed once touched (or pinned by registration), so an idle pool
  // costs address space, not memory.
  // The region starts on a 2 MiB boundary, so that a registered pool can use transparent huge
  // pages: pinning then walks 512 times fewer pages (measured: 0.49 s for 256 MiB of 4 KiB pages).
  constexpr std::size_t kHugePage = 2u << 20;
  const std::size_t mapped_bytes = pool->region_bytes_ + kHugePage;
  void* mapping = ::mmap(nullptr, mapped_bytes, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mapping == MAP_FAILED) return std::unexpected(std::error_code(errno, std::system_category()));
  const auto base = reinterpret_cast<std::uintptr_t>(mapping);
  const std::uintptr_t aligned = (base + kHugePage - 1) & ~(std::uintptr_t{kHugePage} - 1);
  // Return the unaligned head and tail: the region is exactly [aligned, aligned + region_bytes).
  if (aligned > base) ::munmap(mapping, aligned - base);
  const std::uintptr_t tail = aligned + pool->region_bytes_;
  if (base + mapped_bytes > tail)
    ::munmap(reinterpret_cast<void*>(tail), base + mapped_bytes - tail);
  pool->region_ = reinterpret_cast<std::byte*>(aligned);
  // Only for a registered pool, which is pinned (so zeroed) whole anyway: a lazily touched pool
  // would zero a 2 MiB page for every small file's first 4 KiB.
  if (options.register_with_ring)
    (void)::madvise(pool->region_, pool->region_bytes_, MADV_HUGEPAGE);

  pool->free_.reserve(options.count);
  for (std::size_t i = options.count; i > 0; --i)
    pool->free_.push_back(static_cast<std::uint32_t>(i - 1));

  if (options.register_with_ring) {
    std::vector<iovec> iovecs(options.count);
    for (std::size_t i = 0; i < options.count; ++i) {
      iovecs[i] = {pool->region_ + i * options.buffer_bytes, options.buffer_bytes};
    }
    // Registration pins the pages, which counts against RLIMIT_MEMLOCK for unprivileged users
    // (8 MiB here): halve the set until the kernel accepts it; none registered still works.
    for (std::size_t n = registrable_buffers(options.count, options.buffer_bytes); n > 0; n /= 2) {
      const int result =
          io_uring_register_buffers(ring.native(), iovecs.data(), static_cast<unsigned>(n));
      if (result == 0) {
        pool->registered_ = n;
        break;
      }
      if (result != -ENOMEM && result != -EPERM && result != -EFAULT && result != -EOVERFLOW) {
        break;
      }
    }
  }
  return pool;
}

BufferPool::~BufferPool() {
  // Every lease must be back: a missing one is a buffer someone may still write into.
  assert(free_.size() == count_ && "BufferPool destroyed while buffers are leased");
  if (registered_ > 0) (void)io_uring_unregister_buffers(ring_.native());
  if (region_ != nullptr) ::munmap(region_, region_bytes_);
}

bool BufferPool::Acquire::await_ready() noexcept {
  // Waiters already queued go first, so a newcomer cannot overtake them.
  if (pool_->waiters_head_ != nullptr || pool_->free_.empty()) return false;
  index_ = pool_->free_.back();
  pool_->free_.pop_back();
  return true;
}

void BufferPool::Acquire::await_suspend(std::coroutine_handle<> waiter) noexcept {
  waiter_ = waiter;
  next_ = nullptr;
  if (pool_->waiters_tail_ != nullptr) {
    pool_->waiters_tail_->next_ = this;
  } else {
    pool_->waiters_head_ = this;
  }
  pool_->waiters_tail_ = this;
}

BufferLease BufferPool::try_acquire() noexcept {
  if (waiters_head_ != nullptr || free_.empty()) return {};
  const std::uint32_t index = free_.back();
  free_.pop_back();
  return BufferLease(this, index);
}

std::size_t BufferPool::waiters() const noexcept {
  std::size_t count = 0;
  for (Acquire* w = waiters_head_; w != nullptr; w = w->next_)
    ++count;
  return count;
}

void BufferPool::give_back(std::uint32_t index) noexcept {
  if (Acquire* waiter = waiters_head_) {
    waiters_head_ = waiter->next_;
    if (waiters_head_ == nullptr) waiters_tail_ = nullptr;
    waiter->index_ = index;
    // Resumed from the loop, not from inside whoever released the lease.
    ring_.schedule(waiter->waiter_);
    return;
  }
  free_.push_back(index);
}

}  // namespace piperun::io
