#include "stages/output_tree.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/core.h>

#include "io/ops.hpp"

namespace piperun::stages {
namespace {

namespace fs = std::filesystem;

std::string_view parent_of(std::string_view rel) {
  const std::size_t slash = rel.rfind('/');
  return slash == std::string_view::npos ? std::string_view() : rel.substr(0, slash);
}

bool is_leftover(const fs::path& name) {
  const std::string text = name.filename().string();
  return text.starts_with(OutputTree::kTempPrefix) && text.ends_with(OutputTree::kTempSuffix);
}

// Removes the temporaries of a dead run, never following symlinks out of the tree.
std::expected<void, std::string> remove_leftovers(const fs::path& dir) {
  std::error_code error;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, error);
  for (const fs::recursive_directory_iterator end; !error && it != end; it.increment(error)) {
    if (it->is_regular_file(error) && !it->is_symlink(error) && is_leftover(it->path())) {
      fs::remove(it->path(), error);
      if (error) {
        return std::unexpected(
            fmt::format("cannot remove leftover {}: {}", it->path().string(), error.message()));
      }
    }
  }
  if (error) {
    return std::unexpected(
        fmt::format("cannot scan {} for leftovers: {}", dir.string(), error.message()));
  }
  return {};
}

}  // namespace

OutputTree::OutputTree(fs::path dir)
    : dir_(std::move(dir)), pid_hex_(fmt::format("{:x}", ::getpid())) {}

OutputTree::~OutputTree() {
  if (lock_fd_ >= 0) {
    ::unlinkat(fd_, std::string(kLockName).c_str(), 0);
    ::close(lock_fd_);  // drops the flock
  }
  if (fd_ >= 0) ::close(fd_);
}

std::expected<void, std::string> OutputTree::open() {
  std::error_code error;
  fs::create_directories(dir_, error);
  if (error) {
    return std::unexpected(
        fmt::format("cannot create output directory {}: {}", dir_.string(), error.message()));
  }
  fd_ = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd_ < 0) {
    return std::unexpected(
        fmt::format("cannot open output directory {}: {}", dir_.string(), std::strerror(errno)));
  }
  const std::string lock_name(kLockName);
  const fs::path lock_path = dir_ / lock_name;
  bool dead_run = false;
  lock_fd_ = ::openat(fd_, lock_name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (lock_fd_ < 0 && errno == EEXIST) {
    dead_run = true;  // unless it is still alive: the flock tells
    lock_fd_ = ::openat(fd_, lock_name.c_str(), O_RDWR | O_CLOEXEC);
  }
  if (lock_fd_ < 0) {
    return std::unexpected(
        fmt::format("cannot create lock file {}: {}", lock_path.string(), std::strerror(errno)));
  }
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int flock_error = errno;
    ::close(lock_fd_);
    lock_fd_ = -1;  // not ours: leave it
    if (flock_error == EWOULDBLOCK) {
      return std::unexpected(fmt::format("another pipe-run is writing to {} (it holds {})",
                                         dir_.string(), lock_path.string()));
    }
    return std::unexpected(
        fmt::format("cannot lock {}: {}", lock_path.string(), std::strerror(flock_error)));
  }
  if (dead_run) return remove_leftovers(dir_);
  return {};
}

