// Walker: trees built in a fresh temporary directory, consumed the way the I/O thread does
// (poll until empty, then wait for notify).
#include "pipeline/walker.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <filesystem>
#include <mutex>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

namespace piperun::pipeline {
namespace {

using namespace std::chrono_literals;

// Records notify calls; the consumer sleeps on it instead of spinning.
struct Wakeups {
  std::mutex mutex;
  std::condition_variable cv;
  bool pending = false;
  std::atomic<int> calls{0};
  std::atomic<bool> on_other_thread{true};
  std::thread::id consumer = std::this_thread::get_id();

  void notify() {
    calls.fetch_add(1);
    if (std::this_thread::get_id() == consumer) on_other_thread = false;
    {
      const std::lock_guard lock(mutex);
      pending = true;
    }
    cv.notify_one();
  }
  bool wait(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex);
    const bool woken = cv.wait_for(lock, timeout, [this] { return pending; });
    pending = false;
    return woken;
  }
};

std::vector<FileEntry> drain(Walker& walker, Wakeups& wakeups, std::size_t batch = 64) {
  std::vector<FileEntry> entries;
  for (;;) {
    switch (walker.poll(entries, batch)) {
      case Walker::Poll::items:
        continue;
      case Walker::Poll::finished:
        return entries;
      case Walker::Poll::empty:
        if (!wakeups.wait(20s)) {
          ADD_FAILURE() << "no notify for 20 s";
          return entries;
        }
    }
  }
}

std::vector<GlobPattern> globs(const std::vector<std::string>& texts) {
  std::vector<GlobPattern> compiled;
  for (const std::string& text : texts) {
    auto glob = GlobPattern::compile(text);
    EXPECT_TRUE(glob.has_value()) << text;
    if (glob) compiled.push_back(*std::move(glob));
  }
  return compiled;
}

std::vector<std::string> rel_paths(const std::vector<FileEntry>& entries) {
  std::vector<std::string> paths;
  for (const FileEntry& entry : entries)
    paths.push_back(entry.rel_path);
  return paths;
}

const FileEntry* find(const std::vector<FileEntry>& entries, std::string_view rel) {
  for (const FileEntry& entry : entries) {
    if (entry.rel_path == rel) return &entry;
  }
  return nullptr;
}

int open_fd_count() {
  int count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++count;
  }
  return count;
}

