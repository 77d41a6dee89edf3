#include "cli/console.hpp"

#include <cerrno>
#include <unistd.h>

namespace piperun::cli {
namespace {

constexpr std::string_view kEraseLine = "\r\x1b[K";

}  // namespace

void Console::line(std::string_view text) {
  std::lock_guard lock(mutex_);
  buffer_.clear();
  if (live_shown_) buffer_ += kEraseLine;
  live_shown_ = false;
  buffer_ += text;
  buffer_ += '\n';
  write_locked(buffer_);
}

void Console::draw_live(std::string_view text) {
  std::lock_guard lock(mutex_);
  buffer_.assign(kEraseLine);
  buffer_ += text;
  live_shown_ = true;
  write_locked(buffer_);
}

void Console::clear_live() {
  std::lock_guard lock(mutex_);
  if (!live_shown_) return;
  live_shown_ = false;
  write_locked(kEraseLine);
}

// One write(2) per call where the terminal takes it: a line never arrives in pieces.
void Console::write_locked(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t written = ::write(STDERR_FILENO, bytes.data(), bytes.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return;  // stderr is gone: nothing to tell anyone
    }
    bytes.remove_prefix(static_cast<std::size_t>(written));
  }
}

}  // namespace piperun::cli
