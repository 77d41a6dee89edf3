// The file flow against files that move under it: gone before the open, written or truncated
// while read. Such a file fails with the reason; its stages are aborted, never finished.
#include "pipeline/file_flow.hpp"

#include <fcntl.h>
#include <functional>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "io/buffer_pool.hpp"
#include "io/ring.hpp"
#include "pipeline/offload.hpp"
#include "pipeline/sync_wait.hpp"
#include "support/temp_dir.hpp"

namespace piperun::pipeline {
namespace {

constexpr std::size_t kChunk = 64 * 1024;

// What the flow did with the stage's file: chunks seen, finished or aborted.
struct Seen {
  std::uint64_t bytes = 0;
  int finished = 0;
  int aborted = 0;
};

// A stage that runs `on_chunk` (a writer at work on the file) as each chunk arrives.
class WatchStage final : public Stage {
 public:
  WatchStage(Seen& seen, std::function<void(std::uint64_t offset)> on_chunk)
      : seen_(seen), on_chunk_(std::move(on_chunk)) {}
  std::string_view name() const noexcept override { return "watch"; }
  std::unique_ptr<FileStage> begin(const FileInfo&, Runtime&, std::unique_ptr<FileStage>) override {
    return std::make_unique<File>(*this);
  }

 private:
  class File final : public FileStage {
   public:
    explicit File(WatchStage& stage) : stage_(stage) {}
    task<Status> on_chunk(Chunk chunk) override {
      stage_.seen_.bytes += chunk.bytes.size();
      if (stage_.on_chunk_) stage_.on_chunk_(chunk.offset);
      co_return Status{};
    }
    task<Status> finish(FileRecord&) override {
      ++stage_.seen_.finished;
      co_return Status{};
    }
    task<void> abort() override {
      ++stage_.seen_.aborted;
      co_return;
    }

   private:
    WatchStage& stage_;
  };
  Seen& seen_;
  std::function<void(std::uint64_t)> on_chunk_;
};

class FileFlow : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ring = io::Ring::create(io::RingOptions{});
    ASSERT_TRUE(ring.has_value());
    ring_ = std::move(*ring);
    cpu_ = std::make_unique<CpuPool>(*ring_, 1);
    io::BufferPool::Options options;
    options.buffer_bytes = kChunk;
    options.count = 8;
    auto pool = io::BufferPool::create(*ring_, options);
    ASSERT_TRUE(pool.has_value());
    pool_ = std::move(*pool);
  }

  // A file of `size` bytes whose times lie in the past, so that any write moves them.
  std::filesystem::path make_file(std::size_t size) {
    const auto path = dir_ / "data";
    std::string bytes(size, 'a');
    for (std::size_t i = 0; i < size; ++i)
      bytes[i] = static_cast<char>('a' + i % 23);
    dir_.write("data", bytes);
    const timespec past[2] = {{1'600'000'000, 0}, {1'600'000'000, 0}};
    EXPECT_EQ(::utimensat(AT_FDCWD, path.c_str(), past, 0), 0);
    return path;
  }

  // What the walker would hand over for `path`: its stat, taken now.
  static FileEntry entry_for(const std::filesystem::path& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0);
    FileEntry entry;
    entry.rel_path = path.filename().string();
    entry.abs_path = path.string();
    entry.size = static_cast<std::uint64_t>(st.st_size);
    entry.mode = st.st_mode;
    entry.mtime_ns = st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec;
    entry.ctime_ns = st.st_ctim.tv_sec * 1'000'000'000LL + st.st_ctim.tv_nsec;
    return entry;
  }

  FileRecord process(FileEntry entry, Seen& seen,
                     std::function<void(std::uint64_t offset)> on_chunk = {},
                     std::size_t read_ahead = 4) {
    std::vector<std::unique_ptr<Stage>> stages;
    stages.push_back(std::make_unique<WatchStage>(seen, std::move(on_chunk)));
    FlowShared shared{Runtime{*ring_, *cpu_, *pool_, nullptr, {}}, stages};
    std::vector<ReadSlot> window(read_ahead);
    return sync_wait(*ring_, process_file(&shared, window, std::move(entry)));
  }

  testing::TempDir dir_;
  std::unique_ptr<io::Ring> ring_;
  std::unique_ptr<CpuPool> cpu_;
  std::unique_ptr<io::BufferPool> pool_;
};

