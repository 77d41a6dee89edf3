// Awaitable ring operations. Each awaitable is the Operation the ring completes: it lives in
// the awaiting coroutine's frame, so an operation costs no allocation.
//
// Results are values: std::expected<T, std::error_code> carrying the kernel's errno.
// Retried here, invisibly to the caller: -EAGAIN and -EINTR (the request was not done, doing it
// again is safe), and short reads and writes (the rest is re-issued until done or EOF).
#pragma once

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <fcntl.h>
#include <linux/openat2.h>
#include <linux/stat.h>
#include <span>
#include <sys/types.h>
#include <system_error>

#include <liburing.h>

#include "io/ring.hpp"

namespace piperun::io {

inline std::error_code errno_code(int negative_errno) {
  return {-negative_errno, std::system_category()};
}

inline bool is_transient(int result) {
  return result == -EAGAIN || result == -EINTR;
}

// A one-shot operation: submitted when awaited, resumes the awaiting coroutine on completion.
class OneShotOp : public Operation {
 public:
  OneShotOp(const OneShotOp&) = delete;
  OneShotOp& operator=(const OneShotOp&) = delete;

  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> waiter) noexcept {
    waiter_ = waiter;
    ring_->submit(*this);
  }

 protected:
  OneShotOp(Ring& ring, PrepareFn prepare_fn, bool retry_transient) : ring_(&ring) {
    prepare = prepare_fn;
    complete = retry_transient ? &complete_retrying : &complete_once;
  }
  int result() const noexcept { return result_; }

 private:
  static void complete_once(Operation& self, int result, std::uint32_t) {
    auto& op = static_cast<OneShotOp&>(self);
    op.result_ = result;
    op.waiter_.resume();
  }
  static void complete_retrying(Operation& self, int result, std::uint32_t flags) {
    auto& op = static_cast<OneShotOp&>(self);
    if (is_transient(result)) {
      op.ring_->submit(op);
      return;
    }
    complete_once(self, result, flags);
  }

  Ring* ring_;
  int result_ = 0;
  std::coroutine_handle<> waiter_;
};

// An operation whose result is success or an errno.
class StatusOp : public OneShotOp {
 public:
  std::expected<void, std::error_code> await_resume() const noexcept {
    if (result() < 0) return std::unexpected(errno_code(result()));
    return {};
  }

 protected:
  using OneShotOp::OneShotOp;
};

// An operation that resumes with a new file descriptor.
class FdOp : public OneShotOp {
 public:
  std::expected<int, std::error_code> await_resume() const noexcept {
    if (result() < 0) return std::unexpected(errno_code(result()));
    return result();
  }

 protected:
  using OneShotOp::OneShotOp;
};

// openat(2): resumes with the new file descriptor. `path` must outlive the operation.
class OpenAt final : public FdOp {
 public:
  OpenAt(Ring& ring, int dir_fd, const char* path, int flags, mode_t mode = 0)
      : FdOp(ring, &prep, true), dir_fd_(dir_fd), path_(path), flags_(flags), mode_(mode) {}

 private:
  static void prep(Operation& self, io_uring_sqe& sqe) {
    auto& op = static_cast<OpenAt&>(self);
    io_uring_prep_openat(&sqe, op.dir_fd_, op.path_, op.flags_ | O_CLOEXEC, op.mode_);
  }
  int dir_fd_;
  const char* path_;
  int flags_;
  mode_t mode_;
};

// openat2(2) with RESOLVE_* flags (`resolve`), e.g. RESOLVE_BENEATH so that `path` cannot
// leave `dir_fd`. Resumes with the new file descriptor. `path` must outlive the operation.
class OpenAt2 final : public FdOp {
 public:
  OpenAt2(Ring& ring, int dir_fd, const char* path, int flags, mode_t mode, std::uint64_t resolve)
      : FdOp(ring, &prep, true), dir_fd_(dir_fd), path_(path) {
    how_.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
    how_.mode = mode;
    how_.resolve = resolve;
  }

 private:
  static void prep(Operation& self, io_uring_sqe& sqe) {
    auto& op = static_cast<OpenAt2&>(self);
    io_uring_prep_openat2(&sqe, op.dir_fd_, op.path_, &op.how_);
  }
  int dir_fd_;
  const char* path_;
  open_how how_{};
};

// mkdirat(2). `path` must outlive the operation.
class MkdirAt final : public StatusOp {
 public:
  MkdirAt(Ring& ring, int dir_fd, const char* path, mode_t mode)
      : StatusOp(ring, &prep, true), dir_fd_(dir_fd), path_(path), mode_(mode) {}

