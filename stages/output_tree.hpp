// A directory tree that a run fills with complete files only: the write stage's output.dir (and
// the file:// store's). Files are written under a temporary name beside their target and
// renamed when complete. A lock file marks a run in progress: found unlocked at the start, it
// means an earlier run died, and its temporaries are removed before this one begins.
#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_set>

#include "io/ring.hpp"
#include "pipeline/stage.hpp"
#include "pipeline/task.hpp"

namespace piperun::stages {

class OutputTree {
 public:
  // Temporary files are named `<kTempPrefix><pid>-<n><kTempSuffix>`.
  static constexpr std::string_view kTempPrefix = ".pipe-run-";
  static constexpr std::string_view kTempSuffix = ".tmp";
  static constexpr std::string_view kLockName = ".pipe-run.lock";

  explicit OutputTree(std::filesystem::path dir);
  ~OutputTree();  // removes the lock file
  OutputTree(const OutputTree&) = delete;
  OutputTree& operator=(const OutputTree&) = delete;

  // Before the run (may block): creates the directory, takes the lock, removes what a dead run
  // left. Fails when another run holds the lock.
  std::expected<void, std::string> open();

  const std::filesystem::path& dir() const { return dir_; }
  // Paths below are relative to this descriptor.
  int fd() const { return fd_; }

  // Whether `rel` is a path that stays below the tree: relative, no "." or ".." component, no
  // empty one. The kernel checks again at open (RESOLVE_BENEATH), symlinks included.
  static bool stays_inside(std::string_view rel);

  // Creates the missing directories above `rel`, through the ring.
  pipeline::task<pipeline::Status> make_parents(io::Ring& ring, std::string_view rel);

  // "STEP <tree>/<rel>: why", naming a symlink that leads out of the tree as such.
  pipeline::Failure describe_failure(std::string_view step, std::string_view rel,
                                     const std::error_code& error) const;

  // Whether `rel` is a regular file of `size` bytes with `mtime_ns`, as this tree's writers
  // leave what they wrote (resume: pipeline::Stage::outputs_hold).
  pipeline::task<bool> holds(io::Ring& ring, const std::string& rel, std::uint64_t size,
                             std::int64_t mtime_ns);

  // A fresh temporary name in the directory of `rel`.
  std::string temp_path_for(std::string_view rel);

  // Flushes every directory this run created or wrote into, and the tree's own.
  pipeline::task<pipeline::Status> sync_directories(io::Ring& ring);
  void wrote_into(std::string_view rel);

 private:
  std::filesystem::path dir_;
  int fd_ = -1;
  int lock_fd_ = -1;
  std::string pid_hex_;
  std::uint64_t next_temp_ = 0;
  std::unordered_set<std::string> made_dirs_;   // known to exist
  std::unordered_set<std::string> dirty_dirs_;  // hold files this run renamed into place
};

}  // namespace piperun::stages
