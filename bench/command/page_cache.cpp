#include "bench/command/page_cache.hpp"

#include <fcntl.h>
#include <memory>
#include <unistd.h>

#include "bench/command/unique_fd.hpp"

namespace piperun::bench {
namespace {

std::error_code last_error() {
  return {errno, std::system_category()};
}

}  // namespace

std::error_code drop_from_page_cache(const std::filesystem::path& file) {
  UniqueFd in{::open(file.c_str(), O_RDONLY | O_CLOEXEC)};
  if (in.fd < 0) return last_error();
  // Dirty pages cannot be dropped: write them back first.
  if (::fdatasync(in.fd) != 0) return last_error();
  if (const int error = ::posix_fadvise(in.fd, 0, 0, POSIX_FADV_DONTNEED); error != 0)
    return {error, std::system_category()};
  return {};
}

std::error_code load_into_page_cache(const std::filesystem::path& file) {
  UniqueFd in{::open(file.c_str(), O_RDONLY | O_CLOEXEC)};
  if (in.fd < 0) return last_error();
  (void)::posix_fadvise(in.fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  constexpr std::size_t kBuffer = 1u << 20;
  auto buffer = std::make_unique<char[]>(kBuffer);
  for (;;) {
    const ssize_t got = ::read(in.fd, buffer.get(), kBuffer);
    if (got == 0) return {};
    if (got < 0 && errno != EINTR) return last_error();
  }
}

}  // namespace piperun::bench