// Removes a tree holding one directory fd at a time (going back up through ".."), so trees
// deeper than PATH_MAX or than the fd limit go too.
void remove_tree(const std::string& root) {
  int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    ::unlink(root.c_str());
    return;
  }
  std::vector<std::string> descent;  // names from the root down to fd's directory
  for (;;) {
    ::fchmod(fd, 0700);  // tests may have locked a directory
    std::string subdirectory;
    std::vector<std::string> others;
    DIR* dir = ::fdopendir(::dup(fd));
    while (const dirent* child = ::readdir(dir)) {
      const std::string name = child->d_name;
      if (name == "." || name == "..") continue;
      struct stat st {};
      if (::fstatat(fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
        subdirectory = name;
      } else {
        others.push_back(name);
      }
    }
    ::closedir(dir);
    for (const std::string& name : others)
      ::unlinkat(fd, name.c_str(), 0);
    if (!subdirectory.empty()) {
      const int child =
          ::openat(fd, subdirectory.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (child < 0) break;
      ::close(fd);
      fd = child;
      descent.push_back(subdirectory);
      continue;
    }
    if (descent.empty()) break;
    const int parent = ::openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ::close(fd);
    if (parent < 0) return;
    ::unlinkat(parent, descent.back().c_str(), AT_REMOVEDIR);
    descent.pop_back();
    fd = parent;
  }
  ::close(fd);
  ::rmdir(root.c_str());
}

class WalkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "walker_test.XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr) << std::strerror(errno);
    dir_ = pattern;
  }
  void TearDown() override { remove_tree(dir_); }

  std::string path(std::string_view rel) const { return dir_ + "/" + std::string(rel); }

  void make_dir(std::string_view rel) const { std::filesystem::create_directories(path(rel)); }
  void make_file(std::string_view rel, std::size_t size = 0) const {
    const std::string full = path(rel);
    std::filesystem::create_directories(std::filesystem::path(full).parent_path());
    const int fd = ::open(full.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0) << full << ": " << std::strerror(errno);
    const std::string content(size, 'x');
    ASSERT_EQ(::write(fd, content.data(), content.size()), static_cast<ssize_t>(size));
    ::close(fd);
  }
  void make_symlink(std::string_view target, std::string_view rel) const {
    ASSERT_EQ(::symlink(std::string(target).c_str(), path(rel).c_str()), 0) << std::strerror(errno);
  }

  // Walks with the given filters and returns everything handed out, in order.
  std::vector<FileEntry> walk(InputOptions options,
                              const std::vector<std::string>& include = {"**"},
                              const std::vector<std::string>& exclude = {},
                              std::vector<std::filesystem::path> excluded_paths = {}) {
    Wakeups wakeups;  // outlives the walker: the last notify may still run
    Walker walker(std::move(options), globs(include), globs(exclude), std::move(excluded_paths));
    walker.start([&wakeups] { wakeups.notify(); });
    std::vector<FileEntry> entries = drain(walker, wakeups);
    last_counts_ = walker.counts();
    return entries;
  }
  InputOptions options_for(std::string_view rel = "") const {
    InputOptions options;
    options.paths = {rel.empty() ? dir_ : path(rel)};
    return options;
  }

  std::string dir_;
  Walker::Counts last_counts_;
};

TEST_F(WalkerTest, NestedDirectoriesDepthFirstInByteOrder) {
  make_file("b.txt", 3);
  make_file("a/z.txt", 1);
  make_file("a/b/c.txt", 10);
  make_file("c/d.txt");
  make_file("A.txt", 2);
  make_file("a.txt", 4);
  make_dir("empty");

  const std::vector<FileEntry> entries = walk(options_for());
  EXPECT_EQ(rel_paths(entries), (std::vector<std::string>{"A.txt", "a/b/c.txt", "a/z.txt", "a.txt",
                                                          "b.txt", "c/d.txt"}));
  for (const FileEntry& entry : entries) {
    EXPECT_EQ(entry.kind, EntryKind::regular) << entry.rel_path;
    EXPECT_EQ(entry.abs_path, path(entry.rel_path));
    struct stat st {};
    ASSERT_EQ(::stat(entry.abs_path.c_str(), &st), 0);
    EXPECT_EQ(entry.size, static_cast<std::uint64_t>(st.st_size));
    EXPECT_EQ(entry.mode, st.st_mode);
    EXPECT_TRUE(S_ISREG(entry.mode));
    EXPECT_EQ(entry.mtime_ns, st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec);
  }
  EXPECT_EQ(find(entries, "a/b/c.txt")->size, 10u);
  EXPECT_EQ(last_counts_.files, 6u);
  EXPECT_EQ(last_counts_.bytes, 20u);
  EXPECT_TRUE(last_counts_.complete);
}

TEST_F(WalkerTest, EmptyRootFinishesWithNothing) {
  const std::vector<FileEntry> entries = walk(options_for());
  EXPECT_TRUE(entries.empty());
  EXPECT_TRUE(last_counts_.complete);
  EXPECT_EQ(last_counts_.files, 0u);
}

TEST_F(WalkerTest, IncludeAndExcludeMatchTheRelativePath) {
  make_file("keep.txt");
  make_file("drop.bin");
  make_file("src/a.txt");
  make_file("src/skip-me.txt");
  make_file("src/deep/b.txt");
  const std::vector<FileEntry> entries = walk(options_for(), {"**/*.txt"}, {"**/skip*"});
  EXPECT_EQ(rel_paths(entries),
            (std::vector<std::string>{"keep.txt", "src/a.txt", "src/deep/b.txt"}));
}

