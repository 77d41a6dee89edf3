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
  pool->chunks_ = options.count;
  pool->region_bytes_ = options.buffer_bytes * options.count;
  const std::size_t slot_bytes = options.small_slot_bytes;
  if (slot_bytes > 0 && slot_bytes % 4096 == 0 && slot_bytes <= options.buffer_bytes &&
      options.small_slots > 0) {
    const std::size_t slots_per_buffer = options.buffer_bytes / slot_bytes;
    const std::size_t slot_buffers =
        (options.small_slots + slots_per_buffer - 1) / slots_per_buffer;
    if (slot_buffers < options.count) {
      pool->chunks_ = options.count - slot_buffers;
      pool->slot_bytes_ = slot_bytes;
      pool->slots_per_buffer_ = slots_per_buffer;
      pool->small_slots_ = slot_buffers * slots_per_buffer;
    }
  }
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
  // Huge pages for the whole buffers; the small slots keep 4 KiB pages, so that a small file
  // touches 4 KiB, not 2 MiB. A registered pool is pinned (so zeroed) whole anyway.
  const std::size_t huge_bytes =
      options.register_with_ring ? pool->region_bytes_ : pool->chunks_ * options.buffer_bytes;
  (void)::madvise(pool->region_, huge_bytes, MADV_HUGEPAGE);

  pool->iovecs_.resize(options.count);
  for (std::size_t i = 0; i < options.count; ++i) {
    pool->iovecs_[i] = {pool->region_ + i * options.buffer_bytes, options.buffer_bytes};
  }
  const std::size_t wanted = !options.register_with_ring ? 0
                             : options.max_registered > 0
                                 ? std::min(options.count, options.max_registered)
                                 : options.count;
  // Registration pins the pages, which counts against RLIMIT_MEMLOCK for unprivileged users
  // (8 MiB here).
  const std::size_t registrable = registrable_buffers(wanted, options.buffer_bytes);
  // A sparse table (Linux 5.19) is filled batch by batch; without one, register up front.
  if (options.fill_in_background && registrable > 0 &&
      io_uring_register_buffers_sparse(ring.native(), static_cast<unsigned>(registrable)) == 0) {
    pool->start_fill(registrable);
  } else {
    pool->lend(0, options.count, kWhole | kSmall);
    if (registrable > 0) pool->register_up_front(registrable);
  }
  return pool;
}

void BufferPool::register_up_front(std::size_t count) {
  // Halve the set until the kernel accepts it; none registered still works.
  for (std::size_t n = count; n > 0; n /= 2) {
    const int result =
        io_uring_register_buffers(ring_.native(), iovecs_.data(), static_cast<unsigned>(n));
    if (result == 0) {
      registered_ = n;
      return;
    }
    if (result != -ENOMEM && result != -EPERM && result != -EFAULT && result != -EOVERFLOW) return;
  }
}

void BufferPool::start_fill(std::size_t count) {
  // The small slots past the registered buffers are never registered: lent now.
  lend(count, iovecs_.size(), kSmall);
  fill_end_ = count;
  filling_ = true;
  fill_op_.pool = this;
  fill_op_.prepare = [](Operation& op, io_uring_sqe& sqe) {
    BufferPool& pool = *static_cast<FillOp&>(op).pool;
    io_uring_prep_madvise(&sqe, pool.iovecs_[pool.lent_].iov_base,
                          static_cast<off_t>(pool.batch_ * pool.buffer_bytes_),
                          MADV_POPULATE_WRITE);
  };
  fill_op_.complete = &fill_batch_done;
  submit_fill_batch();
}

void BufferPool::submit_fill_batch() noexcept {
  // The first batch is one huge page, so the first reads wait for little; then batches double,
  // up to 16 MiB, to keep registrations few.
  constexpr std::size_t kFirstBatchBytes = 2u << 20;
  constexpr std::size_t kMaxBatchBytes = 16u << 20;
  const std::size_t bytes =
      batch_ == 0 ? kFirstBatchBytes : std::min(2 * batch_ * buffer_bytes_, kMaxBatchBytes);
  batch_ = std::clamp<std::size_t>(bytes / buffer_bytes_, 1, fill_end_ - lent_);
  fill_in_flight_ = true;
  ring_.submit(fill_op_);
}

