// Resource promises: bounded memory (peak RSS), unprivileged runs under a low RLIMIT_MEMLOCK,
// and input bytes arriving through io_uring rather than read(2).
#include <algorithm>
#include <cctype>
#include <string>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/harness.hpp"

namespace piperun::itest {
namespace {

struct MemlockCase {
  const char* name;
  std::uint64_t memlock_bytes;
  bool direct_io;
};

void PrintTo(const MemlockCase& param, std::ostream* os) {
  *os << param.name;
}

class LowMemlock : public ::testing::TestWithParam<MemlockCase> {};

// Buffer registration pins memory against RLIMIT_MEMLOCK (root's CAP_IPC_LOCK bypasses it,
// hence the unprivileged user): the run must fall back and still succeed.
TEST_P(LowMemlock, UnprivilegedRunSucceeds) {
  const MemlockCase& param = GetParam();
  const auto prefix = unprivileged_prefix();
  if (!prefix) GTEST_SKIP() << "running as root without runuser or setpriv";
  const auto prlimit = find_program("prlimit");
  if (!prlimit) GTEST_SKIP() << "prlimit (util-linux) is not installed";

  Job job(0777);
  write_random_file(job.root() / "big.bin", 40 * kMiB, 21);
  write_random_file(job.root() / "odd.bin", 4 * kMiB + 1, 22);
  job.file("small.txt", "small\n");
  job.file("sub/tiny", "t");
  job.set("pipeline", "memory_limit", R"("256MiB")");
  job.set("pipeline", "chunk_size", R"("4MiB")");
  job.set("pipeline", "direct_io", param.direct_io ? "true" : "false");
  job.write_config();
  if (!unprivileged_can_read(*prefix, job.config()))
    GTEST_SKIP() << "the unprivileged user cannot read " << job.config();

  const std::string limit = std::to_string(param.memlock_bytes);
  std::vector<std::string> argv = *prefix;
  for (const std::string& arg : {prlimit->string(), "--memlock=" + limit + ":" + limit,
                                 std::string("--"), kBinary.string(), job.config().string()})
    argv.push_back(arg);
  const RunResult result = run(argv, RunOptions{.timeout = std::chrono::seconds(60)});
  ASSERT_FALSE(result.timed_out) << result.describe();
  ASSERT_EQ(result.exit_code, 0) << result.describe();

  EXPECT_EQ(count_lines(read_file(job.checksums())), 4u);
  const RunResult check = job.check(job.checksums());
  EXPECT_EQ(check.exit_code, 0) << check.describe();
  EXPECT_EQ(count_lines(check.out, ": OK"), 4u) << check.describe();
}

INSTANTIATE_TEST_SUITE_P(Integration, LowMemlock,
                         ::testing::Values(MemlockCase{"Memlock8MiB", 8 * kMiB, false},
                                           MemlockCase{"Memlock8MiBDirectIo", 8 * kMiB, true},
                                           MemlockCase{"Memlock64KiBDirectIo", 64 * 1024, true}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ItMemory, PeakRssStaysUnderTheLimitPlusAConstant) {
  Job job;
  // 600 MiB in all, sparse: two large files and fifty 2 MiB files.
  write_sparse_file(job.root() / "large-1.bin", 250 * kMiB);
  write_sparse_file(job.root() / "large-2.bin", 250 * kMiB);
  for (int i = 0; i < 50; ++i)
    write_sparse_file(job.root() / "many" / ("f" + std::to_string(i)), 2 * kMiB);
  job.set("pipeline", "memory_limit", R"("64MiB")");
  job.set("pipeline", "chunk_size", R"("4MiB")");

  const RunResult result = job.run_pipe({}, RunOptions{.timeout = std::chrono::seconds(120)});
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  const long limit_kib = rss_bound_kib(64);
  RecordProperty("peak_rss_kib", std::to_string(result.max_rss_kib));
  EXPECT_GT(result.max_rss_kib, 0);
  EXPECT_LT(result.max_rss_kib, limit_kib)
      << "peak RSS " << result.max_rss_kib / 1024 << " MiB with memory_limit = 64MiB";

  const nlohmann::json manifest = read_json(job.manifest());
  EXPECT_EQ(manifest["summary"]["bytes_in"].get<std::uintmax_t>(), 600 * kMiB);
  const RunResult check = job.check(job.checksums());
  EXPECT_EQ(check.exit_code, 0) << check.describe();
  EXPECT_EQ(count_lines(check.out, ": OK"), 52u);
}

// Many files at once, each holding read buffers and frames while it waits for more: with 16 MiB
// for 64 files in flight, a buffer held by a finished write that nobody reaps would deadlock.
TEST(ItMemory, CompressAndWriteOfManyFilesInLittleMemoryCompletes) {
  Job job;
  for (int i = 0; i < 60; ++i) {
    const std::string name = "many/f" + std::to_string(i);
    if (i % 3 == 0) {
      write_random_file(job.root() / name, 3 * kMiB + static_cast<std::size_t>(i), i);
    } else {
      write_sparse_file(job.root() / name, 3 * kMiB + static_cast<std::size_t>(i));
    }
  }
  job.set("pipeline", "stages", R"(["hash", "compress", "write"])");
  job.set("pipeline", "memory_limit", R"("16MiB")");
  job.set("pipeline", "chunk_size", R"("1MiB")");
  job.set("compress", "level", "1");
  job.set("output", "dir", toml_string((job.out() / "tree").string()));

  const RunResult result = job.run_pipe({}, RunOptions{.timeout = std::chrono::seconds(60)});
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  EXPECT_LT(result.max_rss_kib, rss_bound_kib(16))
      << "peak RSS " << result.max_rss_kib / 1024 << " MiB with memory_limit = 16MiB";
  std::size_t outputs = 0;
  for (const auto& entry : fs::recursive_directory_iterator(job.out() / "tree"))
    outputs += entry.is_regular_file() && entry.path().extension() == ".zst";
  EXPECT_EQ(outputs, 60u);
  const RunResult check = job.check(job.checksums());
  EXPECT_EQ(check.exit_code, 0) << check.describe();
}

// The number after the last " = " of an strace line, if it is one.
std::optional<long long> strace_result(const std::string& line) {
  const auto at = line.rfind(" = ");
  if (at == std::string::npos) return std::nullopt;
  std::size_t pos = at + 3;
  std::size_t end = pos;
  while (end < line.size() && std::isdigit(static_cast<unsigned char>(line[end])))
    ++end;
  if (end == pos) return std::nullopt;
  return std::stoll(line.substr(pos, end - pos));
}

TEST(ItSyscalls, InputBytesComeThroughIoUringNotRead) {
  const auto strace = find_program("strace");
  if (!strace) GTEST_SKIP() << "strace is not installed";
  Job job;
  constexpr std::size_t kFileSize = 8 * kMiB;
  write_random_file(job.root() / "data.bin", kFileSize, 99);
  job.write_config();
  const fs::path log = job.dir() / "strace.log";

  const RunResult result = run({"env", kTracedAsanOptions, strace->string(), "-f", "-e",
                                "trace=read,pread64,readv,preadv,preadv2,io_uring_setup", "-o",
                                log.string(), kBinary.string(), job.config().string()},
                               RunOptions{.timeout = std::chrono::seconds(60)});
  const std::string text = read_file(log);
  if (result.exit_code != 0 && text.empty())
    GTEST_SKIP() << "strace cannot trace here\n" << result.describe();
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  EXPECT_EQ(job.check(job.checksums()).exit_code, 0);

  bool saw_ring = false;
  std::size_t read_calls = 0;
  long long largest = 0;
  long long total = 0;
  std::string largest_line;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (contains(line, "io_uring_setup(")) {
      saw_ring = true;
      continue;
    }
    if (!contains(line, "read")) continue;  // exits, signals
    const auto bytes = strace_result(line);
    if (!bytes) continue;
    ++read_calls;
    total += *bytes;
    if (*bytes > largest) {
      largest = *bytes;
      largest_line = line;
    }
  }
  RecordProperty("read_calls", std::to_string(read_calls));
  RecordProperty("read_bytes_total", std::to_string(total));
  RecordProperty("read_bytes_largest", std::to_string(largest));
  EXPECT_TRUE(saw_ring) << "no io_uring_setup in the trace";
  ASSERT_GT(read_calls, 0u) << "the trace shows no read at all: strace did not work?\n" << text;
  EXPECT_LT(largest, 1'048'576) << "a large read(2): " << largest_line;
  EXPECT_LT(total, static_cast<long long>(kFileSize / 2))
      << "read-family syscalls returned " << total << " bytes in all";
}

}  // namespace
}  // namespace piperun::itest
