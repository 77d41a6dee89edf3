#include "pipeline/output_file.hpp"

#include <cassert>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <fcntl.h>
#include <pthread.h>
#include <string_view>
#include <sys/random.h>
#include <system_error>
#include <unistd.h>
#include <utility>

#include <fmt/format.h>

namespace piperun::pipeline {
namespace {

// Keeps ".<name>.pipe-run-tmp.<pid>.<random>" under NAME_MAX (255) for any final name.
constexpr std::size_t kMaxNameInTempName = 160;
constexpr int kTempNameAttempts = 16;

std::string error_text(int error) {
  return std::system_category().message(error);
}

std::uint64_t random_suffix() {
  std::uint64_t value = 0;
  // Uniqueness comes from O_EXCL; randomness only makes a collision unlikely, so a clock is a
  // good enough fallback when getrandom is unavailable (seccomp, very old kernel).
  if (::getrandom(&value, sizeof value, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof value)) {
    value = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  }
  return value;
}

std::filesystem::path directory_of(const std::filesystem::path& file) {
  std::filesystem::path parent = file.parent_path();
  return parent.empty() ? std::filesystem::path(".") : parent;
}

// Writes all of `bytes`; returns 0 or the errno of the write that failed. A short write is
// not an error by itself: the next write says why (ENOSPC, EFBIG, EIO...).
int write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t written = ::write(fd, bytes.data(), bytes.size());
    if (written < 0) {
      // EINTR: a signal arrived before anything was written; nothing is lost, write again.
      if (errno == EINTR) continue;
      return errno;
    }
    // A regular file never returns 0 for a non-empty write; do not spin if one does.
    if (written == 0) return EIO;
    bytes.remove_prefix(static_cast<std::size_t>(written));
  }
  return 0;
}

}  // namespace

OutputFile::~OutputFile() {
  abandon();
}

std::expected<void, std::string> OutputFile::open(const std::filesystem::path& final_path) {
  if (state_ != State::idle) {
    return std::unexpected(fmt::format("'{}': output file opened twice", final_path.string()));
  }
  const std::string name = final_path.filename().string();
  if (name.empty() || name == "." || name == "..") {
    return std::unexpected(fmt::format("'{}': not a file name", final_path.string()));
  }
  const std::filesystem::path directory = directory_of(final_path);
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) {
    return std::unexpected(
        fmt::format("cannot create directory '{}': {}", directory.string(), error.message()));
  }

  const std::string name_part = name.substr(0, kMaxNameInTempName);
  int fd = -1;
  std::filesystem::path temp_path;
  for (int attempt = 0; attempt < kTempNameAttempts; ++attempt) {
    temp_path = directory / fmt::format(".{}.pipe-run-tmp.{}.{:016x}", name_part,
                                        static_cast<long>(::getpid()), random_suffix());
    fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    // EEXIST: another run (or a crashed one) holds this name; draw another.
    if (fd >= 0 || errno != EEXIST) break;
  }
  if (fd < 0) {
    return std::unexpected(fmt::format("cannot create a temporary file for '{}' in '{}': {}",
                                       final_path.string(), directory.string(), error_text(errno)));
  }

  final_path_ = final_path;
  temp_path_ = std::move(temp_path);
  fd_ = fd;
  closing_ = false;
  discard_ = false;
  write_errno_ = 0;

  // The writer thread takes no signals: they belong to the I/O thread (signalfd, handlers).
  sigset_t all_signals;
  sigset_t previous;
  sigfillset(&all_signals);
  pthread_sigmask(SIG_SETMASK, &all_signals, &previous);
  try {
    writer_ = std::thread([this] { run_writer(); });
  } catch (const std::system_error& spawn_error) {
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    ::close(fd_);
    fd_ = -1;
    remove_temp();
    return std::unexpected(fmt::format("cannot start the writer thread for '{}': {}",
                                       final_path_.string(), spawn_error.what()));
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  state_ = State::open;
  return {};
}

