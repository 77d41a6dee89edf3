// The walk runs on the walker thread; only push(), poll() and the atomics cross threads.
//
// Directories are read with getdents64 and every stat is relative to the directory's fd
// (fstatat), so no full path is resolved per entry and paths longer than PATH_MAX are walked.
// The descent is an explicit stack of frames, not recursion, so depth costs heap, not stack.
// At most kMaxOpenDirectories frames keep their fd open: deeper descents close the oldest,
// and returning to such a frame reopens it through the child's ".." (or its path, for a frame
// reached by a followed symlink), checked against the (dev, ino) it had.
#include "pipeline/walker.hpp"

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <dirent.h>
#include <exception>
#include <fcntl.h>
#include <linux/magic.h>
#include <optional>
#include <pthread.h>
#include <string_view>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <system_error>
#include <unistd.h>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace piperun::pipeline {

namespace {

// Far below the usual 1024 soft limit, which the ring and the open inputs share.
constexpr std::size_t kMaxOpenDirectories = 64;
constexpr std::size_t kDirentBufferBytes = 64 * 1024;

std::string error_text(int err) {
  char buffer[256];
  return strerror_r(err, buffer, sizeof buffer);  // the GNU variant: thread-safe, returns text
}

std::int64_t nanoseconds(const struct timespec& time) {
  return static_cast<std::int64_t>(time.tv_sec) * 1'000'000'000 + time.tv_nsec;
}

std::string join_relative(const std::string& dir, std::string_view name) {
  std::string path;
  path.reserve(dir.size() + 1 + name.size());
  path = dir;
  if (!path.empty()) path += '/';
  path.append(name);
  return path;
}

std::string join_absolute(const std::string& dir, std::string_view name) {
  std::string path;
  path.reserve(dir.size() + 1 + name.size());
  path = dir;
  if (path.empty() || path.back() != '/') path += '/';  // the root "/" already ends in one
  path.append(name);
  return path;
}

std::string without_trailing_slash(std::string path) {
  while (path.size() > 1 && path.back() == '/')
    path.pop_back();
  return path;
}

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(std::exchange(other.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

struct DirId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const DirId&) const = default;
};

struct DirIdHash {
  std::size_t operator()(const DirId& id) const noexcept {
    return std::hash<std::uint64_t>()(static_cast<std::uint64_t>(id.ino) * 0x9e3779b97f4a7c15ULL ^
                                      static_cast<std::uint64_t>(id.dev));
  }
};

std::optional<DirId> dir_id_of(int fd) {
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode)) return std::nullopt;
  return DirId{st.st_dev, st.st_ino};
}

}  // namespace

// The state of one walk: the descent stack of the current root and the filters' view of it.
class Walker::Traversal {
 public:
  explicit Traversal(Walker& walker) : walker_(walker), dirent_buffer_(kDirentBufferBytes) {}

  // False when the walk was asked to stop.
  bool walk_root(const std::filesystem::path& root, bool several_roots);

 private:
  struct Name {
    std::string bytes;
    unsigned char type;  // d_type: DT_UNKNOWN when the filesystem does not say
  };
  struct Frame {
    UniqueFd fd;  // closed while the frame is below the open-directory budget
    DirId id;
    std::string rel;  // relative to the root, without the multi-root prefix; "" for the root
    std::string abs;
    std::vector<Name> names;  // sorted by bytes
    std::size_t next = 0;
  };

  bool descend();
  bool visit(const Frame& dir, const Name& name, std::optional<Frame>& child);
  bool open_directory(int at_fd, const std::string& name, std::string rel, std::string abs,
                      std::optional<Frame>& child);
  bool read_names(Frame& frame);
  void push_frame(Frame frame);
  bool pop_frame();

  bool emit_non_directory(int at_fd, const char* name, const std::string& rel, std::string abs,
                          const struct stat& st);
  bool emit_error(const std::string& rel, std::string abs, std::string message);
  bool on_local_disk(int at_fd, const char* name, dev_t device);

  std::string output_rel(const std::string& rel) const;
  bool selected(std::string_view rel) const;
  bool pruned(std::string_view rel) const;
  bool excluded_path(std::string_view abs) const;
  bool stopping() const { return walker_.stop_requested_.load(std::memory_order_relaxed); }

