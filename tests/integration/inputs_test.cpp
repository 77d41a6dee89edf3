// What the walk takes in: symlinks (followed or not, loops), special files (FIFOs, sockets,
// devices), empty inputs, include/exclude globs and hidden files; and inputs at the edges: a very
// deep tree, 100,000 empty files, a file larger than 4 GiB.
#include <algorithm>
#include <cctype>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <set>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/harness.hpp"
#include "integration/private_tmpfs.hpp"

namespace piperun::itest {
namespace {

std::set<std::string> listed_paths(const fs::path& checksum_file) {
  std::set<std::string> paths;
  for (const auto& line : read_checksums(checksum_file))
    paths.insert(line.path);
  return paths;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// d/f, d/sub/up -> .. (a loop when followed), flink -> d/f, dlink -> d.
void make_symlink_tree(const Job& job) {
  job.file("d/f", "the target\n");
  job.file("plain.txt", "plain\n");
  fs::create_directories(job.root() / "d/sub");
  fs::create_symlink("..", job.root() / "d/sub/up");
  fs::create_symlink("d/f", job.root() / "flink");
}

TEST(ItSymlinks, NotFollowedAreRecordedNotHashed) {
  Job job;
  make_symlink_tree(job);
  fs::create_symlink("nowhere", job.root() / "dangling");
  job.set("input", "follow_symlinks", "false");
  const RunResult result = job.run_pipe();
  ASSERT_FALSE(result.timed_out) << result.describe();
  ASSERT_EQ(result.exit_code, 0) << result.describe();

  EXPECT_EQ(listed_paths(job.checksums()), (std::set<std::string>{"d/f", "plain.txt"}));
  EXPECT_EQ(job.check(job.checksums()).exit_code, 0);

  const nlohmann::json manifest = read_json(job.manifest());
  for (const auto& [path, target] :
       {std::pair{"flink", "d/f"}, std::pair{"d/sub/up", ".."}, std::pair{"dangling", "nowhere"}}) {
    SCOPED_TRACE(path);
    const nlohmann::json* record = find_record(manifest, path);
    ASSERT_NE(record, nullptr) << manifest["files"].dump(1);
    EXPECT_EQ(record->value("kind", ""), "symlink");
    EXPECT_EQ(record->value("symlink_target", ""), target);
    EXPECT_NE(record->value("status", ""), "failed");
    EXPECT_FALSE(record->contains("digests") && !(*record)["digests"].empty());
  }
  EXPECT_EQ(manifest["summary"]["files"]["failed"], 0);
}

TEST(ItSymlinks, FollowedAreHashedAndLoopsReported) {
  Job job;
  make_symlink_tree(job);
  write_file(job.dir() / "outside.txt", "outside the root\n");
  fs::create_symlink(job.dir() / "outside.txt", job.root() / "outside-link");
  job.set("input", "follow_symlinks", "true");
  const RunResult result = job.run_pipe({}, RunOptions{.timeout = std::chrono::seconds(30)});
  ASSERT_FALSE(result.timed_out) << result.describe();
  // The loop is a reported failure: exit 1, named on stderr, a failed record; the rest is done.
  EXPECT_EQ(result.exit_code, 1) << result.describe();
  EXPECT_TRUE(contains(result.err, "d/sub/up")) << result.describe();

  const auto digests = checksum_map(job.checksums());
  ASSERT_TRUE(digests.contains("d/f"));
  ASSERT_TRUE(digests.contains("flink")) << read_file(job.checksums());
  EXPECT_EQ(digests.at("flink"), digests.at("d/f"));
  EXPECT_TRUE(digests.contains("outside-link"));
  EXPECT_TRUE(digests.contains("plain.txt"));
  const RunResult check = job.check(job.checksums());
  EXPECT_EQ(check.exit_code, 0) << check.describe();

  const nlohmann::json manifest = read_json(job.manifest());
  const nlohmann::json* loop = find_record(manifest, "d/sub/up");
  ASSERT_NE(loop, nullptr) << manifest["files"].dump(1);
  EXPECT_EQ(loop->value("status", ""), "failed");
  EXPECT_FALSE(loop->value("error", "").empty());
  EXPECT_GE(manifest["summary"]["files"]["failed"].get<int>(), 1);
}

TEST(ItSymlinks, FollowedDirectoryLinkIsWalked) {
  Job job;
  job.file("d/f", "in d\n");
  fs::create_symlink("d", job.root() / "dlink");
  job.set("input", "follow_symlinks", "true");
  const RunResult result = job.run_pipe({}, RunOptions{.timeout = std::chrono::seconds(30)});
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  EXPECT_EQ(listed_paths(job.checksums()), (std::set<std::string>{"d/f", "dlink/f"}));
  EXPECT_EQ(job.check(job.checksums()).exit_code, 0);
}

TEST(ItSpecialFiles, FifoIsSkippedReportedAndNeverOpened) {
  Job job;
  job.file("a.txt", "alpha\n");
  job.file("nested/b.txt", "beta\n");
  ASSERT_EQ(::mkfifo((job.root() / "nested/pipe").c_str(), 0644), 0);
  // Opening the FIFO for reading would block forever (no writer): the timeout catches that.
  const RunResult result = job.run_pipe({}, RunOptions{.timeout = std::chrono::seconds(20)});
  ASSERT_FALSE(result.timed_out) << "pipe-run hung, probably on the FIFO\n" << result.describe();
  EXPECT_EQ(result.exit_code, 0) << result.describe();
  EXPECT_TRUE(contains(result.err, "nested/pipe")) << result.describe();
  EXPECT_EQ(listed_paths(job.checksums()), (std::set<std::string>{"a.txt", "nested/b.txt"}));
  EXPECT_EQ(job.check(job.checksums()).exit_code, 0);

  const nlohmann::json manifest = read_json(job.manifest());
  const nlohmann::json* fifo = find_record(manifest, "nested/pipe");
  ASSERT_NE(fifo, nullptr) << manifest["files"].dump(1);
  EXPECT_EQ(fifo->value("status", ""), "skipped");
  EXPECT_FALSE(fifo->value("error", "").empty());
  EXPECT_EQ(manifest["summary"]["files"]["skipped"], 1);
}

TEST(ItSpecialFiles, SocketsAndDevicesAreSkippedReportedAndNeverOpened) {
  Job job;
  job.file("a.txt", "alpha\n");
  // A socket file stays after its socket is closed.
  const int listener = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string socket_path = (job.root() / "sock").string();
  ASSERT_LT(socket_path.size(), sizeof address.sun_path);
  std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
  ASSERT_EQ(::bind(listener, reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
  ::close(listener);
  // /dev/zero's twin: a reader that opened it would never see its end.
  const bool have_device =
      ::mknod((job.root() / "zero").c_str(), S_IFCHR | 0666, ::makedev(1, 5)) == 0;

  const RunResult result = job.run_pipe({}, RunOptions{.timeout = std::chrono::seconds(20)});
  ASSERT_FALSE(result.timed_out) << result.describe();
  EXPECT_EQ(result.exit_code, 0) << result.describe();
  EXPECT_EQ(listed_paths(job.checksums()), (std::set<std::string>{"a.txt"}));
  const nlohmann::json manifest = read_json(job.manifest());
  std::vector<std::pair<std::string, std::string>> specials{{"sock", "socket"}};
  if (have_device) specials.emplace_back("zero", "char-device");
  for (const auto& [path, kind] : specials) {
    SCOPED_TRACE(path);
    EXPECT_TRUE(contains(result.err, path)) << result.describe();
    const nlohmann::json* record = find_record(manifest, path);
    ASSERT_NE(record, nullptr) << manifest["files"].dump(1);
    EXPECT_EQ(record->value("kind", ""), kind);
    EXPECT_EQ(record->value("status", ""), "skipped");
  }
  EXPECT_EQ(manifest["summary"]["files"]["skipped"], specials.size());
}

// ---------------------------------------------------------------------------------------------
// Inputs at the edges of size and shape.

TEST(ItOddInputs, AVeryDeepTreeIsWalkedWrittenAndVerified) {
  Job job;
  std::string rel;
  for (int level = 0; level < 600; ++level)
    rel += "d/";
  job.file(rel + "bottom.txt", "at the bottom\n");
  job.file("top.txt", "at the top\n");
  job.set("pipeline", "stages", R"(["hash", "compress", "write"])");
  job.set("output", "dir", toml_string((job.out() / "tree").string()));
  const RunResult result = job.run_pipe({}, RunOptions{.timeout = std::chrono::seconds(60)});
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  EXPECT_EQ(listed_paths(job.checksums()), (std::set<std::string>{rel + "bottom.txt", "top.txt"}));
  EXPECT_EQ(job.check(job.checksums()).exit_code, 0);
  const fs::path zst = job.out() / "tree" / (rel + "bottom.txt.zst");
  const RunResult decoded = run({"zstd", "-d", "-q", "-c", zst.string()});
  EXPECT_EQ(decoded.exit_code, 0) << decoded.describe();
  EXPECT_EQ(decoded.out, "at the bottom\n");
}

TEST(ItOddInputs, AHundredThousandEmptyFiles) {
  Job job;
  // On a tmpfs where we may mount one: deleting 100,000 files from ext4 would leave the file
  // creations of the tests after this one slow for a while.
  std::optional<PrivateTmpfs> tmpfs;
  if (::geteuid() == 0) tmpfs.emplace(job.root(), "mode=0755");
  constexpr int kDirs = 100;
  constexpr int kPerDir = 1000;
  for (int d = 0; d < kDirs; ++d) {
    const fs::path dir = job.root() / ("d" + std::to_string(d));
    fs::create_directories(dir);
    for (int f = 0; f < kPerDir; ++f) {
      const int fd = ::open((dir / ("e" + std::to_string(f))).c_str(),
                            O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      ASSERT_GE(fd, 0);
      ::close(fd);
    }
  }
  const RunResult result = job.run_pipe({}, RunOptions{.timeout = std::chrono::seconds(240)});
  ASSERT_FALSE(result.timed_out) << result.describe();
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  const nlohmann::json manifest = read_json(job.manifest());
  EXPECT_EQ(manifest["summary"]["files"]["ok"], kDirs * kPerDir);
  EXPECT_EQ(manifest["files"].size(), static_cast<std::size_t>(kDirs * kPerDir));
  const auto lines = read_checksums(job.checksums());
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(kDirs * kPerDir));
  // XXH3-128 of nothing, as `xxhsum -H2 /dev/null` prints it.
  const RunResult empty = run({"xxhsum", "-H2", "/dev/null"});
  ASSERT_EQ(empty.exit_code, 0) << empty.describe();
  const std::string empty_digest = empty.out.substr(0, empty.out.find(' '));
  for (const auto& line : lines)
    ASSERT_EQ(line.digest, empty_digest) << line.path;
  const RunResult check =
      job.check(job.checksums());  // the stock tool opens every one of them again
  EXPECT_EQ(check.exit_code, 0) << check.err.substr(0, 2000);
}

TEST(ItOddInputs, AFileLargerThanFourGiBIsReadWholePastTheFourGiBMark) {
  Job job;
  const fs::path big = job.root() / "big.bin";
  constexpr std::uintmax_t kFourGiB = std::uintmax_t{4} << 30;
  // Sparse, with bytes just past 4 GiB that a 32-bit offset would miss or misplace.
  write_sparse_file(big, kFourGiB + 65'536 + 17);
  {
    const int fd = ::open(big.c_str(), O_WRONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    const std::string marker = "past the four GiB mark";
    ASSERT_EQ(::pwrite(fd, marker.data(), marker.size(), static_cast<off_t>(kFourGiB + 1000)),
              static_cast<ssize_t>(marker.size()));
    ::close(fd);
  }
  // Hash only: the digest covers every byte, and the stock tool checks it.
  const RunResult result = job.run_pipe({}, RunOptions{.timeout = std::chrono::seconds(240)});
  ASSERT_FALSE(result.timed_out) << result.describe();
  ASSERT_EQ(result.exit_code, 0) << result.describe();

  const nlohmann::json manifest = read_json(job.manifest());
  const nlohmann::json* record = find_record(manifest, "big.bin");
  ASSERT_NE(record, nullptr);
  EXPECT_EQ((*record)["size"].get<std::uintmax_t>(), fs::file_size(big));
  EXPECT_EQ(manifest["summary"]["bytes_in"].get<std::uintmax_t>(), fs::file_size(big));
  const RunResult check = job.check(job.checksums());
  EXPECT_EQ(check.exit_code, 0) << check.describe();
}

TEST(ItIfNoFiles, ErrorExitsTwoAndWritesNothing) {
  Job job;  // the input root exists and is empty
  job.set("input", "if_no_files", R"("error")");
  const RunResult result = job.run_pipe({}, RunOptions{.timeout = std::chrono::seconds(20)});
  EXPECT_EQ(result.exit_code, 2) << result.describe();
  EXPECT_FALSE(result.err.empty());
  EXPECT_FALSE(fs::exists(job.manifest()));
  EXPECT_FALSE(fs::exists(job.checksums()));
}

TEST(ItIfNoFiles, ErrorIsTheDefault) {
  Job job;
  const RunResult result = job.run_pipe({}, RunOptions{.timeout = std::chrono::seconds(20)});
  EXPECT_EQ(result.exit_code, 2) << result.describe();
  EXPECT_FALSE(fs::exists(job.manifest()));
}

TEST(ItIfNoFiles, NothingMatchingTheFiltersIsNoFiles) {
  Job job;
  job.file("a.txt", "alpha\n");
  job.set("input", "include", R"(["**/*.log"])");
  job.set("input", "if_no_files", R"("error")");
  const RunResult result = job.run_pipe({}, RunOptions{.timeout = std::chrono::seconds(20)});
  EXPECT_EQ(result.exit_code, 2) << result.describe();
  EXPECT_FALSE(fs::exists(job.manifest()));
}

TEST(ItIfNoFiles, WarnExitsZeroWithAWarning) {
  // Repeated: an empty run is all start-up and shutdown, where races show.
  for (int i = 0; i < 10; ++i) {
    Job job;
    job.set("input", "if_no_files", R"("warn")");
    const RunResult result = job.run_pipe({}, RunOptions{.timeout = std::chrono::seconds(10)});
    ASSERT_FALSE(result.timed_out) << "run " << i << "\n" << result.describe();
    ASSERT_EQ(result.exit_code, 0) << result.describe();
    ASSERT_TRUE(contains(lower(result.err), "warning")) << result.describe();
  }
}

TEST(ItIfNoFiles, IgnoreExitsZeroSilently) {
  for (int i = 0; i < 10; ++i) {
    Job job;
    job.set("input", "if_no_files", R"("ignore")");
    const RunResult result = job.run_pipe({}, RunOptions{.timeout = std::chrono::seconds(10)});
    ASSERT_FALSE(result.timed_out) << "run " << i << "\n" << result.describe();
    ASSERT_EQ(result.exit_code, 0) << result.describe();
    ASSERT_FALSE(contains(lower(result.err), "warn")) << result.describe();
  }
}

TEST(ItFilters, IncludeAndExcludeGlobs) {
  Job job;
  for (const char* name :
       {"a.log", "b.txt", "logs/c.log", "logs/deep/d.log", "logs/e.log.gz", "tmp/f.log",
        "tmp/sub/g.log", "tmpfoo/h.log", "dir with space/i.log", "x/tmp/j.log", "k.LOG"})
    job.file(name, std::string("content of ") + name + "\n");
  job.set("input", "include", R"(["**/*.log"])");
  job.set("input", "exclude", R"(["tmp/**"])");
  const RunResult result = job.run_pipe();
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  EXPECT_EQ(listed_paths(job.checksums()),
            (std::set<std::string>{"a.log", "logs/c.log", "logs/deep/d.log", "tmpfoo/h.log",
                                   "dir with space/i.log", "x/tmp/j.log"}));
  EXPECT_EQ(job.check(job.checksums()).exit_code, 0);
}

TEST(ItFilters, HiddenFalseLeavesOutDotfilesAndDotDirectories) {
  Job job;
  job.file("visible.txt", "v\n");
  job.file(".env", "SECRET=1\n");
  job.file(".config/app.toml", "x = 1\n");
  job.file("sub/.hidden", "h\n");
  job.file("sub/shown", "s\n");
  job.set("input", "hidden", "false");
  const RunResult result = job.run_pipe();
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  EXPECT_EQ(listed_paths(job.checksums()), (std::set<std::string>{"visible.txt", "sub/shown"}));
}

TEST(ItFilters, HiddenTrueIncludesDotfiles) {
  Job job;
  job.file("visible.txt", "v\n");
  job.file(".env", "SECRET=1\n");
  job.file(".config/app.toml", "x = 1\n");
  job.set("input", "hidden", "true");
  const RunResult result = job.run_pipe();
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  EXPECT_EQ(listed_paths(job.checksums()),
            (std::set<std::string>{"visible.txt", ".env", ".config/app.toml"}));
}

}  // namespace
}  // namespace piperun::itest