TEST_F(WalkerTest, IncludeDoesNotPruneDirectories) {
  make_file("a/keep.txt");
  make_file("a/other.txt");
  make_file("keep.txt");
  const std::vector<FileEntry> entries = walk(options_for(), {"*/keep.txt"});
  EXPECT_EQ(rel_paths(entries), (std::vector<std::string>{"a/keep.txt"}));
}

TEST_F(WalkerTest, ExcludedDirectoriesAreNotDescended) {
  // "cache" matches the directory but not "cache/x": only pruning keeps "cache/x" out.
  make_file("cache/x");
  make_file("deps.d/y");
  make_file("build/out/z");
  make_file("src/build/w");
  make_file("src/main.c");
  make_file("builder/v");
  const std::vector<FileEntry> entries = walk(options_for(), {"**"}, {"cache", "*.d", "build/**"});
  EXPECT_EQ(rel_paths(entries),
            (std::vector<std::string>{"builder/v", "src/build/w", "src/main.c"}));
}

TEST_F(WalkerTest, ExcludeWithTrailingDoubleStarPrunesAtAnyDepth) {
  make_file("a/node_modules/m/index.js");
  make_file("a/index.js");
  const std::vector<FileEntry> entries = walk(options_for(), {"**"}, {"**/node_modules/**"});
  EXPECT_EQ(rel_paths(entries), (std::vector<std::string>{"a/index.js"}));
}

TEST_F(WalkerTest, HiddenFalseSkipsDotNamesBelowTheRoot) {
  make_file(".hidden-root/.git/config");
  make_file(".hidden-root/.env");
  make_file(".hidden-root/a/.secret");
  make_file(".hidden-root/a/visible");
  make_file(".hidden-root/visible");

  InputOptions options = options_for(".hidden-root");
  options.hidden = false;
  EXPECT_EQ(rel_paths(walk(options)), (std::vector<std::string>{"a/visible", "visible"}));

  options.hidden = true;
  EXPECT_EQ(rel_paths(walk(options)),
            (std::vector<std::string>{".env", ".git/config", "a/.secret", "a/visible", "visible"}));
}

TEST_F(WalkerTest, FileRootGetsItsOwnName) {
  make_file("dir/data.bin", 7);
  const std::vector<FileEntry> entries = walk(options_for("dir/data.bin"));
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].rel_path, "data.bin");
  EXPECT_EQ(entries[0].abs_path, path("dir/data.bin"));
  EXPECT_EQ(entries[0].kind, EntryKind::regular);
  EXPECT_EQ(entries[0].size, 7u);

  EXPECT_TRUE(walk(options_for("dir/data.bin"), {"*.txt"}).empty());
}

TEST_F(WalkerTest, RootPathIsNormalised) {
  make_file("a/f");
  InputOptions options;
  options.paths = {dir_ + "/a/../a/./"};
  const std::vector<FileEntry> entries = walk(options);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].rel_path, "f");
  EXPECT_EQ(entries[0].abs_path, path("a/f"));
}

TEST_F(WalkerTest, SeveralRootsArePrefixedWithTheirFolderNames) {
  make_file("a/x/f.txt");
  make_file("a/x/sub/f.txt");
  make_file("b/y/g.txt");
  make_file("c/z.txt");
  InputOptions options;
  options.paths = {path("a/x"), path("b/y/"), path("c/z.txt")};

  EXPECT_EQ(rel_paths(walk(options)),
            (std::vector<std::string>{"x/f.txt", "x/sub/f.txt", "y/g.txt", "z.txt"}));
  // The filters see the path relative to the root, without the prefix.
  EXPECT_EQ(rel_paths(walk(options, {"f.txt", "g.txt"})),
            (std::vector<std::string>{"x/f.txt", "y/g.txt"}));
  EXPECT_TRUE(walk(options, {"x/**"}).empty());
  const std::vector<FileEntry> entries = walk(options);
  EXPECT_EQ(entries[2].abs_path, path("b/y/g.txt"));
}

