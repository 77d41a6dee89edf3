// Fixed-size I/O buffers carved from one page-aligned region, registered with the ring where
// RLIMIT_MEMLOCK allows (READ_FIXED skips the per-I/O page pinning).
//
// Ownership: a buffer is lent as a move-only BufferLease; the lease returns it when destroyed.
// Hand the lease to whoever needs the bytes last; the kernel and TBB workers only ever see the
// bytes of a lease someone on the I/O thread still holds.
// Backpressure: acquire() suspends when every buffer is out and resumes, in FIFO order, when
// one comes back. The pool never allocates past its size.
// Filling in the background (Options::fill_in_background): the buffers to register are faulted
// in by the kernel's workers (an io_uring madvise) a batch at a time, and each batch is lent
// out once registered, so the first reads start after one batch instead of the whole set.
// Threading: the I/O thread only (leases are returned there too).
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <memory>
#include <span>
#include <sys/uio.h>
#include <system_error>
#include <utility>
#include <vector>

#include "io/ring.hpp"

namespace piperun::io {

class BufferPool;

// Chunks of large files get whole buffers, backed by transparent huge pages (512 times fewer
// page faults when first filled). A file that fits a small slot gets one: 64 files of 1 KiB
// then touch 64 slots of one buffer, not the first page of 64 buffers.
enum class BufferSize { chunk, small };

class BufferLease {
 public:
  BufferLease() = default;
  BufferLease(BufferLease&& other) noexcept
      : pool_(std::exchange(other.pool_, nullptr)), index_(other.index_) {}
  BufferLease& operator=(BufferLease&& other) noexcept;
  BufferLease(const BufferLease&) = delete;
  BufferLease& operator=(const BufferLease&) = delete;
  ~BufferLease() { release(); }

  explicit operator bool() const noexcept { return pool_ != nullptr; }
  std::span<std::byte> bytes() const noexcept;
  // Index for READ_FIXED/WRITE_FIXED, or -1 when this buffer is not registered.
  int registered_index() const noexcept;
  void release() noexcept;

 private:
  friend class BufferPool;
  BufferLease(BufferPool* pool, std::uint32_t index) : pool_(pool), index_(index) {}
  BufferPool* pool_ = nullptr;
  std::uint32_t index_ = 0;
};

class BufferPool {
 public:
  struct Options {
    std::size_t buffer_bytes = 4u << 20;  // a multiple of the page size
    std::size_t count = 64;
    // Small slots, carved from as few of the `count` buffers as hold them (never across two
    // buffers); a multiple of the page size. None when 0 or when that would leave no whole
    // buffer.
    std::size_t small_slot_bytes = 0;
    std::size_t small_slots = 0;
    bool register_with_ring = true;
    // At most this many buffers registered (0: all). Registration pins, so zeroes, every page
    // of the registered buffers at once; buffers are handed out lowest index first and reused
    // last-freed first, so a run that never holds more than this many touches no others.
    std::size_t max_registered = 0;
    // Register in batches while the ring runs (see above) instead of all before create()
    // returns. Until then the buffers not yet registered wait, the whole buffers past the
    // registered set too (so that registered ones go out first); acquire() waits for them.
    bool fill_in_background = false;
  };

  // Maps the region and registers as many buffers (up to max_registered) as RLIMIT_MEMLOCK
  // lets us pin (all, fewer, or none: unregistered buffers use plain reads).
  static std::expected<std::unique_ptr<BufferPool>, std::error_code> create(Ring& ring,
                                                                            const Options& options);
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  class Acquire {
   public:
    Acquire(BufferPool& pool, BufferSize size) : pool_(&pool), size_(size) {}
    bool await_ready() noexcept;
    void await_suspend(std::coroutine_handle<> waiter) noexcept;
    BufferLease await_resume() noexcept { return BufferLease(pool_, index_); }

   private:
    friend class BufferPool;
    BufferPool* pool_;
    BufferSize size_;
    std::uint32_t index_ = 0;
    std::coroutine_handle<> waiter_;
    Acquire* next_ = nullptr;
  };

  // co_await pool.acquire() -> BufferLease; waits while none of that size is free. Asking
  // for a small slot from a pool without any gives a whole buffer.
  Acquire acquire(BufferSize size = BufferSize::chunk) noexcept {
    return Acquire(*this, kind_for(size));
  }
  // A lease now, or an empty one when none is free.
  BufferLease try_acquire(BufferSize size = BufferSize::chunk) noexcept;