  Walker& walker_;
  std::vector<char> dirent_buffer_;
  std::vector<Frame> stack_;
  // The open frames are always the top of the stack: stack_[first_open_ ..].
  std::size_t first_open_ = 0;
  std::unordered_set<DirId, DirIdHash> on_stack_;
  std::string root_label_;                      // the root's own folder (or file) name
  std::string prefix_;                          // root_label_ with several roots, else empty
  std::unordered_map<dev_t, bool> local_disk_;  // by st_dev: see on_local_disk
};

// Filesystems whose stat of an open file reads the in-memory inode and never waits for a device
// or a server (FileEntry::local_disk). Network and FUSE filesystems are not among them.
bool is_local_disk(decltype(statfs::f_type) type) {
  switch (type) {
    case EXT4_SUPER_MAGIC:  // also ext2 and ext3
    case XFS_SUPER_MAGIC:
    case BTRFS_SUPER_MAGIC:
    case F2FS_SUPER_MAGIC:
    case TMPFS_MAGIC:
    case RAMFS_MAGIC:
    case OVERLAYFS_SUPER_MAGIC:  // containers' root filesystems
      return true;
    default:
      return false;
  }
}

// Asked once per device: a directory's filesystem is its files' (a file bind-mounted from
// elsewhere is the rare exception, and is then judged by its directory).
bool Walker::Traversal::on_local_disk(int at_fd, const char* name, dev_t device) {
  auto [known, inserted] = local_disk_.try_emplace(device, false);
  if (inserted) {
    struct statfs fs {};
    const int result = at_fd == AT_FDCWD ? ::statfs(name, &fs) : ::fstatfs(at_fd, &fs);
    known->second = result == 0 && is_local_disk(fs.f_type);
  }
  return known->second;
}

