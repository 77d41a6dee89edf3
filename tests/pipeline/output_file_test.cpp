// OutputFile: atomic publication, coalescing, errors, cleanup. Each test works in its own
// temporary directory.
#include "pipeline/output_file.hpp"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <sys/resource.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "support/temp_dir.hpp"

namespace piperun::pipeline {
namespace {

namespace fs = std::filesystem;

class OutputFileTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = temp_.path(); }

  // Every entry of `directory` whose name holds the temporary-file marker.
  static std::vector<fs::path> temp_files(const fs::path& directory) {
    std::vector<fs::path> found;
    for (const auto& entry : fs::directory_iterator(directory)) {
      if (entry.path().filename().string().find(".pipe-run-tmp.") != std::string::npos) {
        found.push_back(entry.path());
      }
    }
    return found;
  }

  static std::string read_all(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  piperun::testing::TempDir temp_;  // removed with everything in it
  fs::path dir_;
};

TEST_F(OutputFileTest, CommitPublishesOnlyTheCompleteFile) {
  const fs::path final_path = dir_ / "out.txt";
  OutputFile file;
  ASSERT_TRUE(file.open(final_path));
  file.append("hello ");
  file.append("world\n");

  EXPECT_FALSE(fs::exists(final_path));
  const auto temps = temp_files(dir_);
  ASSERT_EQ(temps.size(), 1u);
  EXPECT_EQ(temps[0], file.temp_path());
  EXPECT_EQ(temps[0].parent_path(), dir_);
  EXPECT_TRUE(temps[0].filename().string().starts_with(".out.txt.pipe-run-tmp.")) << temps[0];

  const auto committed = file.commit(false);
  ASSERT_TRUE(committed) << committed.error();
  EXPECT_EQ(read_all(final_path), "hello world\n");
  EXPECT_TRUE(temp_files(dir_).empty());
}

TEST_F(OutputFileTest, CreatesParentDirectories) {
  const fs::path final_path = dir_ / "a" / "b" / "c" / "out.txt";
  OutputFile file;
  const auto opened = file.open(final_path);
  ASSERT_TRUE(opened) << opened.error();
  EXPECT_TRUE(fs::is_directory(dir_ / "a" / "b" / "c"));
  file.append("x");
  ASSERT_TRUE(file.commit(true));
  EXPECT_EQ(read_all(final_path), "x");
}

TEST_F(OutputFileTest, EmptyFileIsPublished) {
  const fs::path final_path = dir_ / "empty";
  OutputFile file;
  ASSERT_TRUE(file.open(final_path));
  ASSERT_TRUE(file.commit(false));
  EXPECT_TRUE(fs::is_regular_file(final_path));
  EXPECT_EQ(fs::file_size(final_path), 0u);
}

TEST_F(OutputFileTest, ModeIs0644LessTheUmask) {
  const mode_t previous = ::umask(027);
  OutputFile file;
  const auto opened = file.open(dir_ / "masked");
  ::umask(previous);
  ASSERT_TRUE(opened);
  ASSERT_TRUE(file.commit(false));
  struct stat info {};
  ASSERT_EQ(::stat((dir_ / "masked").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0640u);

  OutputFile plain;
  const mode_t previous_again = ::umask(022);
  ASSERT_TRUE(plain.open(dir_ / "plain"));
  ::umask(previous_again);
  ASSERT_TRUE(plain.commit(false));
  ASSERT_EQ(::stat((dir_ / "plain").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0644u);
}

TEST_F(OutputFileTest, KeepsOrderAcrossSmallAndLargeAppends) {
  const fs::path final_path = dir_ / "mixed.bin";
  OutputFile file;
  ASSERT_TRUE(file.open(final_path));
  std::string expected;
  // Sizes around the hand-over threshold, so both the staging and the direct paths run.
  const std::vector<std::size_t> sizes = {1,
                                          100,
                                          OutputFile::kHandOverBytes - 1,
                                          1,
                                          OutputFile::kHandOverBytes,
                                          7,
                                          3 * OutputFile::kHandOverBytes + 5,
                                          OutputFile::kHandOverBytes / 2,
                                          OutputFile::kHandOverBytes / 2 + 1,
                                          0,
                                          13};
  for (std::size_t i = 0; i < 8; ++i) {
    for (std::size_t size : sizes) {
      std::string chunk(size, static_cast<char>('a' + (i * 7 + size) % 26));
      if (!chunk.empty()) chunk.back() = static_cast<char>(i);
      expected += chunk;
      file.append(std::move(chunk));
    }
  }
  const auto committed = file.commit(false);
  ASSERT_TRUE(committed) << committed.error();
  const std::string written = read_all(final_path);
  ASSERT_EQ(written.size(), expected.size());
  EXPECT_TRUE(written == expected);
}

// Handed-over buffers reach the temporary file while the owner goes on, before commit().
TEST_F(OutputFileTest, WritesInTheBackgroundBeforeCommit) {
  OutputFile file;
  ASSERT_TRUE(file.open(dir_ / "streamed.bin"));
  for (int i = 0; i < 4; ++i)
    file.append(std::string(OutputFile::kHandOverBytes, 's'));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (fs::file_size(file.temp_path()) < 4 * OutputFile::kHandOverBytes &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(fs::file_size(file.temp_path()), 4 * OutputFile::kHandOverBytes);
  EXPECT_FALSE(fs::exists(dir_ / "streamed.bin"));
  ASSERT_TRUE(file.commit(false));
  EXPECT_EQ(fs::file_size(dir_ / "streamed.bin"), 4 * OutputFile::kHandOverBytes);
}

TEST_F(OutputFileTest, ReplacesAnExistingFileAtomically) {
  const fs::path final_path = dir_ / "again.txt";
  std::ofstream(final_path) << "old contents\n";
  OutputFile file;
  ASSERT_TRUE(file.open(final_path));
  file.append("new contents\n");
  EXPECT_EQ(read_all(final_path), "old contents\n");
  ASSERT_TRUE(file.commit(true));
  EXPECT_EQ(read_all(final_path), "new contents\n");
}

TEST_F(OutputFileTest, AbandonLeavesNothing) {
  const fs::path final_path = dir_ / "dropped.txt";
  OutputFile file;
  ASSERT_TRUE(file.open(final_path));
  file.append(std::string(3 * OutputFile::kHandOverBytes, 'z'));
  file.append("tail");
  file.abandon();
  file.abandon();  // twice is harmless
  EXPECT_FALSE(fs::exists(final_path));
  EXPECT_TRUE(fs::is_empty(dir_));
  EXPECT_FALSE(file.commit(false));
}

TEST_F(OutputFileTest, DestructorWithoutCommitLeavesNothing) {
  const fs::path final_path = dir_ / "forgotten.txt";
  {
    OutputFile file;
    ASSERT_TRUE(file.open(final_path));
    file.append(std::string(OutputFile::kHandOverBytes + 1, 'q'));
  }
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST_F(OutputFileTest, OpenErrorNamesThePathAndTheReason) {
  std::ofstream(dir_ / "plain-file") << "x";
  OutputFile file;
  const auto opened = file.open(dir_ / "plain-file" / "sub" / "out.txt");
  ASSERT_FALSE(opened);
  EXPECT_NE(opened.error().find((dir_ / "plain-file").string()), std::string::npos)
      << opened.error();
  EXPECT_NE(opened.error().find("Not a directory"), std::string::npos) << opened.error();
}

TEST_F(OutputFileTest, RenameErrorRemovesTheTemporaryFile) {
  // A non-empty directory under the final name: rename(2) must refuse to replace it.
  const fs::path final_path = dir_ / "occupied";
  fs::create_directories(final_path / "child");
  OutputFile file;
  ASSERT_TRUE(file.open(final_path));
  file.append("data");
  const auto committed = file.commit(false);
  ASSERT_FALSE(committed);
  EXPECT_NE(committed.error().find(final_path.string()), std::string::npos) << committed.error();
  EXPECT_TRUE(temp_files(dir_).empty());
  EXPECT_TRUE(fs::is_directory(final_path / "child"));
}

// Runs in a death-test child: fills a file past RLIMIT_FSIZE and exits 0 when commit()
// failed, printed its error and left nothing behind.
[[noreturn]] void write_past_file_size_limit(const fs::path& final_path) {
  ::signal(SIGXFSZ, SIG_IGN);
  rlimit limit{};
  limit.rlim_cur = limit.rlim_max = 64 * 1024;
  ::setrlimit(RLIMIT_FSIZE, &limit);
  OutputFile file;
  if (!file.open(final_path)) std::_Exit(2);
  for (int i = 0; i < 8; ++i)
    file.append(std::string(OutputFile::kHandOverBytes, 'x'));
  const auto committed = file.commit(false);
  if (committed) std::_Exit(3);
  std::fprintf(stderr, "%s\n", committed.error().c_str());
  std::_Exit(fs::is_empty(final_path.parent_path()) ? 0 : 4);
}

// A write error (here EFBIG from RLIMIT_FSIZE, which takes the same path as ENOSPC) is
// reported by commit(), names the file and leaves nothing behind. In a child process, so the
// limit does not touch the test runner.
TEST_F(OutputFileTest, WriteErrorIsReportedByCommit) {
  // Re-executes the test binary instead of a bare fork: the binary may run other threads.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const fs::path final_path = dir_ / "too-big.bin";
  EXPECT_EXIT(write_past_file_size_limit(final_path), ::testing::ExitedWithCode(0),
              "cannot write '.*too-big\\.bin': File too large");
  EXPECT_TRUE(fs::is_empty(dir_));
}

}  // namespace
}  // namespace piperun::pipeline