void OutputFile::append(std::string&& bytes) {
  assert(state_ == State::open);
  if (state_ != State::open || bytes.empty()) return;
  if (bytes.size() >= kHandOverBytes) {
    // Large enough to be written on its own: move it, keeping the order of the bytes.
    if (!staging_.empty()) hand_over(std::exchange(staging_, std::string()));
    hand_over(std::move(bytes));
    return;
  }
  if (staging_.capacity() < kHandOverBytes) staging_.reserve(kHandOverBytes);
  staging_.append(bytes);
  if (staging_.size() >= kHandOverBytes) hand_over(std::exchange(staging_, std::string()));
}

std::string& OutputFile::staging() {
  assert(state_ == State::open);
  if (staging_.capacity() < kHandOverBytes) staging_.reserve(kHandOverBytes);
  return staging_;
}

void OutputFile::staged() {
  if (state_ == State::open && staging_.size() >= kHandOverBytes) {
    hand_over(std::exchange(staging_, std::string()));
  }
}

void OutputFile::hand_over(std::string&& buffer) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(buffer));
  }
  wake_writer_.notify_one();
}

void OutputFile::run_writer() {
  std::deque<std::string> batch;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_writer_.wait(lock, [this] { return !queue_.empty() || closing_ || discard_; });
      if (discard_ || queue_.empty()) return;
      batch.swap(queue_);
    }
    for (const std::string& buffer : batch) {
      // After the first error the file is lost anyway: keep taking buffers only to free them.
      if (write_errno_ != 0 || discard_.load(std::memory_order_relaxed)) break;
      write_errno_ = write_all(fd_, buffer);
    }
    batch.clear();
  }
}

void OutputFile::stop_writer(bool discard) noexcept {
  if (!writer_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
    if (discard) discard_ = true;
  }
  wake_writer_.notify_one();
  writer_.join();
}

std::string OutputFile::describe_error(const char* action, int error) const {
  return fmt::format("cannot {} '{}': {}", action, final_path_.string(), error_text(error));
}

std::expected<void, std::string> OutputFile::commit(bool fsync) {
  if (state_ != State::open) {
    return std::unexpected(
        fmt::format("'{}': commit of an output file that is not open", final_path_.string()));
  }
  if (!staging_.empty()) hand_over(std::exchange(staging_, std::string()));
  stop_writer(/*discard=*/false);

  auto fail = [this](std::string message) -> std::expected<void, std::string> {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    remove_temp();
    state_ = State::abandoned;
    return std::unexpected(std::move(message));
  };
  if (write_errno_ != 0) return fail(describe_error("write", write_errno_));
  if (fsync && ::fsync(fd_) != 0) return fail(describe_error("flush", errno));
  const int fd = std::exchange(fd_, -1);
  // EINTR from close: Linux has released the descriptor already and there is nothing to
  // retry; any other error (NFS, FUSE) means bytes may be missing.
  if (::close(fd) != 0 && errno != EINTR) return fail(describe_error("write", errno));
  if (::rename(temp_path_.c_str(), final_path_.c_str()) != 0) {
    const int rename_errno = errno;
    return fail(fmt::format("cannot rename '{}' to '{}': {}", temp_path_.string(),
                            final_path_.string(), error_text(rename_errno)));
  }
  state_ = State::committed;

  if (fsync) {
    const std::filesystem::path directory = directory_of(final_path_);
    const int directory_fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (directory_fd < 0) {
      return std::unexpected(fmt::format("cannot open directory '{}' to flush '{}': {}",
                                         directory.string(), final_path_.string(),
                                         error_text(errno)));
    }
    int flush_errno = ::fsync(directory_fd) == 0 ? 0 : errno;
    ::close(directory_fd);
    // EINVAL: this filesystem cannot fsync a directory; the rename is as durable as it gets.
    if (flush_errno == EINVAL) flush_errno = 0;
    if (flush_errno != 0) {
      return std::unexpected(fmt::format("cannot flush directory '{}' after renaming '{}': {}",
                                         directory.string(), final_path_.string(),
                                         error_text(flush_errno)));
    }
  }
  return {};
}

void OutputFile::abandon() noexcept {
  if (state_ != State::open) return;
  staging_ = std::string();
  stop_writer(/*discard=*/true);
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  remove_temp();
  state_ = State::abandoned;
}

void OutputFile::remove_temp() noexcept {
  if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
}

}  // namespace piperun::pipeline