TEST_F(WalkerTest, MissingRootIsAnErrorAndTheWalkGoesOn) {
  make_file("there/f");
  InputOptions options;
  options.paths = {path("missing"), path("there")};
  const std::vector<FileEntry> entries = walk(options);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].kind, EntryKind::error);
  EXPECT_EQ(entries[0].rel_path, "missing");
  EXPECT_EQ(entries[0].message, "No such file or directory");
  EXPECT_EQ(entries[1].rel_path, "there/f");
  EXPECT_TRUE(last_counts_.complete);
}

TEST_F(WalkerTest, SymlinksAreRecordedWhenNotFollowed) {
  make_file("dir/f", 5);
  make_file("target.txt", 3);
  make_symlink("target.txt", "link");
  make_symlink("dir", "dirlink");

  const std::vector<FileEntry> entries = walk(options_for());
  EXPECT_EQ(rel_paths(entries),
            (std::vector<std::string>{"dir/f", "dirlink", "link", "target.txt"}));
  const FileEntry* link = find(entries, "link");
  ASSERT_NE(link, nullptr);
  EXPECT_EQ(link->kind, EntryKind::symlink);
  EXPECT_EQ(link->symlink_target, "target.txt");
  EXPECT_TRUE(S_ISLNK(link->mode));
  EXPECT_NE(link->mtime_ns, 0);
  EXPECT_EQ(find(entries, "dirlink")->kind, EntryKind::symlink);
  EXPECT_EQ(find(entries, "dirlink")->symlink_target, "dir");
  EXPECT_EQ(last_counts_.files, 2u);  // symlinks are not files to process
}

TEST_F(WalkerTest, SymlinksAreWalkedWhenFollowed) {
  make_file("dir/f", 5);
  make_file("target.txt", 3);
  make_symlink("target.txt", "link");
  make_symlink("dir", "dirlink");
  InputOptions options = options_for();
  options.follow_symlinks = true;

  const std::vector<FileEntry> entries = walk(options);
  EXPECT_EQ(rel_paths(entries),
            (std::vector<std::string>{"dir/f", "dirlink/f", "link", "target.txt"}));
  const FileEntry* link = find(entries, "link");
  EXPECT_EQ(link->kind, EntryKind::regular);
  EXPECT_EQ(link->size, 3u);
  EXPECT_TRUE(S_ISREG(link->mode));
  EXPECT_EQ(link->abs_path, path("link"));
  EXPECT_EQ(find(entries, "dirlink/f")->abs_path, path("dirlink/f"));
  EXPECT_EQ(last_counts_.files, 4u);
}

TEST_F(WalkerTest, SymlinkLoopIsAnErrorWhenFollowing) {
  make_file("a/f");
  make_symlink("..", "a/up");
  make_symlink(".", "self");
  make_file("z");
  InputOptions options = options_for();
  options.follow_symlinks = true;

  const std::vector<FileEntry> entries = walk(options);
  EXPECT_EQ(rel_paths(entries), (std::vector<std::string>{"a/f", "a/up", "self", "z"}));
  EXPECT_EQ(find(entries, "a/up")->kind, EntryKind::error);
  EXPECT_EQ(find(entries, "a/up")->message, "symlink loop");
  EXPECT_EQ(find(entries, "self")->message, "symlink loop");
  EXPECT_TRUE(last_counts_.complete);
}

TEST_F(WalkerTest, SymlinkChainLoopIsAnErrorWhenFollowing) {
  make_symlink("l2", "l1");
  make_symlink("l1", "l2");
  InputOptions options = options_for();
  options.follow_symlinks = true;
  const std::vector<FileEntry> entries = walk(options);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].kind, EntryKind::error);
  EXPECT_EQ(entries[0].message, "Too many levels of symbolic links");
}

