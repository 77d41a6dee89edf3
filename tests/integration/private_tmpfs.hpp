// A tmpfs of the test's own, for tests that need a small or read-only filesystem, or many files
// without leaving ext4 slow to create files afterwards (it scans recently deleted inodes).
#pragma once

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sched.h>
#include <string>
#include <sys/mount.h>

namespace piperun::itest {

// A tmpfs mounted on `dir` in a mount namespace of this test process's own (ctest runs each test
// in a process of its own), so the mount can never outlive the test; the pipe-run processes the
// test starts see it. Needs CAP_SYS_ADMIN: `error()` says why not.
class PrivateTmpfs {
 public:
  PrivateTmpfs(const std::filesystem::path& dir, const std::string& options,
               unsigned long flags = 0)
      : dir_(dir) {
    std::filesystem::create_directories(dir);
    if (::unshare(CLONE_NEWNS) != 0) {
      error_ = std::string("unshare(CLONE_NEWNS): ") + std::strerror(errno);
    } else if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      error_ = std::string("making mounts private: ") + std::strerror(errno);
    } else if (::mount("tmpfs", dir.c_str(), "tmpfs", flags, options.c_str()) != 0) {
      error_ = std::string("mount tmpfs: ") + std::strerror(errno);
    } else {
      mounted_ = true;
    }
  }
  ~PrivateTmpfs() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  PrivateTmpfs(const PrivateTmpfs&) = delete;
  PrivateTmpfs& operator=(const PrivateTmpfs&) = delete;

  const std::string& error() const { return error_; }

 private:
  std::filesystem::path dir_;
  bool mounted_ = false;
  std::string error_;
};

}  // namespace piperun::itest
