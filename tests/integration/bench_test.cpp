// `pipe-run bench` run for real on small test files: what it prints, what it leaves behind,
// how it reuses its test file and refuses bad options. (Its figures are compared with fio's
// in bench/disk_bench.sh, not here: speed is for benchmarks, not tests.)
#include <string>
#include <sys/stat.h>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/harness.hpp"

namespace piperun::itest {
namespace {

constexpr std::uintmax_t kSize = 32u << 20;

std::vector<std::string> bench_argv(const fs::path& dir, std::vector<std::string> extra) {
  std::vector<std::string> argv{kBinary.string(), "bench", "--dir",     dir.string(),
                                "--size",         "32MiB", "--runtime", "200ms"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

std::vector<std::string> row_names(const nlohmann::json& report) {
  std::vector<std::string> names;
  for (const auto& row : report.at("rows"))
    names.push_back(row.at("name"));
  return names;
}

TEST(ItBench, MeasuresEveryRowAndPrintsOneJsonDocument) {
  TempDir dir;
  const RunResult result = run(bench_argv(dir.path(), {"--json"}));
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  const nlohmann::json report = nlohmann::json::parse(result.out);  // stdout: the JSON only

  EXPECT_EQ(row_names(report),
            (std::vector<std::string>{"seq-read", "seq-write", "rand-read-4k", "read", "read+hash",
                                      "read+hash+compress", "read+hash+compress+write"}));
  EXPECT_EQ(report.at("file").at("size"), kSize);
  for (const auto& row : report.at("rows")) {
    SCOPED_TRACE(row.dump());
    EXPECT_GT(row.at("seconds").get<double>(), 0);
    EXPECT_GT(row.at("mb_per_s").get<double>(), 0);
    EXPECT_GT(row.at("peak_rss_bytes").get<std::uint64_t>(), 0u);
    const std::string limit = row.at("limited_by");
    EXPECT_TRUE(limit == "disk" || limit == "cpu" || limit == "memory");
    if (row.at("name") != "rand-read-4k") {
      EXPECT_EQ(row.at("bytes"), kSize);
    }
    // The write ends with an fdatasync, timed apart from the rate as fio does.
    EXPECT_EQ(row.contains("flush_seconds"), row.at("name") == "seq-write");
  }
  const auto& random = report.at("rows").at(2);
  EXPECT_EQ(random.at("bytes").get<std::uint64_t>(),
            random.at("operations").get<std::uint64_t>() * 4096);
  for (const auto& row : {report.at("rows").at(0), random}) {
    const auto& latency = row.at("latency_us");
    EXPECT_GT(latency.at("p50").get<double>(), 0);
    EXPECT_LE(latency.at("p50").get<double>(), latency.at("p99").get<double>());
    EXPECT_LE(latency.at("p99").get<double>(), latency.at("p999").get<double>());
    EXPECT_LE(latency.at("p999").get<double>(), latency.at("max").get<double>());
  }
  // The generated data compresses about as much as asked (3 by default).
  const double ratio = report.at("rows").at(5).at("compression_ratio");
  EXPECT_GT(ratio, 2.4);
  EXPECT_LT(ratio, 3.6);
  // Progress and logs go to stderr, one line per row when it is not a terminal.
  EXPECT_TRUE(contains(result.err, "pipe-run bench: seq-read: ")) << result.err;
  EXPECT_TRUE(contains(result.err, "pipe-run bench: read+hash+compress+write: ")) << result.err;
  // Only the test file stays, for the next run.
  EXPECT_EQ(regular_files(dir.path()), (std::set<std::string>{"pipe-run-bench.dat"}));
  EXPECT_EQ(fs::file_size(dir / "pipe-run-bench.dat"), kSize);
}

TEST(ItBench, ReusesItsTestFileOnlyWhenSizeAndCompressibilityMatch) {
  TempDir dir;
  auto first = run(bench_argv(dir.path(), {"--stages", "none", "--json"}));
  ASSERT_EQ(first.exit_code, 0) << first.describe();
  EXPECT_FALSE(nlohmann::json::parse(first.out).at("file").at("reused").get<bool>());
  struct stat before {};
  ASSERT_EQ(::stat((dir / "pipe-run-bench.dat").c_str(), &before), 0);

  auto again = run(bench_argv(dir.path(), {"--stages", "none", "--json"}));
  ASSERT_EQ(again.exit_code, 0) << again.describe();
  EXPECT_TRUE(nlohmann::json::parse(again.out).at("file").at("reused").get<bool>());
  struct stat after {};
  ASSERT_EQ(::stat((dir / "pipe-run-bench.dat").c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino);

  auto other =
      run(bench_argv(dir.path(), {"--stages", "none", "--json", "--compressibility", "1"}));
  ASSERT_EQ(other.exit_code, 0) << other.describe();
  EXPECT_FALSE(nlohmann::json::parse(other.out).at("file").at("reused").get<bool>());
  // Stage rows left out: the raw rows only.
  EXPECT_EQ(row_names(nlohmann::json::parse(other.out)),
            (std::vector<std::string>{"seq-read", "seq-write", "rand-read-4k"}));
}

TEST(ItBench, PrintsATableWithEveryRow) {
  TempDir dir;
  const RunResult result = run(bench_argv(dir.path(), {"--stages", "hash", "--direct"}));
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  EXPECT_TRUE(contains(result.out, "limited by")) << result.out;
  EXPECT_TRUE(contains(result.out, "O_DIRECT")) << result.out;
  for (const char* name : {"seq-read ", "seq-write ", "rand-read-4k ", "read ", "read+hash "})
    EXPECT_TRUE(contains(result.out, name)) << name << "\n" << result.out;
}

TEST(ItBench, RunsUnprivilegedWithLittleLockedMemory) {
  const auto prefix = unprivileged_prefix();
  if (!prefix) GTEST_SKIP() << "running as root without runuser or setpriv";
  const auto prlimit = find_program("prlimit");
  if (!prlimit) GTEST_SKIP() << "prlimit (util-linux) is not installed";
  TempDir dir(0777);
  if (!unprivileged_can_read(*prefix, dir.path()))
    GTEST_SKIP() << "nobody cannot reach " << dir.path();
  std::vector<std::string> argv = *prefix;
  for (const std::string& arg :
       {prlimit->string(), std::string("--memlock=8388608:8388608"), std::string("--")})
    argv.push_back(arg);
  for (const std::string& arg : bench_argv(dir.path(), {"--direct", "--stages", "hash", "--json"}))
    argv.push_back(arg);
  const RunResult result = run(argv);
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  EXPECT_EQ(row_names(nlohmann::json::parse(result.out)).size(), 5u);
}

TEST(ItBench, BadOptionsExitTwoNamingTheOption) {
  TempDir dir;
  struct Case {
    std::vector<std::string> extra;
    std::string named;
  };
  for (const Case& bad : std::vector<Case>{{{"--stages", "compress,hash"}, "--stages"},
                                           {{"--size", "12 parsecs"}, "--size"},
                                           {{"--block-size", "1000"}, "--block-size"},
                                           {{"--queue-depth", "0"}, "--queue-depth"},
                                           {{"--runtime", "soon"}, "--runtime"}}) {
    const RunResult result = run(bench_argv(dir.path(), bad.extra));
    EXPECT_EQ(result.exit_code, 2) << result.describe();
    EXPECT_TRUE(contains(result.err, bad.named)) << result.describe();
  }
  const RunResult missing = run({kBinary.string(), "bench", "--dir", (dir / "none").string()});
  EXPECT_EQ(missing.exit_code, 2) << missing.describe();
  EXPECT_TRUE(contains(missing.err, "--dir")) << missing.describe();
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

}  // namespace
}  // namespace piperun::itest