TEST_F(WalkerTest, DanglingSymlink) {
  make_symlink("missing", "dangling");
  InputOptions options = options_for();

  std::vector<FileEntry> entries = walk(options);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].kind, EntryKind::symlink);
  EXPECT_EQ(entries[0].symlink_target, "missing");

  options.follow_symlinks = true;
  entries = walk(options);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].kind, EntryKind::error);
  EXPECT_EQ(entries[0].rel_path, "dangling");
  EXPECT_EQ(entries[0].message, "No such file or directory");

  // Excluded, it is not reported at all.
  EXPECT_TRUE(walk(options, {"**"}, {"dangling"}).empty());
}

TEST_F(WalkerTest, SpecialFilesAreReportedNotOpened) {
  ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0644), 0) << std::strerror(errno);
  const int sock = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(sock, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string socket_path = path("sock");
  ASSERT_LT(socket_path.size(), sizeof address.sun_path);
  std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
  ASSERT_EQ(::bind(sock, reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);

  // Walking must not block on the FIFO (opening it would, with no writer).
  const std::vector<FileEntry> entries = walk(options_for());
  ::close(sock);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].rel_path, "fifo");
  EXPECT_EQ(entries[0].kind, EntryKind::special);
  EXPECT_EQ(entries[0].message, "FIFO");
  EXPECT_TRUE(S_ISFIFO(entries[0].mode));
  EXPECT_EQ(entries[1].kind, EntryKind::special);
  EXPECT_EQ(entries[1].message, "socket");
  EXPECT_EQ(last_counts_.files, 0u);
}

TEST_F(WalkerTest, CharacterDeviceRoot) {
  InputOptions options;
  options.paths = {"/dev/null"};
  const std::vector<FileEntry> entries = walk(options);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].rel_path, "null");
  EXPECT_EQ(entries[0].kind, EntryKind::special);
  EXPECT_EQ(entries[0].message, "character device");
}

TEST_F(WalkerTest, UnreadableDirectoryIsAnErrorAndTheWalkGoesOn) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads every directory";
  make_file("locked/f");
  make_file("open/g");
  ASSERT_EQ(::chmod(path("locked").c_str(), 0), 0);
  const std::vector<FileEntry> entries = walk(options_for());
  ::chmod(path("locked").c_str(), 0700);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].rel_path, "locked");
  EXPECT_EQ(entries[0].kind, EntryKind::error);
  EXPECT_EQ(entries[0].message, "Permission denied");
  EXPECT_EQ(entries[1].rel_path, "open/g");
}

TEST_F(WalkerTest, ExcludedPathsAreSkippedSilently) {
  make_file("data/f");
  make_file("out/data/f.zst");
  make_file("out2/kept");
  make_file("manifest.json");
  const std::vector<FileEntry> entries =
      walk(options_for(), {"**"}, {}, {path("out"), path("manifest.json")});
  EXPECT_EQ(rel_paths(entries), (std::vector<std::string>{"data/f", "out2/kept"}));

  // A root inside an excluded path yields nothing.
  EXPECT_TRUE(walk(options_for("out/data"), {"**"}, {}, {path("out/")}).empty());
}

TEST_F(WalkerTest, OddNamesSurviveByteForByte) {
  const std::vector<std::string> names = {"new\nline", "tab\tname", "with space",
                                          "\xff\xfe-not-utf8", "caf\xc3\xa9"};
  for (const std::string& name : names)
    make_file(name, name.size());
  std::vector<std::string> expected = names;
  std::sort(expected.begin(), expected.end());  // std::string orders bytes as unsigned

  const std::vector<FileEntry> entries = walk(options_for());
  EXPECT_EQ(rel_paths(entries), expected);
  for (const FileEntry& entry : entries) {
    const int fd = ::open(entry.abs_path.c_str(), O_RDONLY | O_CLOEXEC);
    EXPECT_GE(fd, 0) << entry.rel_path;
    if (fd >= 0) ::close(fd);
    EXPECT_EQ(entry.size, entry.rel_path.size());
  }
  EXPECT_EQ(entries.back().rel_path, "\xff\xfe-not-utf8");
}