  std::size_t buffer_bytes() const noexcept { return buffer_bytes_; }
  std::size_t small_slot_bytes() const noexcept { return small_slots_ > 0 ? slot_bytes_ : 0; }
  // Whole buffers (small slots aside) and how many of them are free.
  std::size_t capacity() const noexcept { return chunks_; }
  std::size_t available() const noexcept { return free_[0].size(); }
  std::size_t small_capacity() const noexcept { return small_slots_; }
  std::size_t small_available() const noexcept { return free_[1].size(); }
  std::size_t registered_count() const noexcept { return registered_; }
  std::size_t waiters() const noexcept;
  // False while a background fill is under way: not every lease is in the pool yet.
  bool filled() const noexcept { return !filling_; }

 private:
  friend class BufferLease;
  BufferPool(Ring& ring) : ring_(ring) {}
  void give_back(std::uint32_t index) noexcept;
  void register_up_front(std::size_t count);
  void start_fill(std::size_t count);
  void submit_fill_batch() noexcept;
  static void fill_batch_done(Operation& op, int result, std::uint32_t flags) noexcept;
  void end_fill() noexcept;
  // Puts the leases of buffers [first, last) into the pool (or hands them to waiters), the
  // lowest index to go out first: the whole buffers (kWhole), the small slots (kSmall).
  static constexpr unsigned kWhole = 1, kSmall = 2;
  void lend(std::size_t first, std::size_t last, unsigned what) noexcept;
  // The whole buffers of [first, last), to go out after those already free.
  void lend_last(std::size_t first, std::size_t last) noexcept;
  BufferSize kind_for(BufferSize size) const noexcept {
    return small_slots_ > 0 ? size : BufferSize::chunk;
  }
  static int slot(BufferSize size) noexcept { return size == BufferSize::chunk ? 0 : 1; }
  bool is_small(std::uint32_t index) const noexcept { return index >= chunks_; }
  std::size_t offset_of(std::uint32_t index) const noexcept {
    if (!is_small(index)) return std::size_t{index} * buffer_bytes_;
    const std::size_t slot = index - chunks_;
    return (chunks_ + slot / slots_per_buffer_) * buffer_bytes_ +
           slot % slots_per_buffer_ * slot_bytes_;
  }

  // Leases are numbered: whole buffers 0..chunks_-1, then the small slots, which live in the
  // buffers after the whole ones.
  Ring& ring_;
  std::byte* region_ = nullptr;
  std::size_t region_bytes_ = 0;
  std::size_t buffer_bytes_ = 0;
  std::size_t chunks_ = 0;
  std::size_t slot_bytes_ = 0;
  std::size_t slots_per_buffer_ = 1;
  std::size_t small_slots_ = 0;
  std::size_t registered_ = 0;  // buffers registered, counted from the start of the region
  // Free leases, whole and small, each a stack: the most recently used one is still in cache.
  std::vector<std::uint32_t> free_[2];
  struct WaitList {
    Acquire* head = nullptr;
    Acquire* tail = nullptr;
  };
  WaitList waiters_[2];

  // The background fill (I/O thread) registers buffers [0, fill_end_): [0, lent_) are done and
  // lent, and the batch [lent_, lent_ + batch_) is being faulted in while fill_op_ is in flight.
  struct FillOp : Operation {
    BufferPool* pool = nullptr;
  };
  FillOp fill_op_{};
  std::vector<iovec> iovecs_;
  std::size_t lent_ = 0;
  std::size_t fill_end_ = 0;
  std::size_t batch_ = 0;
  bool filling_ = false;
  bool fill_in_flight_ = false;
  bool stopping_ = false;
};

inline std::span<std::byte> BufferLease::bytes() const noexcept {
  return {pool_->region_ + pool_->offset_of(index_),
          pool_->is_small(index_) ? pool_->slot_bytes_ : pool_->buffer_bytes_};
}

inline int BufferLease::registered_index() const noexcept {
  // A slot reads into the registered buffer that holds it.
  const std::size_t buffer = pool_->offset_of(index_) / pool_->buffer_bytes_;
  return buffer < pool_->registered_ ? static_cast<int>(buffer) : -1;
}

}  // namespace piperun::io