bool OutputTree::stays_inside(std::string_view rel) {
  if (rel.empty() || rel.front() == '/') return false;
  for (std::size_t start = 0; start <= rel.size();) {
    const std::size_t slash = std::min(rel.find('/', start), rel.size());
    const std::string_view part = rel.substr(start, slash - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = slash + 1;
  }
  return true;
}

pipeline::task<pipeline::Status> OutputTree::make_parents(io::Ring& ring, std::string_view rel) {
  const std::string_view parent = parent_of(rel);
  if (parent.empty() || made_dirs_.contains(std::string(parent))) co_return pipeline::Status{};
  // From the top down; a directory another file is creating right now gives EEXIST: fine. Each
  // one is made inside its parent opened with RESOLVE_BENEATH, because mkdirat would follow a
  // symlinked directory of the tree and create the rest wherever that leads.
  for (std::size_t end = 0; end != std::string_view::npos;) {
    end = parent.find('/', end + 1);
    std::string dir(parent.substr(0, end));
    if (made_dirs_.contains(dir)) continue;
    const std::string_view above = parent_of(dir);
    int above_fd = fd_;
    if (!above.empty()) {
      const std::string above_path(above);
      auto opened = co_await io::OpenAt2(ring, fd_, above_path.c_str(), O_RDONLY | O_DIRECTORY, 0,
                                         RESOLVE_BENEATH);
      if (!opened) co_return std::unexpected(describe_failure("mkdir", dir, opened.error()));
      above_fd = *opened;
    }
    const std::string leaf(above.empty() ? std::string_view(dir) : dir.substr(above.size() + 1));
    auto made = co_await io::MkdirAt(ring, above_fd, leaf.c_str(), 0777);
    if (above_fd != fd_) (void)co_await io::Close(ring, above_fd);
    if (!made && made.error().value() != EEXIST)
      co_return std::unexpected(describe_failure("mkdir", dir, made.error()));
    made_dirs_.insert(std::move(dir));
  }
  co_return pipeline::Status{};
}

pipeline::Failure OutputTree::describe_failure(std::string_view step, std::string_view rel,
                                               const std::error_code& error) const {
  // RESOLVE_BENEATH refuses a path that a symlink leads out of the tree with EXDEV, whose own
  // text ("Invalid cross-device link") would puzzle.
  const std::string reason = error.value() == EXDEV
                                 ? std::string("a symlink leads out of the output tree")
                                 : error.message();
  return pipeline::Failure{fmt::format("{} {}: {}", step, (dir_ / rel).string(), reason)};
}

pipeline::task<bool> OutputTree::holds(io::Ring& ring, const std::string& rel, std::uint64_t size,
                                       std::int64_t mtime_ns) {
  if (!stays_inside(rel)) co_return false;
  struct statx stat {};
  auto stated = co_await io::Statx(ring, fd_, rel.c_str(), AT_SYMLINK_NOFOLLOW,
                                   STATX_TYPE | STATX_SIZE | STATX_MTIME, &stat);
  if (!stated) co_return false;
  co_return S_ISREG(stat.stx_mode) &&
      stat.stx_size == size&& io::nanoseconds(stat.stx_mtime) == mtime_ns;
}

std::string OutputTree::temp_path_for(std::string_view rel) {
  const std::string_view parent = parent_of(rel);
  std::string path;
  if (!parent.empty()) {
    path = parent;
    path += '/';
  }
  path += fmt::format("{}{}-{:x}{}", kTempPrefix, pid_hex_, next_temp_++, kTempSuffix);
  return path;
}

void OutputTree::wrote_into(std::string_view rel) {
  dirty_dirs_.emplace(parent_of(rel));
}

pipeline::task<pipeline::Status> OutputTree::sync_directories(io::Ring& ring) {
  // A new directory's entry lives in its parent: flush every directory made, and the root.
  for (const std::string& dir : made_dirs_)
    dirty_dirs_.insert(dir);
  dirty_dirs_.insert(std::string());
  for (const std::string& dir : dirty_dirs_) {
    const char* path = dir.empty() ? "." : dir.c_str();
    auto opened = co_await io::OpenAt2(ring, fd_, path, O_RDONLY | O_DIRECTORY, 0, RESOLVE_BENEATH);
    if (!opened) {
      co_return std::unexpected(pipeline::Failure{
          fmt::format("open {} to flush it: {}", (dir_ / dir).string(), opened.error().message())});
    }
    auto synced = co_await io::Fsync(ring, *opened);
    (void)co_await io::Close(ring, *opened);
    if (!synced) {
      co_return std::unexpected(pipeline::Failure{
          fmt::format("fsync {}: {}", (dir_ / dir).string(), synced.error().message())});
    }
  }
  co_return pipeline::Status{};
}

}  // namespace piperun::stages