bool Walker::Traversal::walk_root(const std::filesystem::path& root, bool several_roots) {
  std::error_code ec;
  const std::filesystem::path absolute = std::filesystem::absolute(root, ec).lexically_normal();
  const std::string abs = without_trailing_slash(ec ? root.string() : absolute.string());
  root_label_ = abs.substr(abs.rfind('/') + 1);
  prefix_ = several_roots ? root_label_ : std::string();
  if (ec) return emit_error("", abs, ec.message());
  if (excluded_path(abs)) return true;

  // A root is followed even when it is a symlink: the user named it.
  struct stat st {};
  if (::stat(abs.c_str(), &st) != 0) return emit_error("", abs, error_text(errno));
  if (!S_ISDIR(st.st_mode)) {
    // A file root's path is its own name, also what include/exclude see.
    if (!selected(root_label_)) return true;
    return emit_non_directory(AT_FDCWD, abs.c_str(), "", abs, st);
  }

  UniqueFd fd(::open(abs.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return emit_error("", abs, error_text(errno));
  const std::optional<DirId> id = dir_id_of(fd.get());
  if (!id) return emit_error("", abs, error_text(errno));
  Frame frame{.fd = std::move(fd), .id = *id, .rel = "", .abs = abs, .names = {}, .next = 0};
  if (!read_names(frame)) return false;
  first_open_ = 0;
  push_frame(std::move(frame));
  return descend();
}

bool Walker::Traversal::descend() {
  while (!stack_.empty()) {
    if (stopping()) return false;
    Frame& top = stack_.back();
    if (top.next == top.names.size()) {
      if (!pop_frame()) return false;
      continue;
    }
    std::optional<Frame> child;
    if (!visit(top, top.names[top.next++], child)) return false;
    if (child) push_frame(*std::move(child));  // after visit: it invalidates `top`
  }
  return true;
}

bool Walker::Traversal::visit(const Frame& dir, const Name& name, std::optional<Frame>& child) {
  const InputOptions& options = walker_.options_;
  if (!options.hidden && name.bytes.front() == '.') return true;
  std::string rel = join_relative(dir.rel, name.bytes);
  std::string abs = join_absolute(dir.abs, name.bytes);
  if (excluded_path(abs)) return true;

  // d_type saves the stat of directories and of files the filters drop; a followed symlink
  // must be stat'ed to know whether it leads to a directory.
  unsigned char type = name.type;
  struct stat st {};
  bool have_stat = false;
  if (type == DT_UNKNOWN || (type == DT_LNK && options.follow_symlinks)) {
    const int flags = options.follow_symlinks ? 0 : AT_SYMLINK_NOFOLLOW;
    if (::fstatat(dir.fd.get(), name.bytes.c_str(), &st, flags) != 0) {
      const int err = errno;
      // Dangling or looping symlinks, entries that vanished: reported like the file they
      // would have been, so the filters apply.
      return selected(rel) ? emit_error(rel, std::move(abs), error_text(err)) : true;
    }
    have_stat = true;
    type = IFTODT(st.st_mode);
  }
  if (type == DT_DIR) {
    return open_directory(dir.fd.get(), name.bytes, std::move(rel), std::move(abs), child);
  }

  if (!selected(rel)) return true;
  if (!have_stat) {
    if (::fstatat(dir.fd.get(), name.bytes.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return emit_error(rel, std::move(abs), error_text(errno));
    }
    // Replaced by a directory since the directory was read: walk it as one.
    if (S_ISDIR(st.st_mode)) {
      return open_directory(dir.fd.get(), name.bytes, std::move(rel), std::move(abs), child);
    }
  }
  return emit_non_directory(dir.fd.get(), name.bytes.c_str(), rel, std::move(abs), st);
}

bool Walker::Traversal::open_directory(int at_fd, const std::string& name, std::string rel,
                                       std::string abs, std::optional<Frame>& child) {
  if (pruned(rel)) return true;
  const int nofollow = walker_.options_.follow_symlinks ? 0 : O_NOFOLLOW;
  UniqueFd fd(::openat(at_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | nofollow));
  // EACCES, ENOENT (vanished), ELOOP (swapped for a symlink) ...: reported, the walk goes on.
  if (!fd) return emit_error(rel, std::move(abs), error_text(errno));
  const std::optional<DirId> id = dir_id_of(fd.get());
  if (!id) return emit_error(rel, std::move(abs), error_text(errno));
  // Without following symlinks a loop needs a bind mount; with it, any link to an ancestor.
  if (on_stack_.contains(*id)) {
    return emit_error(rel, std::move(abs),
                      walker_.options_.follow_symlinks ? "symlink loop" : "directory loop");
  }
  Frame frame{
      .fd = std::move(fd), .id = *id, .rel = std::move(rel), .abs = std::move(abs), .names = {}};
  if (!read_names(frame)) return false;
  child = std::move(frame);
  return true;
}

bool Walker::Traversal::read_names(Frame& frame) {
  // The names are read at once, so the frame's fd can be closed and reopened later without
  // losing the position, and sorted for a deterministic order.
  int error = 0;
  for (;;) {
    const ssize_t length =
        ::getdents64(frame.fd.get(), dirent_buffer_.data(), dirent_buffer_.size());
    if (length == 0) break;
    if (length < 0) {
      if (errno == EINTR) continue;
      error = errno;  // e.g. EIO: keep what was read, and say the rest is missing
      break;
    }
    // Records are struct dirent64 as the kernel lays them out; fields are copied out by
    // offset rather than through a cast of the byte buffer.
    for (ssize_t offset = 0; offset < length;) {
      const char* record = dirent_buffer_.data() + offset;
      unsigned short record_length = 0;
      unsigned char type = DT_UNKNOWN;
      std::memcpy(&record_length, record + offsetof(struct dirent64, d_reclen),
                  sizeof record_length);
      std::memcpy(&type, record + offsetof(struct dirent64, d_type), sizeof type);
      const std::string_view bytes(record + offsetof(struct dirent64, d_name));
      offset += record_length;
      if (bytes == "." || bytes == "..") continue;
      frame.names.push_back(Name{.bytes = std::string(bytes), .type = type});
    }
  }
  std::sort(frame.names.begin(), frame.names.end(),
            [](const Name& a, const Name& b) { return a.bytes < b.bytes; });
  if (error != 0) return emit_error(frame.rel, frame.abs, error_text(error));
  return true;
}

void Walker::Traversal::push_frame(Frame frame) {
  on_stack_.insert(frame.id);
  stack_.push_back(std::move(frame));
  if (stack_.size() - first_open_ > kMaxOpenDirectories) {
    stack_[first_open_].fd.reset();
    ++first_open_;
  }
}

bool Walker::Traversal::pop_frame() {
  bool go_on = true;
  if (stack_.size() >= 2) {
    Frame& parent = stack_[stack_.size() - 2];
    if (!parent.fd) {
      const int child_fd = stack_.back().fd.get();
      // ".." is the parent unless the child was entered through a followed symlink (or moved
      // meanwhile); then the path, which is only usable below PATH_MAX.
      UniqueFd fd(child_fd >= 0 ? ::openat(child_fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                                : -1);
      if (dir_id_of(fd.get()) != parent.id) {
        fd.reset(::open(parent.abs.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      }
      if (dir_id_of(fd.get()) == parent.id) {
        parent.fd = std::move(fd);
      } else {
        parent.next = parent.names.size();
        go_on = emit_error(parent.rel, parent.abs, "directory changed during the walk");
      }
    }
  }
  on_stack_.erase(stack_.back().id);
  stack_.pop_back();
  first_open_ = std::min(first_open_, stack_.empty() ? 0 : stack_.size() - 1);
  return go_on;
}

bool Walker::Traversal::emit_non_directory(int at_fd, const char* name, const std::string& rel,
                                           std::string abs, const struct stat& st) {
  FileEntry entry;
  entry.rel_path = output_rel(rel);
  if (!walker_.options_.shard.contains(entry.rel_path)) return true;
  entry.abs_path = std::move(abs);
  entry.size = static_cast<std::uint64_t>(st.st_size);
  entry.mode = st.st_mode;
  entry.mtime_ns = nanoseconds(st.st_mtim);
  entry.ctime_ns = nanoseconds(st.st_ctim);
  switch (st.st_mode & S_IFMT) {
    case S_IFREG:
      entry.kind = EntryKind::regular;
      entry.local_disk = on_local_disk(at_fd, name, st.st_dev);
      walker_.files_.fetch_add(1, std::memory_order_relaxed);
      walker_.bytes_.fetch_add(entry.size, std::memory_order_relaxed);
      break;
    case S_IFLNK: {
      entry.kind = EntryKind::symlink;
      // st_size is the target's length on most filesystems, 0 on some (procfs): grow until
      // the target fits with a byte to spare, which proves it was not truncated.
      std::string target(std::max<std::size_t>(entry.size + 1, 256), '\0');
      for (;;) {
        const ssize_t length = ::readlinkat(at_fd, name, target.data(), target.size());
        if (length < 0) return emit_error(rel, std::move(entry.abs_path), error_text(errno));
        if (static_cast<std::size_t>(length) < target.size()) {
          target.resize(static_cast<std::size_t>(length));
          break;
        }
        target.resize(target.size() * 2);
      }
      entry.symlink_target = std::move(target);
      break;
    }
    case S_IFIFO:
      entry.kind = EntryKind::special;
      entry.message = "FIFO";
      break;
    case S_IFSOCK:
      entry.kind = EntryKind::special;
      entry.message = "socket";
      break;
    case S_IFCHR:
      entry.kind = EntryKind::special;
      entry.message = "character device";
      break;
    case S_IFBLK:
      entry.kind = EntryKind::special;
      entry.message = "block device";
      break;
    default:
      entry.kind = EntryKind::special;
      entry.message = "unknown file type";
      break;
  }
  return walker_.push(std::move(entry));
}

bool Walker::Traversal::emit_error(const std::string& rel, std::string abs, std::string message) {
  FileEntry entry;
  entry.rel_path = output_rel(rel);
  // A failure is recorded like the entry it stands for, so by one shard only.
  if (!walker_.options_.shard.contains(entry.rel_path)) return true;
  entry.abs_path = std::move(abs);
  entry.kind = EntryKind::error;
  entry.message = std::move(message);
  return walker_.push(std::move(entry));
}

std::string Walker::Traversal::output_rel(const std::string& rel) const {
  // The root itself (a file root, or a failing directory root) goes by its own name.
  if (rel.empty()) return root_label_;
  if (prefix_.empty()) return rel;
  return join_relative(prefix_, rel);
}

bool Walker::Traversal::selected(std::string_view rel) const {
  const auto matches = [rel](const GlobPattern& glob) { return glob.matches(rel); };
  return std::ranges::any_of(walker_.include_, matches) &&
         std::ranges::none_of(walker_.exclude_, matches);
}

bool Walker::Traversal::pruned(std::string_view rel) const {
  // "dir/**" needs no rule of its own: "**" matches zero segments, so it matches "dir".
  const auto matches = [rel](const GlobPattern& glob) { return glob.matches(rel); };
  return std::ranges::any_of(walker_.exclude_, matches);
}

bool Walker::Traversal::excluded_path(std::string_view abs) const {
  for (const std::string& excluded : walker_.excluded_paths_) {
    if (!abs.starts_with(excluded)) continue;
    if (abs.size() == excluded.size() || abs[excluded.size()] == '/' || excluded == "/") {
      return true;
    }
  }
  return false;
}

Walker::Walker(InputOptions options, std::vector<GlobPattern> include,
               std::vector<GlobPattern> exclude, std::vector<std::filesystem::path> excluded_paths,
               std::size_t queue_capacity)
    : options_(std::move(options)),
      include_(std::move(include)),
      exclude_(std::move(exclude)),
      capacity_(std::max<std::size_t>(queue_capacity, 1)) {
  excluded_paths_.reserve(excluded_paths.size());
  for (const std::filesystem::path& path : excluded_paths) {
    excluded_paths_.push_back(without_trailing_slash(path.lexically_normal().string()));
  }
}

Walker::~Walker() {
  stop();
}

void Walker::start(std::function<void()> notify) {
  if (started_) return;
  started_ = true;
  notify_ = std::move(notify);
  try {
    thread_ = std::thread([this] { run(); });
    pthread_setname_np(thread_.native_handle(), "pipe-run walk");
  } catch (const std::system_error& e) {
    FileEntry entry;
    entry.kind = EntryKind::error;
    entry.message = std::string("cannot start the walker thread: ") + e.what();
    {
      const std::lock_guard lock(mutex_);
      queue_.push_back(std::move(entry));
    }
    end_walk();
  }
}

Walker::Poll Walker::poll(std::vector<FileEntry>& out, std::size_t max) {
  const std::lock_guard lock(mutex_);
  const std::size_t count = std::min(max, queue_.size());
  if (count == 0) return walk_ended_ && queue_.empty() ? Poll::finished : Poll::empty;
  const bool was_full = queue_.size() >= capacity_;
  for (std::size_t i = 0; i < count; ++i) {
    out.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  if (was_full) space_available_.notify_one();
  return Poll::items;
}

void Walker::stop() {
  {
    // Under the lock, so a walker thread about to wait cannot miss it.
    const std::lock_guard lock(mutex_);
    stop_requested_.store(true, std::memory_order_relaxed);
    if (!started_) {
      started_ = true;
      walk_ended_ = true;
    }
  }
  space_available_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Walker::Counts Walker::counts() const {
  return Counts{.files = files_.load(std::memory_order_relaxed),
                .bytes = bytes_.load(std::memory_order_relaxed),
                .complete = complete_.load(std::memory_order_acquire)};
}

void Walker::run() noexcept {
  try {
    Traversal traversal(*this);
    const bool several_roots = options_.paths.size() > 1;
    bool walked_all = true;
    for (const std::filesystem::path& root : options_.paths) {
      if (!traversal.walk_root(root, several_roots)) {
        walked_all = false;
        break;
      }
    }
    complete_.store(walked_all && !stop_requested_.load(), std::memory_order_release);
  } catch (const std::exception& e) {
    // Only allocation can throw here; the entry says the listing is incomplete.
    try {
      FileEntry entry;
      entry.kind = EntryKind::error;
      entry.message = std::string("walk aborted: ") + e.what();
      push(std::move(entry));
    } catch (...) {
    }
  }
  end_walk();
}

bool Walker::push(FileEntry entry) {
  bool was_empty = false;
  {
    std::unique_lock lock(mutex_);
    space_available_.wait(lock, [this] {
      return queue_.size() < capacity_ || stop_requested_.load(std::memory_order_relaxed);
    });
    if (stop_requested_.load(std::memory_order_relaxed)) return false;
    was_empty = queue_.empty();
    queue_.push_back(std::move(entry));
  }
  if (was_empty && notify_) notify_();
  return true;
}

void Walker::end_walk() noexcept {
  {
    const std::lock_guard lock(mutex_);
    walk_ended_ = true;
  }
  if (notify_) notify_();
}

}  // namespace piperun::pipeline
