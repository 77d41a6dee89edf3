// An output file that appears atomically: bytes go to a temporary file in the final file's own
// directory, written by a background thread, and commit() renames it onto the final name. A
// reader of the final name sees the previous file, or nothing, until the complete new one.
//
// Threads: one owner thread (the I/O thread) calls open, append, commit and abandon; only
// append must be cheap, so it never touches the disk: it copies small appends into a staging
// buffer and hands ~256 KiB buffers (or a large append as is) to the writer thread through a
// mutex-guarded queue, holding the mutex only to push. The writer thread owns the descriptor
// while it runs and makes every write(2). open, commit and abandon block (directories, join,
// fsync, rename): call them before the run starts and after it ends.
//
// Memory: the queue has no bound, because append may not wait; the manifest and checksum
// files are small beside the data the run reads, so the writer thread keeps up.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <expected>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>

namespace piperun::pipeline {

class OutputFile {
 public:
  // Appends are coalesced until the staging buffer holds this much, then handed over.
  static constexpr std::size_t kHandOverBytes = 256 * 1024;

  OutputFile() = default;
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  // Abandons the file (removes the temporary) unless commit() or abandon() ran.
  ~OutputFile();

  // Creates final_path's parent directories and a new temporary file beside final_path,
  // ".<name>.pipe-run-tmp.<pid>.<random>", mode 0644 less the umask, and starts the writer
  // thread. The error names the path and the reason. Call once.
  std::expected<void, std::string> open(const std::filesystem::path& final_path);

  // Owner thread, after a successful open() and before commit()/abandon(). Never blocks on
  // I/O. A write error is kept and reported by commit(); later appends are then dropped.
  void append(std::string&& bytes);
  // Appending in place, without a string per append: write at the end of staging(), then call
  // staged(), which hands the buffer over once it is large enough.
  std::string& staging();
  void staged();

  // Hands over what is staged, waits until the writer thread has written everything, then
  // (with fsync) flushes the file, renames it onto final_path and (with fsync) flushes the
  // directory, so the rename is durable too. Any write error since open() is reported here,
  // naming the path; on error the temporary file is removed and final_path is left as it was.
  std::expected<void, std::string> commit(bool fsync);

  // Stops the writer thread, dropping what it has not written, and removes the temporary
  // file. Nothing appears under final_path. Safe to call more than once, or without open().
  void abandon() noexcept;

  bool is_open() const { return state_ == State::open; }
  const std::filesystem::path& final_path() const { return final_path_; }
  const std::filesystem::path& temp_path() const { return temp_path_; }

 private:
  enum class State { idle, open, committed, abandoned };

  void hand_over(std::string&& buffer);
  void stop_writer(bool discard) noexcept;
  void remove_temp() noexcept;
  void run_writer();
  std::string describe_error(const char* action, int error) const;

  // Owner thread only.
  State state_ = State::idle;
  std::filesystem::path final_path_;
  std::filesystem::path temp_path_;
  std::string staging_;
  std::thread writer_;
  int fd_ = -1;  // also used by the writer thread, which is joined before the owner reuses it

  // Shared with the writer thread, guarded by mutex_.
  std::mutex mutex_;
  std::condition_variable wake_writer_;
  std::deque<std::string> queue_;
  bool closing_ = false;  // no more buffers will come: write what is queued, then exit
  // abandon: drop what is queued and exit. Atomic so that the writer thread can also see it
  // between the buffers of a batch it has taken, without the mutex.
  std::atomic<bool> discard_ = false;

  // Written by the writer thread only; read by the owner after join().
  int write_errno_ = 0;
};

}  // namespace piperun::pipeline