 private:
  static void prep(Operation& self, io_uring_sqe& sqe) {
    auto& op = static_cast<MkdirAt&>(self);
    io_uring_prep_mkdirat(&sqe, op.dir_fd_, op.path_, op.mode_);
  }
  int dir_fd_;
  const char* path_;
  mode_t mode_;
};

// unlinkat(2) of a file. `path` must outlive the operation.
class UnlinkAt final : public StatusOp {
 public:
  UnlinkAt(Ring& ring, int dir_fd, const char* path)
      : StatusOp(ring, &prep, true), dir_fd_(dir_fd), path_(path) {}

 private:
  static void prep(Operation& self, io_uring_sqe& sqe) {
    auto& op = static_cast<UnlinkAt&>(self);
    io_uring_prep_unlinkat(&sqe, op.dir_fd_, op.path_, 0);
  }
  int dir_fd_;
  const char* path_;
};

// fsync(2): data and metadata of `fd` (a file or a directory) on stable storage.
class Fsync final : public StatusOp {
 public:
  Fsync(Ring& ring, int fd) : StatusOp(ring, &prep, true), fd_(fd) {}

 private:
  static void prep(Operation& self, io_uring_sqe& sqe) {
    io_uring_prep_fsync(&sqe, static_cast<Fsync&>(self).fd_, 0);
  }
  int fd_;
};

// A statx time as nanoseconds since the epoch, as the manifest and FileInfo count them.
inline std::int64_t nanoseconds(const statx_timestamp& time) noexcept {
  return time.tv_sec * 1'000'000'000LL + time.tv_nsec;
}

// statx(2) into `*out`, which must outlive the operation. For an open file: path "" with
// AT_EMPTY_PATH.
class Statx final : public StatusOp {
 public:
  Statx(Ring& ring, int dir_fd, const char* path, int flags, unsigned mask, struct statx* out)
      : StatusOp(ring, &prep, true),
        dir_fd_(dir_fd),
        path_(path),
        flags_(flags),
        mask_(mask),
        out_(out) {}

 private:
  static void prep(Operation& self, io_uring_sqe& sqe) {
    auto& op = static_cast<Statx&>(self);
    io_uring_prep_statx(&sqe, op.dir_fd_, op.path_, op.flags_, op.mask_, op.out_);
  }
  int dir_fd_;
  const char* path_;
  int flags_;
  unsigned mask_;
  struct statx* out_;
};

// close(2). Never retried: on Linux the descriptor is gone even when close reports EINTR.
class Close final : public StatusOp {
 public:
  Close(Ring& ring, int fd) : StatusOp(ring, &prep, false), fd_(fd) {}

 private:
  static void prep(Operation& self, io_uring_sqe& sqe) {
    io_uring_prep_close(&sqe, static_cast<Close&>(self).fd_);
  }
  int fd_;
};

// Cancels `target`, an operation in flight: it then completes with -ECANCELED (or with its
// own result, if it was already done). Resumes once the kernel has handled the request;
// -ENOENT means there was nothing left to cancel.
class Cancel final : public StatusOp {
 public:
  Cancel(Ring& ring, const Operation& target) : StatusOp(ring, &prep, false), target_(&target) {}

 private:
  static void prep(Operation& self, io_uring_sqe& sqe) {
    io_uring_prep_cancel64(&sqe,
                           reinterpret_cast<std::uintptr_t>(static_cast<Cancel&>(self).target_), 0);
  }
  const Operation* target_;
};

