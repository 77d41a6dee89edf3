// The shard partition: the documented function (XXH64 of the manifest path, seed 0, mod N), a
// partition of any set of paths, and the walker handing out each entry in exactly one shard.
#include "pipeline/shard.hpp"

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "pipeline/walker.hpp"
#include "support/temp_dir.hpp"

namespace piperun::pipeline {
namespace {

using namespace std::chrono_literals;

// A few thousand names of the kinds users have: nested, spaced, non-ASCII, not UTF-8.
std::vector<std::string> sample_paths() {
  std::vector<std::string> paths;
  for (int i = 0; i < 4000; ++i) {
    paths.push_back("logs/day-" + std::to_string(i % 31) + "/app " + std::to_string(i) + ".log");
  }
  paths.push_back("");
  paths.push_back("r\xe9sum\xe9.txt");  // Latin-1, not UTF-8
  paths.push_back("caf\xc3\xa9/menu.txt");
  return paths;
}

TEST(ShardHash, IsXxh64WithSeedZeroAsXxhsumPrintsIt) {
  // `printf %s abc | xxhsum -H1` and `printf '' | xxhsum -H1`: what users can reproduce.
  EXPECT_EQ(shard_hash("abc"), 0x44bc2cf5ad770999ULL);
  EXPECT_EQ(shard_hash(""), 0xef46db3751d8e999ULL);
  EXPECT_EQ(shard_hash("logs/app.log"), 0x82d2b8e4a636cbb9ULL);
}

TEST(Shard, KOfNHoldsThePathsWhoseHashModNIsKMinusOne) {
  // 0x82d2b8e4a636cbb9 mod 4 = 1 (the last hex digit 9 = 0b1001): shard 2 of 4.
  EXPECT_TRUE((Shard{.index = 2, .count = 4}.contains("logs/app.log")));
  for (std::uint64_t index : {1, 3, 4})
    EXPECT_FALSE((Shard{.index = index, .count = 4}.contains("logs/app.log"))) << index;
}

TEST(Shard, EveryPathIsInExactlyOneShardOfN) {
  const std::vector<std::string> paths = sample_paths();
  for (std::uint64_t count = 1; count <= 8; ++count) {
    for (const std::string& path : paths) {
      int holders = 0;
      for (std::uint64_t index = 1; index <= count; ++index)
        holders += Shard{.index = index, .count = count}.contains(path) ? 1 : 0;
      EXPECT_EQ(holders, 1) << path << " in " << count << " shards";
    }
  }
}

TEST(Shard, ShardsAreEvenForManyPaths) {
  const std::vector<std::string> paths = sample_paths();
  for (std::uint64_t index = 1; index <= 4; ++index) {
    std::size_t held = 0;
    for (const std::string& path : paths)
      held += Shard{.index = index, .count = 4}.contains(path) ? 1 : 0;
    // A quarter of 4003 is about 1000; a hash this poor would be a bug.
    EXPECT_GT(held, 850u) << "shard " << index;
    EXPECT_LT(held, 1150u) << "shard " << index;
  }
}

TEST(Shard, OneOfOneIsTheWholeInput) {
  const Shard whole;
  EXPECT_TRUE(whole.whole());
  EXPECT_EQ(whole.to_string(), "1/1");
  for (const std::string& path : sample_paths())
    EXPECT_TRUE(whole.contains(path));
  EXPECT_FALSE((Shard{.index = 1, .count = 2}.whole()));
  EXPECT_EQ((Shard{.index = 3, .count = 12}.to_string()), "3/12");
}

// The walker's consumer, as the engine and --dry-run drive it.
struct Wakeup {
  std::mutex mutex;
  std::condition_variable cv;
  bool pending = false;
  void notify() {
    {
      const std::lock_guard lock(mutex);
      pending = true;
    }
    cv.notify_one();
  }
  bool wait() {
    std::unique_lock lock(mutex);
    const bool woken = cv.wait_for(lock, 20s, [this] { return pending; });
    pending = false;
    return woken;
  }
};

// rel_path -> kind of every entry the walk hands out.
std::map<std::string, EntryKind> walk(const std::vector<std::filesystem::path>& roots, Shard shard,
                                      bool follow_symlinks = false) {
  InputOptions options;
  options.paths = roots;
  options.shard = shard;
  options.follow_symlinks = follow_symlinks;
  std::vector<GlobPattern> include;
  include.push_back(*GlobPattern::compile("**"));
  Wakeup wakeup;
  Walker walker(options, std::move(include), {}, {});
  walker.start([&wakeup] { wakeup.notify(); });
  std::vector<FileEntry> entries;
  for (;;) {
    const Walker::Poll poll = walker.poll(entries, 64);
    if (poll == Walker::Poll::finished) break;
    if (poll == Walker::Poll::empty && !wakeup.wait()) {
      ADD_FAILURE() << "no notify for 20 s";
      break;
    }
  }
  std::map<std::string, EntryKind> found;
  for (const FileEntry& entry : entries) {
    EXPECT_TRUE(found.emplace(entry.rel_path, entry.kind).second) << "twice: " << entry.rel_path;
  }
  return found;
}

TEST(WalkerShard, EveryEntryOfEveryKindIsHandedOutByExactlyOneShard) {
  testing::TempDir dir;
  for (const char* root : {"first", "second"}) {
    for (int i = 0; i < 40; ++i)
      dir.write(std::string(root) + "/dir " + std::to_string(i % 5) + "/f" + std::to_string(i),
                "x");
    dir.write(std::string(root) + "/caf\xe9.txt", "latin-1 name");
    for (int i = 0; i < 6; ++i) {
      const auto link = dir / (std::string(root) + "/link" + std::to_string(i));
      ASSERT_EQ(::symlink("dir 0", link.c_str()), 0) << std::strerror(errno);
      const auto fifo = dir / (std::string(root) + "/fifo" + std::to_string(i));
      ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
    }
  }
  const std::vector<std::filesystem::path> roots{dir / "first", dir / "second"};
  const std::map<std::string, EntryKind> everything = walk(roots, Shard{});
  ASSERT_EQ(everything.size(), 2u * (40 + 1 + 6 + 6));

  std::map<std::string, EntryKind> united;
  for (std::uint64_t index = 1; index <= 3; ++index) {
    const Shard shard{.index = index, .count = 3};
    const std::map<std::string, EntryKind> part = walk(roots, shard);
    EXPECT_FALSE(part.empty()) << "shard " << index;
    for (const auto& [path, kind] : part) {
      EXPECT_TRUE(shard.contains(path)) << path;  // the manifest's path, root prefix included
      EXPECT_TRUE(united.emplace(path, kind).second) << "in two shards: " << path;
    }
  }
  EXPECT_EQ(united, everything);
}

TEST(WalkerShard, AFailureIsReportedByTheShardOfItsPath) {
  testing::TempDir dir;
  dir.write("in/a", "a");
  // Followed, a dangling symlink cannot be examined: a failure of its path.
  for (int i = 0; i < 12; ++i) {
    const auto link = dir / ("in/dangling" + std::to_string(i));
    ASSERT_EQ(::symlink("nowhere", link.c_str()), 0) << std::strerror(errno);
  }
  std::set<std::string> reported;
  for (std::uint64_t index = 1; index <= 3; ++index) {
    const Shard shard{.index = index, .count = 3};
    for (const auto& [path, kind] : walk({dir / "in"}, shard, true)) {
      if (kind != EntryKind::error) continue;
      EXPECT_TRUE(shard.contains(path)) << path;
      EXPECT_TRUE(reported.insert(path).second) << "reported twice: " << path;
    }
  }
  EXPECT_EQ(reported.size(), 12u);
}

}  // namespace
}  // namespace piperun::pipeline
