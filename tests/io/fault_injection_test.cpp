// The fault-injection hook: its spec, its counting, and a ring that reports the chosen error.
#include "io/fault_injection.hpp"

#include <cstdlib>
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <liburing.h>

#include "io/ops.hpp"
#include "io/ring.hpp"
#include "pipeline/sync_wait.hpp"
#include "pipeline/task.hpp"
#include "support/temp_dir.hpp"

namespace piperun::io {
namespace {

using pipeline::sync_wait;
using pipeline::task;

TEST(FaultInjector, FailsOnlyTheNthOperationOfItsKind) {
  auto injector = FaultInjector::parse("write:ENOSPC:2");
  ASSERT_TRUE(injector.has_value()) << injector.error();
  EXPECT_EQ(injector->on_submit(IORING_OP_WRITE), 0);
  EXPECT_EQ(injector->on_submit(IORING_OP_READ), 0) << "reads are not counted";
  EXPECT_EQ(injector->on_submit(IORING_OP_WRITE_FIXED), -ENOSPC);
  EXPECT_EQ(injector->on_submit(IORING_OP_WRITE), 0);
}

TEST(FaultInjector, APlusFailsThatOneAndEveryLaterOne) {
  auto injector = FaultInjector::parse("read:EIO:2+");
  ASSERT_TRUE(injector.has_value()) << injector.error();
  EXPECT_EQ(injector->on_submit(IORING_OP_READ_FIXED), 0);
  EXPECT_EQ(injector->on_submit(IORING_OP_READ), -EIO);
  EXPECT_EQ(injector->on_submit(IORING_OP_READ), -EIO);
  EXPECT_EQ(injector->on_submit(IORING_OP_OPENAT), 0);
}

TEST(FaultInjector, BadSpecsSayWhatIsWrong) {
  for (const char* spec : {"", "write", "write:EIO", "copy:EIO:1", "write:EWHAT:1", "write:EIO:0",
                           "write:EIO:x", "write:EIO:1++"}) {
    auto injector = FaultInjector::parse(spec);
    ASSERT_FALSE(injector.has_value()) << spec;
    EXPECT_NE(injector.error().find(kFaultInjectionVariable), std::string::npos) << spec;
  }
}

// Sets the variable for one scope, as a test run of pipe-run would.
class ScopedFault {
 public:
  explicit ScopedFault(const char* spec) { ::setenv(kFaultInjectionVariable, spec, 1); }
  ~ScopedFault() { ::unsetenv(kFaultInjectionVariable); }
  ScopedFault(const ScopedFault&) = delete;
  ScopedFault& operator=(const ScopedFault&) = delete;
};

task<std::expected<std::size_t, std::error_code>> read_some(Ring* ring, int fd) {
  char bytes[16];
  TransferOp op;
  op.start(*ring, TransferOp::Direction::read, fd, std::as_writable_bytes(std::span(bytes)), 0, -1);
  co_return co_await op;
}

TEST(FaultInjector, TheRingReportsTheInjectedErrorForTheChosenOperation) {
  testing::TempDir dir;
  const auto file = dir.write("data", "some bytes to read");
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ScopedFault fault("read:EIO:2");
  auto ring = Ring::create(RingOptions{});
  ASSERT_TRUE(ring.has_value());
  EXPECT_TRUE(sync_wait(**ring, read_some(ring->get(), fd)).has_value());
  auto second = sync_wait(**ring, read_some(ring->get(), fd));
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().value(), EIO);
  EXPECT_TRUE(sync_wait(**ring, read_some(ring->get(), fd)).has_value());
  ::close(fd);
}

TEST(FaultInjector, ABadSpecStopsTheRingFromStarting) {
  ScopedFault fault("read:EIO");
  auto ring = Ring::create(RingOptions{});
  ASSERT_FALSE(ring.has_value());
  EXPECT_EQ(ring.error(), std::errc::invalid_argument);
}

}  // namespace
}  // namespace piperun::io
