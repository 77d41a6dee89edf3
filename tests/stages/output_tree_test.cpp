// OutputTree: the lock that marks a run in progress, the removal of a dead run's temporaries,
// the refusal of paths that leave the tree, and directories made through the ring.
#include "stages/output_tree.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "io/ring.hpp"
#include "pipeline/sync_wait.hpp"
#include "support/temp_dir.hpp"
#include "support/test_ring.hpp"

namespace piperun::stages {
namespace {

namespace fs = std::filesystem;
using piperun::testing::TempDir;

TEST(OutputTree, PathsThatLeaveTheTreeAreRefused) {
  EXPECT_TRUE(OutputTree::stays_inside("a.txt"));
  EXPECT_TRUE(OutputTree::stays_inside("dir/sub/..name"));
  EXPECT_TRUE(OutputTree::stays_inside("dir/.hidden"));
  for (const char* bad : {"", "/etc/passwd", "../x", "a/../../x", "a/./b", "a//b", "a/", ".", ".."})
    EXPECT_FALSE(OutputTree::stays_inside(bad)) << bad;
}

TEST(OutputTree, TheLockExistsDuringTheRunOnly) {
  TempDir dir;
  const fs::path out = dir / "new/out";
  {
    OutputTree tree(out);
    ASSERT_TRUE(tree.open()) << "creates the directory";
    EXPECT_TRUE(fs::exists(out / OutputTree::kLockName));
    OutputTree second(out);
    auto refused = second.open();
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().find("another pipe-run is writing to"), std::string::npos)
        << refused.error();
  }
  EXPECT_FALSE(fs::exists(out / OutputTree::kLockName));
}

TEST(OutputTree, ADeadRunsTemporariesAreRemovedAndNothingElse) {
  TempDir dir;
  const fs::path out = dir / "out";
  fs::create_directories(out / "a/b");
  // What a run killed with SIGKILL leaves: its lock file (not locked any more) and temporaries.
  dir.write("out/.pipe-run.lock", "");
  dir.write("out/.pipe-run-1f-0.tmp", "partial");
  dir.write("out/a/b/.pipe-run-1f-7.tmp", "partial");
  dir.write("out/a/kept.txt.zst", "complete");
  dir.write("out/a/.pipe-run-notes.txt", "a user's file");
  OutputTree tree(out);
  ASSERT_TRUE(tree.open());
  EXPECT_FALSE(fs::exists(out / ".pipe-run-1f-0.tmp"));
  EXPECT_FALSE(fs::exists(out / "a/b/.pipe-run-1f-7.tmp"));
  EXPECT_TRUE(fs::exists(out / "a/kept.txt.zst"));
  EXPECT_TRUE(fs::exists(out / "a/.pipe-run-notes.txt"));
}

TEST(OutputTree, WithoutALockFileNothingIsRemoved) {
  TempDir dir;
  dir.write("out/.pipe-run-1f-0.tmp", "not ours to judge: no run died here");
  OutputTree tree(dir / "out");
  ASSERT_TRUE(tree.open());
  EXPECT_TRUE(fs::exists(dir / "out/.pipe-run-1f-0.tmp"));
}

TEST(OutputTree, TemporariesLiveBesideTheirTargetAndAreUnique) {
  TempDir dir;
  OutputTree tree(dir / "out");
  const std::string first = tree.temp_path_for("a/b/file.txt");
  const std::string second = tree.temp_path_for("a/b/file.txt");
  EXPECT_NE(first, second);
  EXPECT_TRUE(first.starts_with("a/b/.pipe-run-")) << first;
  EXPECT_TRUE(first.ends_with(".tmp")) << first;
  EXPECT_TRUE(tree.temp_path_for("top.txt").starts_with(".pipe-run-"));
}

TEST(OutputTree, MakeParentsCreatesEveryMissingDirectory) {
  TempDir dir;
  auto ring = piperun::testing::make_ring();
  OutputTree tree(dir / "out");
  ASSERT_TRUE(tree.open());
  fs::create_directories(dir / "out/a");
  auto made = pipeline::sync_wait(*ring, tree.make_parents(*ring, "a/b/c/file.txt"));
  ASSERT_TRUE(made) << made.error().message;
  EXPECT_TRUE(fs::is_directory(dir / "out/a/b/c"));
  EXPECT_FALSE(fs::exists(dir / "out/a/b/c/file.txt"));
  EXPECT_TRUE(pipeline::sync_wait(*ring, tree.make_parents(*ring, "top.txt")));

  // A file where a directory should be: the error names the path.
  dir.write("out/blocked", "a file");
  auto blocked = pipeline::sync_wait(*ring, tree.make_parents(*ring, "blocked/x/file.txt"));
  ASSERT_FALSE(blocked);
  EXPECT_NE(blocked.error().message.find("out/blocked/x"), std::string::npos)
      << blocked.error().message;
}

}  // namespace
}  // namespace piperun::stages