// Overwrites a few bytes in the middle of `path` without changing its size.
void write_in_place(const std::filesystem::path& path, off_t offset) {
  const int fd = ::open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, "XYZ", 3, offset), 3);
  ::close(fd);
}

TEST_F(FileFlow, AnUntouchedFileIsReadWholeAndFinished) {
  Seen seen;
  const auto record = process(entry_for(make_file(3 * kChunk + 5)), seen);
  EXPECT_EQ(record.status, FileStatus::ok) << record.error;
  EXPECT_EQ(seen.bytes, 3 * kChunk + 5);
  EXPECT_EQ(seen.finished, 1);
  EXPECT_EQ(seen.aborted, 0);
}

TEST_F(FileFlow, AFileGoneBetweenWalkAndOpenFailsNamingTheReason) {
  const auto path = make_file(100);
  FileEntry entry = entry_for(path);
  std::filesystem::remove(path);
  Seen seen;
  const auto record = process(std::move(entry), seen);
  EXPECT_EQ(record.status, FileStatus::failed);
  EXPECT_EQ(record.error, "open: No such file or directory");
  EXPECT_EQ(seen.bytes, 0u);
  EXPECT_EQ(seen.finished, 0);
}

TEST_F(FileFlow, ALargeFileWrittenInPlaceWhileReadFails) {
  const auto path = make_file(4 * kChunk);
  Seen seen;
  const auto record = process(entry_for(path), seen, [&path](std::uint64_t offset) {
    if (offset == 0) write_in_place(path, 3 * kChunk + 10);
  });
  EXPECT_EQ(record.status, FileStatus::failed);
  EXPECT_EQ(record.error, "changed while being read (mtime, ctime)");
  EXPECT_TRUE(record.digests.empty());
  EXPECT_EQ(seen.finished, 0) << "a changed file must never be recorded as good";
  EXPECT_EQ(seen.aborted, 1);
}

TEST_F(FileFlow, ASmallFileWrittenInPlaceWhileReadFails) {
  // Read in one go, without a statx of its own: compared with the walker's stat, asked again
  // through the ring, or directly on a local disk.
  for (const bool local_disk : {false, true}) {
    SCOPED_TRACE(local_disk ? "local disk" : "through the ring");
    const auto path = make_file(1000);
    FileEntry entry = entry_for(path);
    entry.local_disk = local_disk;
    Seen seen;
    const auto record =
        process(std::move(entry), seen, [&path](std::uint64_t) { write_in_place(path, 10); });
    EXPECT_EQ(record.status, FileStatus::failed);
    EXPECT_EQ(record.error, "changed while being read (mtime, ctime)");
    EXPECT_EQ(seen.finished, 0);
    EXPECT_EQ(seen.aborted, 1);
  }
}

TEST_F(FileFlow, AFileChangedBetweenWalkAndReadFails) {
  const auto path = make_file(1000);
  FileEntry entry = entry_for(path);
  write_in_place(path, 10);
  Seen seen;
  const auto record = process(std::move(entry), seen);
  EXPECT_EQ(record.status, FileStatus::failed);
  EXPECT_EQ(record.error, "changed while being read (mtime, ctime)");
  EXPECT_EQ(seen.finished, 0);
}

TEST_F(FileFlow, AFileTruncatedWhileReadFails) {
  const auto path = make_file(4 * kChunk);
  Seen seen;
  // One read at a time, so the truncation lands before the second read.
  const auto record = process(
      entry_for(path), seen,
      [&path](std::uint64_t offset) {
        if (offset == 0) std::filesystem::resize_file(path, kChunk / 2);
      },
      1);
  EXPECT_EQ(record.status, FileStatus::failed);
  EXPECT_EQ(record.error, "file shrank while being read");
  EXPECT_EQ(seen.finished, 0);
  EXPECT_EQ(seen.aborted, 1);
}

TEST_F(FileFlow, AFileThatGrewSinceTheWalkFails) {
  const auto path = make_file(1000);
  FileEntry entry = entry_for(path);
  dir_.write("data", std::string(1500, 'b'));
  Seen seen;
  const auto record = process(std::move(entry), seen);
  EXPECT_EQ(record.status, FileStatus::failed);
  EXPECT_EQ(record.error, "file grew while being read");
  EXPECT_EQ(seen.finished, 0);
}

}  // namespace
}  // namespace piperun::pipeline
