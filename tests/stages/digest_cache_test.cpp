// DigestCache: what a run adds, the next run finds, for the same file identity only.
#include "stages/upload/digest_cache.hpp"

#include <gtest/gtest.h>

#include "support/temp_dir.hpp"

namespace piperun::stages::upload {
namespace {

TEST(DigestCache, ARunFindsWhatTheLastOneSavedForTheSameFileOnly) {
  testing::TempDir dir;
  const auto file = dir.path() / "cache" / "digests.tsv";
  const FileIdentity one{2049, 77, 1 << 20, 1'700'000'000'000'000'001, 1'700'000'000'000'000'002};
  {
    DigestCache cache(file);
    cache.load();  // no file yet: empty
    EXPECT_FALSE(cache.find(one, "xxh3-128"));
    cache.add(one, "xxh3-128", "00112233445566778899aabbccddeeff");
    cache.add(FileIdentity{}, "xxh3-128", "unknown identity: not kept");
    cache.save();
  }
  DigestCache next(file);
  next.load();
  EXPECT_EQ(next.find(one, "xxh3-128"), "00112233445566778899aabbccddeeff");
  EXPECT_FALSE(next.find(one, "sha256"));
  FileIdentity touched = one;
  touched.ctime_ns += 1;  // chmod, a rewrite with the old mtime put back...
  EXPECT_FALSE(next.find(touched, "xxh3-128"));
  FileIdentity other = one;
  other.inode += 1;
  EXPECT_FALSE(next.find(other, "xxh3-128"));
  EXPECT_FALSE(next.find(FileIdentity{}, "xxh3-128"));
}

}  // namespace
}  // namespace piperun::stages::upload
