// What `pipe-run bench` shows while it runs, on stderr: on a terminal one line redrawn in
// place (at most 10 times a second); elsewhere (CI logs) one line when a row starts and one
// when it ends.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace piperun::bench {

class ProgressLine {
 public:
  explicit ProgressLine(bool terminal) : terminal_(terminal) {}
  ~ProgressLine();

  void start(std::string_view what);
  void update(double fraction);  // 0..1 of the current step
  void finish(std::string_view result);

 private:
  bool terminal_;
  bool drawn_ = false;
  std::string what_;
  std::chrono::steady_clock::time_point started_, last_draw_;
};

}  // namespace piperun::bench