void BufferPool::fill_batch_done(Operation& op, int result, std::uint32_t) noexcept {
  BufferPool& pool = *static_cast<FillOp&>(op).pool;
  pool.fill_in_flight_ = false;
  if (result == -ECANCELED || pool.stopping_) {
    pool.end_fill();
    return;
  }
  // A failed populate (a kernel without MADV_POPULATE_WRITE) is no loss: registering faults the
  // pages in itself.
  const std::size_t first = pool.lent_;
  const int registered = io_uring_register_buffers_update_tag(
      pool.ring_.native(), static_cast<unsigned>(first), &pool.iovecs_[first], nullptr,
      static_cast<unsigned>(pool.batch_));
  if (registered > 0) {
    pool.registered_ = first + static_cast<std::size_t>(registered);
    pool.lend(first, pool.registered_, kWhole | kSmall);
    pool.lent_ = pool.registered_;
  }
  // Fewer than asked (RLIMIT_MEMLOCK reached): the rest are read into unregistered.
  if (registered != static_cast<int>(pool.batch_) || pool.lent_ == pool.fill_end_) {
    pool.end_fill();
  } else {
    pool.submit_fill_batch();
  }
}

void BufferPool::end_fill() noexcept {
  if (!filling_) return;
  filling_ = false;
  lend(lent_, fill_end_, kWhole | kSmall);
  // Below the registered ones, which keep going out first.
  lend_last(fill_end_, iovecs_.size());
  lent_ = iovecs_.size();
}

void BufferPool::lend_last(std::size_t first, std::size_t last) noexcept {
  if (free_[0].empty()) {
    lend(first, last, kWhole);
    return;
  }
  // With buffers free nobody waits: slide these under them, the lowest on top.
  std::vector<std::uint32_t> below;
  for (std::size_t buffer = std::min(last, chunks_); buffer-- > first;)
    below.push_back(static_cast<std::uint32_t>(buffer));
  free_[0].insert(free_[0].begin(), below.begin(), below.end());
}

void BufferPool::lend(std::size_t first, std::size_t last, unsigned what) noexcept {
  // Highest index first, so that the lowest goes out first.
  for (std::size_t buffer = last; buffer-- > first;) {
    if (buffer < chunks_) {
      if ((what & kWhole) != 0) give_back(static_cast<std::uint32_t>(buffer));
    } else if ((what & kSmall) != 0) {
      const std::size_t first_slot = (buffer - chunks_) * slots_per_buffer_;
      for (std::size_t slot = first_slot + slots_per_buffer_; slot-- > first_slot;)
        give_back(static_cast<std::uint32_t>(chunks_ + slot));
    }
  }
}

BufferPool::~BufferPool() {
  // The batch being faulted in is the kernel's until it completes.
  stopping_ = true;
  while (fill_in_flight_)
    ring_.step(true);
  end_fill();
  // Every lease must be back: a missing one is a buffer someone may still write into.
  assert(free_[0].size() == chunks_ && free_[1].size() == small_slots_ &&
         "BufferPool destroyed while buffers are leased");
  // A sparse table (fill_end_ > 0) is registered even when no buffer made it into it.
  if (registered_ > 0 || fill_end_ > 0) (void)io_uring_unregister_buffers(ring_.native());
  if (region_ != nullptr) ::munmap(region_, region_bytes_);
}

bool BufferPool::Acquire::await_ready() noexcept {
  // Waiters already queued go first, so a newcomer cannot overtake them.
  const int kind = slot(size_);
  auto& free = pool_->free_[kind];
  if (pool_->waiters_[kind].head != nullptr || free.empty()) return false;
  index_ = free.back();
  free.pop_back();
  return true;
}

void BufferPool::Acquire::await_suspend(std::coroutine_handle<> waiter) noexcept {
  waiter_ = waiter;
  next_ = nullptr;
  WaitList& list = pool_->waiters_[slot(size_)];
  if (list.tail != nullptr) {
    list.tail->next_ = this;
  } else {
    list.head = this;
  }
  list.tail = this;
}

BufferLease BufferPool::try_acquire(BufferSize size) noexcept {
  const int kind = slot(kind_for(size));
  if (waiters_[kind].head != nullptr || free_[kind].empty()) return {};
  const std::uint32_t index = free_[kind].back();
  free_[kind].pop_back();
  return BufferLease(this, index);
}

std::size_t BufferPool::waiters() const noexcept {
  std::size_t count = 0;
  for (const WaitList& list : waiters_) {
    for (Acquire* w = list.head; w != nullptr; w = w->next_)
      ++count;
  }
  return count;
}

void BufferPool::give_back(std::uint32_t index) noexcept {
  const int kind = is_small(index) ? 1 : 0;
  WaitList& list = waiters_[kind];
  if (Acquire* waiter = list.head) {
    list.head = waiter->next_;
    if (list.head == nullptr) list.tail = nullptr;
    waiter->index_ = index;
    // Resumed from the loop, not from inside whoever released the lease.
    ring_.schedule(waiter->waiter_);
    return;
  }
  free_[kind].push_back(index);
}

}  // namespace piperun::io
