// An unprivileged user may pin only RLIMIT_MEMLOCK bytes (8 MiB here): the pool must register
// what fits and keep working with the rest as plain buffers.
#include <fcntl.h>
#include <grp.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "io/buffer_pool.hpp"
#include "io/ops.hpp"
#include "pipeline/sync_wait.hpp"
#include "support/reads_expected_bytes.hpp"
#include "support/temp_dir.hpp"

namespace piperun::io {
namespace {

constexpr uid_t kNobody = 65534;

// Runs in the child, as nobody with an 8 MiB RLIMIT_MEMLOCK. Exit code 0 = as expected.
// `fill_in_background`: registered batch by batch while the ring runs.
int child_main(const char* file, const std::string& contents, bool fill_in_background) {
  if (::setgroups(0, nullptr) != 0 || ::setresgid(kNobody, kNobody, kNobody) != 0 ||
      ::setresuid(kNobody, kNobody, kNobody) != 0) {
    return 10;
  }
  const rlimit limit{8u << 20, 8u << 20};
  if (::setrlimit(RLIMIT_MEMLOCK, &limit) != 0) return 11;
  auto ring = Ring::create(RingOptions{});
  if (!ring) return 12;
  // The limit counts per user, across rings: another ring of this user pins 5 MiB first, so
  // that only 3 MiB are left when the pool plans for half the limit (4 MiB).
  auto other_ring = Ring::create(RingOptions{});
  if (!other_ring) return 19;
  std::vector<std::byte> pinned(5u << 20);
  const iovec pinned_iovec{pinned.data(), pinned.size()};
  if (io_uring_register_buffers((*other_ring)->native(), &pinned_iovec, 1) != 0) return 20;
  BufferPool::Options options;
  options.buffer_bytes = 1u << 20;
  options.count = 64;  // 64 MiB: far past the limit
  options.fill_in_background = fill_in_background;
  auto pool = BufferPool::create(**ring, options);
  if (!pool) return 13;
  (*ring)->run_until([&] { return (*pool)->filled(); });
  const std::size_t registered = (*pool)->registered_count();
  if (registered == 0 || registered * options.buffer_bytes > (3u << 20)) return 14;
  const int fd = ::open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 15;
  // Take every buffer, so that both a registered and a plain one are read into.
  std::vector<BufferLease> leases;
  while (BufferLease lease = (*pool)->try_acquire())
    leases.push_back(std::move(lease));
  if (leases.size() != options.count) return 16;
  bool registered_ok = false;
  bool plain_ok = false;
  for (auto& lease : leases) {
    const bool ok = pipeline::sync_wait(
        **ring, testing::reads_expected_bytes(ring->get(), &lease, fd, contents));
    if (!ok) return 17;
    (lease.registered_index() >= 0 ? registered_ok : plain_ok) = true;
  }
  ::close(fd);
  return registered_ok && plain_ok ? 0 : 18;
}

class BufferPoolMemlock : public ::testing::TestWithParam<bool> {};

TEST_P(BufferPoolMemlock, RegistersWhatFitsAndReadsThroughTheRest) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to become an unprivileged user";
  testing::TempDir dir;
  std::string contents(100'000, '\0');
  for (std::size_t i = 0; i < contents.size(); ++i)
    contents[i] = static_cast<char>(i % 251);
  const auto file = dir.write("data.bin", contents);
  ::chmod(dir.path().c_str(), 0755);
  ::chmod(file.c_str(), 0644);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(child_main(file.c_str(), contents, GetParam()));
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "see child_main for what each code means";
}

INSTANTIATE_TEST_SUITE_P(FillInBackground, BufferPoolMemlock, ::testing::Bool());

}  // namespace
}  // namespace piperun::io