// Resumes after `duration`; -ECANCELED if the ring shuts down first.
class Timeout final : public OneShotOp {
 public:
  Timeout(Ring& ring, std::chrono::nanoseconds duration) : OneShotOp(ring, &prep, false) {
    spec_.tv_sec = static_cast<long long>(duration.count() / 1'000'000'000);
    spec_.tv_nsec = static_cast<long long>(duration.count() % 1'000'000'000);
  }
  std::expected<void, std::error_code> await_resume() const noexcept {
    // -ETIME is the timeout expiring: the expected outcome.
    if (result() < 0 && result() != -ETIME) return std::unexpected(errno_code(result()));
    return {};
  }

 private:
  static void prep(Operation& self, io_uring_sqe& sqe) {
    io_uring_prep_timeout(&sqe, &static_cast<Timeout&>(self).spec_, 0, 0);
  }
  __kernel_timespec spec_{};
};

// Reads or writes a whole range: started with start(), awaited later (or at once), so a file
// flow can keep several in flight. Re-issues the rest after a short transfer; a read that
// returns 0 is EOF and ends the transfer early.
class TransferOp : public Operation {
 public:
  enum class Direction { read, write };

  TransferOp() {
    prepare = &prep;
    complete = &on_complete;
  }
  TransferOp(const TransferOp&) = delete;
  TransferOp& operator=(const TransferOp&) = delete;

  // `buffer` must stay valid and untouched until the operation is awaited. `buffer_index` >= 0
  // names the registered buffer holding `buffer` (READ_FIXED / WRITE_FIXED), -1 a plain one.
  // `short_read_is_eof`: for O_DIRECT, where the rest of a short read would be unaligned.
  // `async`: have an io-wq worker do the transfer (IOSQE_ASYNC) instead of this thread inside
  // io_uring_enter: large cached reads then copy on other cores in parallel.
  // `fixed_file`: `fd` is an index into the ring's registered files.
  void start(Ring& ring, Direction direction, int fd, std::span<std::byte> buffer,
             std::uint64_t offset, int buffer_index, bool short_read_is_eof = false,
             bool async = false, bool fixed_file = false) {
    async_ = async;
    fixed_file_ = fixed_file;
    ring_ = &ring;
    direction_ = direction;
    fd_ = fd;
    buffer_ = buffer;
    offset_ = offset;
    buffer_index_ = buffer_index;
    short_read_is_eof_ = short_read_is_eof;
    done_bytes_ = 0;
    error_ = 0;
    finished_ = false;
    waiter_ = {};
    ring.submit(*this);
  }

  bool finished() const noexcept { return finished_; }

  bool await_ready() const noexcept { return finished_; }
  void await_suspend(std::coroutine_handle<> waiter) noexcept { waiter_ = waiter; }
  // Bytes transferred: the whole buffer, or less when a read met EOF.
  std::expected<std::size_t, std::error_code> await_resume() const noexcept {
    if (error_ != 0) return std::unexpected(errno_code(error_));
    return done_bytes_;
  }

 private:
  static void prep(Operation& self, io_uring_sqe& sqe) {
    auto& op = static_cast<TransferOp&>(self);
    std::byte* data = op.buffer_.data() + op.done_bytes_;
    const auto length = static_cast<unsigned>(op.buffer_.size() - op.done_bytes_);
    const std::uint64_t offset = op.offset_ + op.done_bytes_;
    if (op.direction_ == Direction::read) {
      if (op.buffer_index_ >= 0) {
        io_uring_prep_read_fixed(&sqe, op.fd_, data, length, offset, op.buffer_index_);
      } else {
        io_uring_prep_read(&sqe, op.fd_, data, length, offset);
      }
    } else if (op.buffer_index_ >= 0) {
      io_uring_prep_write_fixed(&sqe, op.fd_, data, length, offset, op.buffer_index_);
    } else {
      io_uring_prep_write(&sqe, op.fd_, data, length, offset);
    }
    if (op.async_) sqe.flags |= IOSQE_ASYNC;
    if (op.fixed_file_) sqe.flags |= IOSQE_FIXED_FILE;
  }

  static void on_complete(Operation& self, int result, std::uint32_t) {
    auto& op = static_cast<TransferOp&>(self);
    if (is_transient(result)) {
      op.ring_->submit(op);
      return;
    }
    if (result < 0) {
      op.error_ = result;
    } else if (result == 0 && op.direction_ == Direction::write) {
      // A write that makes no progress would loop forever.
      op.error_ = -EIO;
    } else {
      op.done_bytes_ += static_cast<std::size_t>(result);
      const bool eof = result == 0 || (op.short_read_is_eof_ && op.direction_ == Direction::read);
      if (op.done_bytes_ < op.buffer_.size() && !eof) {
        op.ring_->submit(op);
        return;
      }
    }
    op.finished_ = true;
    if (op.waiter_) op.waiter_.resume();
  }

  Ring* ring_ = nullptr;
  Direction direction_ = Direction::read;
  int fd_ = -1;
  int buffer_index_ = -1;
  bool short_read_is_eof_ = false;
  bool async_ = false;
  bool fixed_file_ = false;
  bool finished_ = true;
  int error_ = 0;
  std::span<std::byte> buffer_;
  std::uint64_t offset_ = 0;
  std::size_t done_bytes_ = 0;
  std::coroutine_handle<> waiter_;
};

}  // namespace piperun::io
