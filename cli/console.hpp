// stderr shared by the progress display and the messages of a run: a message first erases the
// live progress line, so the two never mix on a terminal. Any thread.
#pragma once

#include <mutex>
#include <string>
#include <string_view>

namespace piperun::cli {

class Console {
 public:
  // A whole line (without its newline).
  void line(std::string_view text);
  // Draws `text` as the live line, in place of the one before (carriage return, erase).
  void draw_live(std::string_view text);
  // Erases the live line, if one is shown.
  void clear_live();

 private:
  void write_locked(std::string_view bytes);
  std::mutex mutex_;
  bool live_shown_ = false;
  std::string buffer_;
};

}  // namespace piperun::cli
