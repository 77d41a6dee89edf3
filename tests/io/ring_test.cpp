// The ring's awaitables against real files, pipes and threads.
#include "io/ring.hpp"

#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <numeric>
#include <thread>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "io/ops.hpp"
#include "pipeline/sync_wait.hpp"
#include "pipeline/task.hpp"
#include "support/temp_dir.hpp"
#include "support/test_ring.hpp"

namespace piperun::io {
namespace {

using piperun::testing::make_ring;

using pipeline::sync_wait;
using pipeline::task;

std::string pattern(std::size_t size) {
  std::string bytes(size, '\0');
  for (std::size_t i = 0; i < size; ++i)
    bytes[i] = static_cast<char>((i * 131 + i / 7) & 0xff);
  return bytes;
}

struct ReadResult {
  std::expected<std::size_t, std::error_code> bytes;
  std::string data;
};

task<ReadResult> read_range(Ring* ring, int fd, std::uint64_t offset, std::size_t length) {
  std::string data(length, '\0');
  TransferOp op;
  op.start(*ring, TransferOp::Direction::read, fd,
           std::as_writable_bytes(std::span(data.data(), data.size())), offset, -1);
  auto bytes = co_await op;
  if (bytes) data.resize(*bytes);
  co_return ReadResult{bytes, std::move(data)};
}

task<std::expected<int, std::error_code>> open_file(Ring* ring, std::string path, int flags) {
  co_return co_await OpenAt(*ring, AT_FDCWD, path.c_str(), flags);
}

TEST(Ring, OpensStatsReadsAndClosesAFile) {
  testing::TempDir dir;
  const std::string contents = pattern(10'000);
  const auto file = dir.write("data.bin", contents);
  auto ring = make_ring();

  auto fd = sync_wait(*ring, open_file(ring.get(), file.string(), O_RDONLY));
  ASSERT_TRUE(fd.has_value()) << fd.error().message();

  struct statx stat {};
  auto stat_task = [](Ring* r, int descriptor,
                      struct statx* out) -> task<std::expected<void, std::error_code>> {
    co_return co_await Statx(*r, descriptor, "", AT_EMPTY_PATH, STATX_SIZE | STATX_MODE, out);
  };
  auto stated = sync_wait(*ring, stat_task(ring.get(), *fd, &stat));
  ASSERT_TRUE(stated.has_value());
  EXPECT_EQ(stat.stx_size, contents.size());
  EXPECT_TRUE(S_ISREG(stat.stx_mode));

  ReadResult whole = sync_wait(*ring, read_range(ring.get(), *fd, 0, contents.size()));
  ASSERT_TRUE(whole.bytes.has_value());
  EXPECT_EQ(whole.data, contents);

  auto close_task = [](Ring* r, int descriptor) -> task<std::expected<void, std::error_code>> {
    co_return co_await Close(*r, descriptor);
  };
  EXPECT_TRUE(sync_wait(*ring, close_task(ring.get(), *fd)).has_value());
  EXPECT_EQ(::fcntl(*fd, F_GETFD), -1) << "the descriptor must be closed";
}

// Every setup the engine can be asked for reads correctly, one request at a time or batched.
TEST(Ring, EverySetupReadsAFile) {
  testing::TempDir dir;
  const std::string contents = pattern(300'000);
  const auto file = dir.write("data.bin", contents);
  for (RingSetup setup : {RingSetup::automatic, RingSetup::defer_taskrun, RingSetup::coop_taskrun,
                          RingSetup::plain, RingSetup::sqpoll}) {
    for (bool submit_each : {false, true}) {
      SCOPED_TRACE(static_cast<int>(setup));
      RingOptions options;
      options.entries = 16;
      options.setup = setup;
      options.submit_each = submit_each;
      auto ring = Ring::create(options);
      if (!ring && setup == RingSetup::sqpoll && ring.error() == std::errc::operation_not_permitted)
        continue;  // kernels before 5.13 allow SQPOLL to root only
      ASSERT_TRUE(ring.has_value()) << ring.error().message();
      auto fd = sync_wait(**ring, open_file(ring->get(), file.string(), O_RDONLY));
      ASSERT_TRUE(fd.has_value()) << fd.error().message();
      // Reads of 4 KiB at odd places, many in flight: more than the ring's 16 entries.
      auto reads = [](Ring* r, int descriptor) -> task<std::string> {
        std::vector<std::string> parts(40, std::string(4096, '\0'));
        auto ops = std::make_unique<TransferOp[]>(parts.size());
        for (std::size_t i = 0; i < parts.size(); ++i) {
          ops[i].start(*r, TransferOp::Direction::read, descriptor,
                       std::as_writable_bytes(std::span(parts[i].data(), parts[i].size())),
                       i * 7001, -1);
        }
        std::string joined;
        for (std::size_t i = 0; i < parts.size(); ++i) {
          TransferOp& op = ops[i];
          auto got = co_await op;
          joined += got ? parts[i].substr(0, *got) : std::string("error");
        }
        co_return joined;
      };
      std::string expected;
      for (std::size_t i = 0; i < 40; ++i)
        expected += contents.substr(i * 7001, 4096);
      EXPECT_EQ(sync_wait(**ring, reads(ring->get(), *fd)), expected);
      ::close(*fd);
    }
  }
}

TEST(Ring, ReadsOddOffsetsAndSizes) {
  testing::TempDir dir;
  const std::string contents = pattern(3 * 4096 + 17);
  const auto file = dir.write("odd.bin", contents);
  auto ring = make_ring();
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  for (auto [offset, length] : std::vector<std::pair<std::uint64_t, std::size_t>>{
           {0, 1}, {1, 4095}, {3, 4097}, {4095, 2}, {8191, 4096 + 18}, {12'304, 1}}) {
    ReadResult part = sync_wait(*ring, read_range(ring.get(), fd, offset, length));
    ASSERT_TRUE(part.bytes.has_value());
    EXPECT_EQ(*part.bytes, length) << "offset " << offset;
    EXPECT_EQ(part.data, contents.substr(offset, length)) << "offset " << offset;
  }
  ::close(fd);
}

TEST(Ring, StopsAtEndOfFile) {
  testing::TempDir dir;
  const std::string contents = pattern(5000);
  const auto file = dir.write("short.bin", contents);
  auto ring = make_ring();
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  ReadResult past_end = sync_wait(*ring, read_range(ring.get(), fd, 4000, 8192));
  ASSERT_TRUE(past_end.bytes.has_value());
  EXPECT_EQ(*past_end.bytes, 1000u);
  EXPECT_EQ(past_end.data, contents.substr(4000));
  ReadResult beyond = sync_wait(*ring, read_range(ring.get(), fd, 10'000, 10));
  ASSERT_TRUE(beyond.bytes.has_value());
  EXPECT_EQ(*beyond.bytes, 0u);
  ::close(fd);
}

TEST(Ring, ReissuesShortReadsUntilTheRangeIsFull) {
  // A pipe hands out what has been written so far: each read is short until the writer is done.
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  auto ring = make_ring();
  std::thread writer([fd = fds[1]] {
    for (int i = 0; i < 5; ++i) {
      const char piece[3] = {'a', 'b', static_cast<char>('0' + i)};
      ASSERT_EQ(::write(fd, piece, 3), 3);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ::close(fd);
  });
  ReadResult result = sync_wait(*ring, read_range(ring.get(), fds[0], 0, 100));
  writer.join();
  ASSERT_TRUE(result.bytes.has_value());
  EXPECT_EQ(result.data, "ab0ab1ab2ab3ab4");
  ::close(fds[0]);
}

TEST(Ring, ReportsErrorCodes) {
  auto ring = make_ring();
  ReadResult bad_fd = sync_wait(*ring, read_range(ring.get(), 987654, 0, 10));
  ASSERT_FALSE(bad_fd.bytes.has_value());
  EXPECT_EQ(bad_fd.bytes.error().value(), EBADF);

  auto missing = sync_wait(*ring, open_file(ring.get(), "/nonexistent/pipe-run/file", O_RDONLY));
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().value(), ENOENT);

  testing::TempDir dir;
  auto is_dir = sync_wait(*ring, open_file(ring.get(), dir.path().string(), O_WRONLY));
  ASSERT_FALSE(is_dir.has_value());
  EXPECT_EQ(is_dir.error().value(), EISDIR);
}

TEST(Ring, WritesAndReadsBack) {
  testing::TempDir dir;
  auto ring = make_ring();
  const auto file = dir / "out.bin";
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  std::string contents = pattern(70'001);
  auto write_all = [](Ring* r, int descriptor,
                      std::string* bytes) -> task<std::expected<std::size_t, std::error_code>> {
    TransferOp op;
    op.start(*r, TransferOp::Direction::write, descriptor,
             std::as_writable_bytes(std::span(bytes->data(), bytes->size())), 5, -1);
    co_return co_await op;
  };
  auto written = sync_wait(*ring, write_all(ring.get(), fd, &contents));
  ASSERT_TRUE(written.has_value());
  EXPECT_EQ(*written, contents.size());
  ReadResult back = sync_wait(*ring, read_range(ring.get(), fd, 5, contents.size()));
  EXPECT_EQ(back.data, contents);
  ::close(fd);
}

TEST(Ring, TimeoutWaitsAtLeastItsDuration) {
  auto ring = make_ring();
  auto sleep = [](Ring* r) -> task<std::expected<void, std::error_code>> {
    co_return co_await Timeout(*r, std::chrono::milliseconds(30));
  };
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(sync_wait(*ring, sleep(ring.get())).has_value());
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(30));
}

task<std::size_t> many_reads(Ring* ring, int fd, std::size_t count, std::string* expected) {
  // More operations in flight than the SQ and CQ hold: the ring must park and resubmit them.
  std::vector<std::string> buffers(count, std::string(64, '\0'));
  std::vector<TransferOp> ops(count);
  for (std::size_t i = 0; i < count; ++i) {
    ops[i].start(*ring, TransferOp::Direction::read, fd,
                 std::as_writable_bytes(std::span(buffers[i].data(), 64)), (i % 100) * 64, -1);
  }
  std::size_t matching = 0;
  for (std::size_t i = 0; i < count; ++i) {
    TransferOp& op = ops[i];  // g++ 12 copies the operand of `co_await ops[i]`
    auto bytes = co_await op;
    if (bytes && *bytes == 64 && buffers[i] == expected->substr((i % 100) * 64, 64)) ++matching;
  }
  co_return matching;
}

TEST(Ring, ParksOperationsBeyondItsCapacity) {
  testing::TempDir dir;
  std::string contents = pattern(6400);
  const auto file = dir.write("many.bin", contents);
  auto ring = make_ring(RingOptions{.entries = 8});
  EXPECT_LE(ring->max_in_flight(), 16u);
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_EQ(sync_wait(*ring, many_reads(ring.get(), fd, 1000, &contents)), 1000u);
  ::close(fd);
}

task<std::thread::id> hop_back(Ring* ring, RemoteWork* work, std::thread* poster) {
  struct PostFromThread {
    RemoteWork* work;
    Ring* ring;
    std::thread* poster;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> handle) {
      work->handle = handle;
      *poster = std::thread([w = work, r = ring] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the loop is asleep by now
        r->post(*w);
      });
    }
    void await_resume() const noexcept {}
  };
  co_await PostFromThread{work, ring, poster};
  co_return std::this_thread::get_id();
}

TEST(Ring, PostFromAnotherThreadWakesTheLoopAndResumesOnIt) {
  auto ring = make_ring();
  RemoteWork work;
  std::thread poster;
  const auto resumed_on = sync_wait(*ring, hop_back(ring.get(), &work, &poster));
  poster.join();
  EXPECT_EQ(resumed_on, std::this_thread::get_id());
}

task<void> read_forever(Ring* ring, int fd, std::expected<std::size_t, std::error_code>* out,
                        bool* finished) {
  std::array<std::byte, 16> buffer{};
  TransferOp op;
  op.start(*ring, TransferOp::Direction::read, fd, buffer, 0, -1);
  *out = co_await op;
  *finished = true;
}

TEST(Ring, CancelCompletesOperationsThatWouldNeverFinish) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  std::expected<std::size_t, std::error_code> result = 0;
  bool finished = false;
  {
    auto ring = make_ring();
    pipeline::spawn(read_forever(ring.get(), fds[0], &result, &finished));
    ring->step(false);
    EXPECT_FALSE(finished);
    ring->cancel_all();
    EXPECT_TRUE(finished) << "cancel_all must wait for the cancelled read's completion";
    EXPECT_EQ(ring->in_flight(), 0u);
  }
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().value(), ECANCELED);
  ::close(fds[0]);
  ::close(fds[1]);
}

}  // namespace
}  // namespace piperun::io