TEST_F(WalkerTest, TinyQueueAppliesBackpressureAndLosesNothing) {
  constexpr int kFiles = 500;
  std::vector<std::string> expected;
  for (int i = 0; i < kFiles; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "f%04d", i);
    make_file(name, 1);
    expected.emplace_back(name);
  }
  Wakeups wakeups;  // outlives the walker: the last notify may still run
  Walker walker(options_for(), globs({"**"}), {}, {}, 2);
  walker.start([&wakeups] { wakeups.notify(); });

  // With nobody polling, the walker holds two queued entries and one it waits to push.
  ASSERT_TRUE(wakeups.wait(20s));
  std::this_thread::sleep_for(100ms);
  EXPECT_LE(walker.counts().files, 3u);
  EXPECT_FALSE(walker.counts().complete);

  const std::vector<FileEntry> entries = drain(walker, wakeups, 1);
  EXPECT_EQ(rel_paths(entries), expected);
  EXPECT_EQ(walker.counts().files, static_cast<std::uint64_t>(kFiles));
  EXPECT_TRUE(walker.counts().complete);
  std::vector<FileEntry> after;
  EXPECT_EQ(walker.poll(after, 10), Walker::Poll::finished);
}

TEST_F(WalkerTest, StopInTheMiddle) {
  for (int i = 0; i < 200; ++i)
    make_file("f" + std::to_string(1000 + i));
  Wakeups wakeups;  // outlives the walker: the last notify may still run
  Walker walker(options_for(), globs({"**"}), {}, {}, 2);
  walker.start([&wakeups] { wakeups.notify(); });

  std::vector<FileEntry> entries;
  while (entries.size() < 10) {
    if (walker.poll(entries, 1) == Walker::Poll::empty) {
      ASSERT_TRUE(wakeups.wait(20s));
    }
  }
  walker.stop();  // the walker is blocked on the full queue: stop must wake it
  walker.stop();  // idempotent

  // What was queued is still handed out, then the walk is over.
  std::size_t leftover = 0;
  for (;;) {
    const std::size_t before = entries.size();
    const Walker::Poll result = walker.poll(entries, 100);
    if (result == Walker::Poll::finished) break;
    ASSERT_EQ(result, Walker::Poll::items);
    leftover += entries.size() - before;
  }
  EXPECT_LE(leftover, 2u);
  EXPECT_LT(entries.size(), 200u);
  EXPECT_FALSE(walker.counts().complete);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ(entries[i].rel_path, "f" + std::to_string(1000 + i));
  }
}

TEST_F(WalkerTest, StopWithoutStartFinishes) {
  Walker walker(options_for(), globs({"**"}), {}, {});
  walker.stop();
  std::vector<FileEntry> entries;
  EXPECT_EQ(walker.poll(entries, 10), Walker::Poll::finished);
  walker.start([] {});  // too late: nothing happens
  EXPECT_EQ(walker.poll(entries, 10), Walker::Poll::finished);
}

TEST_F(WalkerTest, DestructorStopsABlockedWalk) {
  for (int i = 0; i < 50; ++i)
    make_file("f" + std::to_string(i));
  Wakeups wakeups;
  {
    Walker walker(options_for(), globs({"**"}), {}, {}, 1);
    walker.start([&wakeups] { wakeups.notify(); });
    ASSERT_TRUE(wakeups.wait(20s));
  }
  SUCCEED();
}

TEST_F(WalkerTest, NotifyRunsOnTheWalkerThreadAndAtTheEnd) {
  make_file("a");
  Wakeups wakeups;  // outlives the walker: the last notify may still run
  Walker walker(options_for(), globs({"**"}), {}, {});
  walker.start([&wakeups] { wakeups.notify(); });
  const std::vector<FileEntry> entries = drain(walker, wakeups);
  // The walk is seen to end before its last notify runs: once the thread is joined, it has.
  walker.stop();
  EXPECT_EQ(entries.size(), 1u);
  EXPECT_TRUE(wakeups.on_other_thread);
  // One for the push into the empty queue, one for the end.
  EXPECT_EQ(wakeups.calls.load(), 2);
}

