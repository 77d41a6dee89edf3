// Fixed-size I/O buffers carved from one page-aligned region, registered with the ring where
// RLIMIT_MEMLOCK allows (READ_FIXED skips the per-I/O page pinning).
//
// Ownership: a buffer is lent as a move-only BufferLease; the lease returns it when destroyed.
// Hand the lease to whoever needs the bytes last; the kernel and TBB workers only ever see the
// bytes of a lease someone on the I/O thread still holds.
// Backpressure: acquire() suspends when every buffer is out and resumes, in FIFO order, when
// one comes back. The pool never allocates past its size.
// Threading: the I/O thread only (leases are returned there too).
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <memory>
#include <span>
#include <system_error>
#include <utility>
#include <vector>

#include "io/ring.hpp"

namespace piperun::io {

class BufferPool;

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
    bool register_with_ring = true;
  };

  // Maps the region and registers as many buffers as RLIMIT_MEMLOCK lets us pin (all, fewer,
  // or none: unregistered buffers use plain reads).
  static std::expected<std::unique_ptr<BufferPool>, std::error_code> create(Ring& ring,
                                                                            const Options& options);
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  class Acquire {
   public:
    explicit Acquire(BufferPool& pool) : pool_(&pool) {}
    bool await_ready() noexcept;
    void await_suspend(std::coroutine_handle<> waiter) noexcept;
    BufferLease await_resume() noexcept { return BufferLease(pool_, index_); }

   private:
    friend class BufferPool;
    BufferPool* pool_;
    std::uint32_t index_ = 0;
    std::coroutine_handle<> waiter_;
    Acquire* next_ = nullptr;
  };

  // co_await pool.acquire() -> BufferLease; waits while the pool is empty.
  Acquire acquire() noexcept { return Acquire(*this); }
  // A lease now, or an empty one when none is free.
  BufferLease try_acquire() noexcept;

  std::size_t buffer_bytes() const noexcept { return buffer_bytes_; }
  std::size_t capacity() const noexcept { return count_; }
  std::size_t available() const noexcept { return free_.size(); }
  std::size_t registered_count() const noexcept { return registered_; }
  std::size_t waiters() const noexcept;

 private:
  friend class BufferLease;
  BufferPool(Ring& ring) : ring_(ring) {}
  void give_back(std::uint32_t index) noexcept;

  Ring& ring_;
  std::byte* region_ = nullptr;
  std::size_t region_bytes_ = 0;
  std::size_t buffer_bytes_ = 0;
  std::size_t count_ = 0;
  std::size_t registered_ = 0;
  std::vector<std::uint32_t> free_;  // a stack: the most recently used buffer is still in cache
  Acquire* waiters_head_ = nullptr;
  Acquire* waiters_tail_ = nullptr;
};

inline std::span<std::byte> BufferLease::bytes() const noexcept {
  return {pool_->region_ + std::size_t{index_} * pool_->buffer_bytes_, pool_->buffer_bytes_};
}

inline int BufferLease::registered_index() const noexcept {
  return index_ < pool_->registered_ ? static_cast<int>(index_) : -1;
}

}  // namespace piperun::io
