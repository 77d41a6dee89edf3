#include "bench/command/test_file.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <fmt/core.h>
#include <tbb/parallel_for.h>

#include "bench/command/test_data.hpp"

namespace piperun::bench {
namespace {

constexpr const char* kXattr = "user.pipe-run.bench";
constexpr std::size_t kBatch = 64u << 20;  // generated in parallel, then written

std::string describe(std::uint64_t size, double compressibility) {
  return fmt::format("v1 size={} compressibility={:.3f}", size, compressibility);
}

bool reusable(const std::filesystem::path& path, const std::string& description) {
  char value[128];
  const ssize_t length = ::getxattr(path.c_str(), kXattr, value, sizeof value);
  return length > 0 && std::string(value, static_cast<std::size_t>(length)) == description;
}

std::string failure(const std::filesystem::path& path, const char* what) {
  return fmt::format("{}: {}: {}", path.string(), what, std::strerror(errno));
}

}  // namespace

std::expected<TestFile, std::string> lay_out_test_file(
    const std::filesystem::path& dir, std::uint64_t size, double compressibility,
    const std::function<void(double)>& progress) {
  TestFile file{dir / "pipe-run-bench.dat", size, false};
  const std::string description = describe(size, compressibility);
  if (reusable(file.path, description)) {
    file.reused = true;
    return file;
  }
  const std::filesystem::path temporary = dir / ".pipe-run-bench.dat.tmp";
  ::unlink(temporary.c_str());
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return std::unexpected(failure(temporary, "cannot create"));
  auto give_up = [&](const char* what) {
    std::string message = failure(temporary, what);
    ::close(fd);
    ::unlink(temporary.c_str());
    return std::unexpected(std::move(message));
  };
  if (::posix_fallocate(fd, 0, static_cast<off_t>(size)) != 0 && errno == ENOSPC)
    return give_up("cannot reserve the space");

  auto batch = std::make_unique<std::byte[]>(kBatch);
  for (std::uint64_t offset = 0; offset < size; offset += kBatch) {
    const std::size_t length = std::min<std::uint64_t>(kBatch, size - offset);
    tbb::parallel_for(std::size_t{0}, (length + kTestDataBlock - 1) / kTestDataBlock,
                      [&](std::size_t block) {
                        const std::size_t at = block * kTestDataBlock;
                        fill_test_data({batch.get() + at, std::min(kTestDataBlock, length - at)},
                                       offset + at, compressibility);
                      });
    for (std::size_t done = 0; done < length;) {
      const ssize_t wrote =
          ::pwrite(fd, batch.get() + done, length - done, static_cast<off_t>(offset + done));
      if (wrote < 0 && errno == EINTR) continue;
      if (wrote <= 0) return give_up("cannot write");
      done += static_cast<std::size_t>(wrote);
    }
    if (progress) progress(static_cast<double>(offset + length) / static_cast<double>(size));
  }
  if (::fdatasync(fd) != 0) return give_up("cannot flush");
  // Without user xattrs (some file systems) the file works but is laid out again next time.
  (void)::fsetxattr(fd, kXattr, description.data(), description.size(), 0);
  ::close(fd);
  if (::rename(temporary.c_str(), file.path.c_str()) != 0) {
    std::string message = failure(file.path, "cannot rename the laid-out file to");
    ::unlink(temporary.c_str());
    return std::unexpected(std::move(message));
  }
  return file;
}

}  // namespace piperun::bench