TEST_F(WalkerTest, NotifyAtTheEndOfAnEmptyWalk) {
  Wakeups wakeups;  // outlives the walker: the last notify may still run
  Walker walker(options_for(), globs({"**"}), {}, {});
  walker.start([&wakeups] { wakeups.notify(); });
  ASSERT_TRUE(wakeups.wait(20s));
  std::vector<FileEntry> entries;
  EXPECT_EQ(walker.poll(entries, 10), Walker::Poll::finished);
  EXPECT_EQ(wakeups.calls.load(), 1);
}

TEST_F(WalkerTest, DeepTreeBeyondPathMaxWithBoundedOpenDirectories) {
  // Each level holds "d" (the next level) and "f": "d" sorts first, so every "f" comes after
  // the whole subtree below it and each ancestor must be returned to, closed fds reopened.
  constexpr int kDepth = 2500;  // 2 bytes a level: paths grow beyond PATH_MAX (4096)
  int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  for (int level = 0; level < kDepth; ++level) {
    const int file = ::openat(fd, "f", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    ASSERT_GE(file, 0);
    ::close(file);
    ASSERT_EQ(::mkdirat(fd, "d", 0755), 0);
    const int next = ::openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ::close(fd);
    ASSERT_GE(next, 0);
    fd = next;
  }
  ::close(fd);

  const int fds_before = open_fd_count();
  Wakeups wakeups;  // outlives the walker: the last notify may still run
  Walker walker(options_for(), globs({"**"}), {}, {}, 1);
  walker.start([&wakeups] { wakeups.notify(); });
  // Blocked with the deepest file queued: every level is on the descent stack now.
  ASSERT_TRUE(wakeups.wait(20s));
  std::this_thread::sleep_for(50ms);
  EXPECT_LE(open_fd_count(), fds_before + 64 + 4);

  const std::vector<FileEntry> entries = drain(walker, wakeups, 16);
  ASSERT_EQ(entries.size(), static_cast<std::size_t>(kDepth));
  std::string expected;
  for (int level = 0; level < kDepth; ++level)
    expected += "d/";
  for (const FileEntry& entry : entries) {
    expected.resize(expected.size() - 2);
    EXPECT_EQ(entry.kind, EntryKind::regular) << entry.message;
    ASSERT_EQ(entry.rel_path, expected + "f");
  }
  EXPECT_TRUE(walker.counts().complete);
  walker.stop();
  EXPECT_EQ(open_fd_count(), fds_before);
}

TEST_F(WalkerTest, DeepFollowedSymlinkIsReturnedFromThroughItsPath) {
  // Below the open-directory budget, a directory entered through a followed symlink has a
  // ".." that is not the frame it came from: returning must reopen the frame by its path.
  // The target is deep too, so the frame holding the symlink gets closed meanwhile.
  std::string inner;
  for (int i = 0; i < 70; ++i)
    inner += "e/";
  make_file("elsewhere/" + inner + "inside");
  std::string level;
  for (int i = 0; i < 100; ++i)
    level += "d/";
  make_file("tree/" + level + "z");
  make_symlink(path("elsewhere"), "tree/" + level + "link");
  make_file("tree/" + level + "../zz");
  InputOptions options = options_for("tree");
  options.follow_symlinks = true;

  const std::vector<FileEntry> entries = walk(options);
  std::string parent = level.substr(0, level.size() - 2);
  EXPECT_EQ(rel_paths(entries), (std::vector<std::string>{level + "link/" + inner + "inside",
                                                          level + "z", parent + "zz"}));
  for (const FileEntry& entry : entries)
    EXPECT_EQ(entry.kind, EntryKind::regular) << entry.message;
}

}  // namespace
}  // namespace piperun::pipeline
