// The compress and write stages end to end: the real binary writes an output tree of .zst files
// (or plain copies) that stock `zstd -d` / `zstd -t` restore byte for byte; names, modes and
// mtimes mirror the input; outputs appear atomically (no temporary or lock file left after a
// normal run, a SIGINT or a SIGKILL followed by a re-run); memory stays bounded for one huge
// file; the manifest reports compressed sizes, ratios and output paths.
#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/harness.hpp"

namespace piperun::itest {
namespace {

// ---------------------------------------------------------------------------------------------
// Helpers local to this file.

// Sets the stage list, output.dir = <out>/tree and, when given, chunk_size and the zstd level.
void configure(Job& job, const std::string& stages, const std::string& chunk_size = "",
               std::optional<int> level = std::nullopt) {
  job.set("pipeline", "stages", stages);
  job.set("output", "dir", toml_string(tree_of(job).string()));
  if (!chunk_size.empty()) job.set("pipeline", "chunk_size", toml_string(chunk_size));
  if (level) job.set("compress", "level", std::to_string(*level));
}

// Deterministic text-like bytes (words from a small vocabulary): compresses well, but not so
// trivially that high zstd levels are fast on it.
std::string compressible_bytes(std::size_t size, std::uint64_t seed) {
  static constexpr std::string_view kWords[] = {
      "alpha ", "beta ", "gamma ", "delta ", "pipe ",  "run ",   "chunk ", "frame ",
      "zstd ",  "ring ", "\n",     "0123 ",  "level ", "write ", "hash ",  "tree "};
  std::mt19937_64 engine(seed);
  std::string bytes;
  bytes.reserve(size + 8);
  while (bytes.size() < size) {
    std::uint64_t bits = engine();
    for (int i = 0; i < 16 && bytes.size() < size; ++i, bits >>= 4)
      bytes += kWords[bits & 15];
  }
  bytes.resize(size);
  return bytes;
}

// A file of `size` bytes written 1 MiB at a time: compressible blocks, or (with `mixed`) every
// other block random.
void write_generated_file(const fs::path& file, std::uintmax_t size, std::uint64_t seed,
                          bool mixed) {
  fs::create_directories(file.parent_path());
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  std::uint64_t block = 0;
  for (std::uintmax_t written = 0; written < size; written += kMiB, ++block) {
    const std::size_t length =
        static_cast<std::size_t>(std::min<std::uintmax_t>(kMiB, size - written));
    const std::string bytes = mixed && block % 2 == 1 ? random_bytes(length, seed + block)
                                                      : compressible_bytes(length, seed + block);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  if (!out) throw std::runtime_error("cannot write " + file.string());
}

// "" when the two files hold the same bytes, else what differs (read 1 MiB at a time, so it
// works for files of hundreds of MiB).
std::string difference(const fs::path& expected, const fs::path& actual) {
  std::error_code error;
  const auto expected_size = fs::file_size(expected, error);
  if (error) return "cannot stat " + expected.string();
  const auto actual_size = fs::file_size(actual, error);
  if (error) return "missing " + actual.string();
  if (expected_size != actual_size) {
    return actual.string() + ": " + std::to_string(actual_size) + " bytes, expected " +
           std::to_string(expected_size);
  }
  std::ifstream a(expected, std::ios::binary);
  std::ifstream b(actual, std::ios::binary);
  std::string block_a(kMiB, '\0');
  std::string block_b(kMiB, '\0');
  for (std::uintmax_t offset = 0; offset < expected_size; offset += kMiB) {
    a.read(block_a.data(), static_cast<std::streamsize>(block_a.size()));
    b.read(block_b.data(), static_cast<std::streamsize>(block_b.size()));
    if (a.gcount() != b.gcount()) return "short read of " + actual.string();
    if (std::memcmp(block_a.data(), block_b.data(), static_cast<std::size_t>(a.gcount())) != 0)
      return actual.string() + " differs in the MiB at offset " + std::to_string(offset);
  }
  return "";
}

// Every entry under `dir` that is not a directory (regular files, symlinks, anything else),
// relative, as raw bytes.
std::set<std::string> non_directories(const fs::path& dir) {
  std::set<std::string> entries;
  if (!fs::exists(dir)) return entries;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator();
       ++it) {
    if (it->is_symlink() || !it->is_directory())
      entries.insert(fs::relative(it->path(), dir).string());
  }
  return entries;
}

// Every entry (of any kind) under `dir` whose name starts with ".pipe-run": temporaries, the
// lock file.
std::vector<std::string> pipe_run_names(const fs::path& dir) {
  std::vector<std::string> found;
  if (!fs::exists(dir)) return found;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator();
       ++it) {
    if (it->path().filename().string().starts_with(".pipe-run"))
      found.push_back(fs::relative(it->path(), dir).string());
  }
  return found;
}

std::set<std::string> with_suffix(const std::set<std::string>& names, const std::string& suffix) {
  std::set<std::string> result;
  for (const auto& name : names)
    result.insert(name + suffix);
  return result;
}

// Checks with stock zstd that tree/<rel>.zst restores input_root/<rel> byte for byte, for each
// rel: one `zstd -t` over all of them; then hard links to them under `scratch`, decoded in place
// by one `zstd -d` (its --output-dir-mirror skips names that start with '.'), and a byte
// comparison per file.
void expect_round_trip(const fs::path& input_root, const fs::path& tree,
                       const std::set<std::string>& rels, const fs::path& scratch) {
  ASSERT_FALSE(rels.empty());
  std::vector<std::string> test{"zstd", "-t", "-q"};
  std::vector<std::string> decode{"zstd", "-d", "-q"};
  for (const auto& rel : rels) {
    const std::string zst = rel + ".zst";
    std::error_code error;
    fs::create_directories((scratch / zst).parent_path(), error);
    fs::create_hard_link(tree / zst, scratch / zst, error);
    ASSERT_FALSE(error) << "no output " << (tree / zst) << ": " << error.message();
    test.push_back(zst);
    decode.push_back(zst);
  }
  const RunResult tested = run(test, RunOptions{.cwd = tree, .timeout = std::chrono::seconds(120)});
  EXPECT_EQ(tested.exit_code, 0) << "zstd -t rejects an output\n" << tested.describe();
  const RunResult decoded =
      run(decode, RunOptions{.cwd = scratch, .timeout = std::chrono::seconds(120)});
  ASSERT_EQ(decoded.exit_code, 0) << "zstd -d cannot decode an output\n" << decoded.describe();
  for (const auto& rel : rels) {
    const std::string diff = difference(input_root / rel, scratch / rel);
    EXPECT_EQ(diff, "") << "decoded " << rel << ".zst is not the input";
  }
}

mode_t current_umask() {
  const mode_t mask = ::umask(0);
  ::umask(mask);
  return mask;
}

void set_mtime(const fs::path& file, std::int64_t seconds, long nanoseconds) {
  const timespec times[2] = {{0, UTIME_OMIT}, {static_cast<time_t>(seconds), nanoseconds}};
  if (::utimensat(AT_FDCWD, file.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
    throw std::runtime_error("utimensat " + file.string());
}

// ---------------------------------------------------------------------------------------------
// 1. Round trips through stock zstd.

TEST(ItCompressWrite, RoundTripsThroughStockZstdAtChunkBoundaries) {
  Job job;
  job.file("empty.bin", "");
  job.file("one-byte.bin", "x");
  write_random_file(job.root() / "chunk-exact.bin", 64 * kKiB, 1);
  write_random_file(job.root() / "chunk-plus-one.bin", 64 * kKiB + 1, 2);
  constexpr std::size_t kRandomSize = 3 * kMiB + 5;
  write_random_file(job.root() / "incompressible.bin", kRandomSize, 3);
  constexpr std::size_t kTextSize = 2 * kMiB + 123;  // 33 chunks, the last one short
  write_file(job.root() / "sub/compressible.txt", compressible_bytes(kTextSize, 4));
  configure(job, R"(["hash", "compress", "write"])", "64KiB", 3);

  const RunResult result = job.run_pipe();
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  const fs::path tree = tree_of(job);
  const auto inputs = regular_files(job.root());
  ASSERT_EQ(inputs.size(), 6u);
  EXPECT_EQ(non_directories(tree), with_suffix(inputs, ".zst"));
  expect_round_trip(job.root(), tree, inputs, job.dir() / "decoded");

  // An empty input still gives a real zstd frame (zstd -t above rejects a 0-byte file).
  EXPECT_GT(fs::file_size(tree / "empty.bin.zst"), 0u);
  // Incompressible data costs little; compressible data is actually compressed.
  EXPECT_LE(fs::file_size(tree / "incompressible.bin.zst"), kRandomSize + kRandomSize / 100);
  EXPECT_LT(fs::file_size(tree / "sub/compressible.txt.zst"), kTextSize / 2);

  // The checksums are of the original bytes.
  const RunResult check = job.check(job.checksums());
  EXPECT_EQ(check.exit_code, 0) << check.describe();
  EXPECT_EQ(count_lines(check.out, ": OK"), inputs.size()) << check.describe();
}

TEST(ItCompressWrite, LargeSparseFileRoundTrips) {
  Job job;
  constexpr std::uintmax_t kSize = 300 * kMiB;
  write_sparse_file(job.root() / "sparse.bin", kSize);
  configure(job, R"(["compress", "write"])", "4MiB", 1);

  const RunResult result = job.run_pipe({}, RunOptions{.timeout = std::chrono::seconds(120)});
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  const fs::path zst = tree_of(job) / "sparse.bin.zst";
  ASSERT_TRUE(fs::is_regular_file(zst));
  EXPECT_LT(fs::file_size(zst), kMiB) << "300 MiB of zeros barely compressed";

  const fs::path decoded = job.dir() / "sparse.decoded";
  const RunResult decode = run({"zstd", "-d", "-q", "-o", decoded.string(), zst.string()},
                               RunOptions{.timeout = std::chrono::seconds(120)});
  ASSERT_EQ(decode.exit_code, 0) << decode.describe();
  EXPECT_EQ(difference(job.root() / "sparse.bin", decoded), "");
}

// ---------------------------------------------------------------------------------------------
// 2. The output tree mirrors the input tree.

TEST(ItCompressWrite, OutputTreeMirrorsNamesModesAndMtimes) {
  Job job;
  job.file("name with spaces.txt", "spaces\n");
  job.file("dir with spaces/inner file.txt", "inner\n");
  job.file(kNonUtf8Name, "latin-1 name\n");
  job.file(".hidden", "dotfile\n");
  job.file(".hidden-dir/inside.txt", "in a dot-directory\n");
  std::string deep;
  for (int level = 0; level < 40; ++level)
    deep += "d" + std::to_string(level) + "/";
  deep += "leaf.txt";
  job.file(deep, "forty levels down\n");
  fs::create_directories(job.root() / "empty-dir");
  job.file("modes/rw-r-----", "0640\n");
  job.file("modes/rwxr-xr-x", "#!/bin/sh\n");
  job.file("modes/r--r--r--", "0444\n");
  job.file("modes/rw-rw-rw-", "0666, under the umask\n");
  write_generated_file(job.root() / "modes/multi-chunk.txt", 300 * kKiB, 5, true);
  fs::create_symlink("name with spaces.txt", job.root() / "a-symlink");
  const std::vector<std::pair<std::string, mode_t>> modes{{"modes/rw-r-----", 0640},
                                                          {"modes/rwxr-xr-x", 0755},
                                                          {"modes/r--r--r--", 0444},
                                                          {"modes/rw-rw-rw-", 0666},
                                                          {"modes/multi-chunk.txt", 0600}};
  for (const auto& [rel, mode] : modes)
    ASSERT_EQ(::chmod((job.root() / rel).c_str(), mode), 0);
  // Known mtimes with nanoseconds, one per file.
  const auto inputs = regular_files(job.root());
  std::int64_t seconds = 1'600'000'000;
  for (const auto& rel : inputs) {
    set_mtime(job.root() / rel, seconds, 123'456'789 + static_cast<long>(seconds % 1000));
    ++seconds;
  }
  configure(job, R"(["hash", "compress", "write"])", "64KiB", 1);

  const RunResult result = job.run_pipe();
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  const fs::path tree = tree_of(job);
  // Exactly the regular files with .zst appended: not the symlink, no other name.
  EXPECT_EQ(non_directories(tree), with_suffix(inputs, ".zst"));
  EXPECT_FALSE(fs::exists(fs::symlink_status(tree / "a-symlink")));
  EXPECT_FALSE(fs::exists(fs::symlink_status(tree / "a-symlink.zst")));
  // The non-UTF-8 name is mirrored byte for byte.
  EXPECT_TRUE(fs::is_regular_file(tree / (kNonUtf8Name + ".zst")));
  expect_round_trip(job.root(), tree, inputs, job.dir() / "decoded");

  const mode_t mask = current_umask();
  for (const auto& rel : inputs) {
    SCOPED_TRACE(rel);
    struct stat in {};
    struct stat out {};
    ASSERT_EQ(::lstat((job.root() / rel).c_str(), &in), 0);
    ASSERT_EQ(::lstat((tree / (rel + ".zst")).c_str(), &out), 0);
    EXPECT_TRUE(S_ISREG(out.st_mode));
    EXPECT_EQ(out.st_mode & 07777, (in.st_mode & 0777) & ~mask)
        << std::oct << "mode 0" << (out.st_mode & 07777) << " for an input of mode 0"
        << (in.st_mode & 07777) << " (umask 0" << mask << ")";
    EXPECT_EQ(out.st_mtim.tv_sec, in.st_mtim.tv_sec);
    EXPECT_EQ(out.st_mtim.tv_nsec, in.st_mtim.tv_nsec);
  }
  // The inputs' mtimes are the ones this test set (the filesystem keeps nanoseconds).
  struct stat first {};
  ASSERT_EQ(::lstat((job.root() / *inputs.begin()).c_str(), &first), 0);
  EXPECT_EQ(first.st_mtim.tv_sec, 1'600'000'000);
}

// ---------------------------------------------------------------------------------------------
// 3. Without compress, write makes plain byte copies.

TEST(ItCompressWrite, PlainCopyWithoutCompress) {
  for (const std::string stages : {R"(["hash", "write"])", R"(["write"])"}) {
    SCOPED_TRACE(stages);
    Job job;
    job.file("empty.bin", "");
    job.file("a.txt", "alpha\n");
    job.file(kNonUtf8Name, "latin-1\n");
    write_random_file(job.root() / "sub/multi-chunk.bin", 200 * kKiB + 7, 6);
    write_random_file(job.root() / "sub/deeper/exact.bin", 64 * kKiB, 7);
    ::chmod((job.root() / "a.txt").c_str(), 0640);
    set_mtime(job.root() / "sub/multi-chunk.bin", 1'500'000'000, 987'654'321);
    configure(job, stages, "64KiB");

    const RunResult result = job.run_pipe();
    ASSERT_EQ(result.exit_code, 0) << result.describe();
    const fs::path tree = tree_of(job);
    const auto inputs = regular_files(job.root());
    EXPECT_EQ(non_directories(tree), inputs) << "no .zst suffix, no other file";
    for (const auto& rel : inputs)
      EXPECT_EQ(difference(job.root() / rel, tree / rel), "");
    EXPECT_EQ(fs::status(tree / "a.txt").permissions() & fs::perms::mask,
              fs::perms(0640 & ~current_umask()));
    struct stat copied {};
    ASSERT_EQ(::stat((tree / "sub/multi-chunk.bin").c_str(), &copied), 0);
    EXPECT_EQ(copied.st_mtim.tv_sec, 1'500'000'000);
    EXPECT_EQ(copied.st_mtim.tv_nsec, 987'654'321);
    EXPECT_TRUE(pipe_run_names(tree).empty());

    // The manifest: outputs without suffix, no compression figures.
    const nlohmann::json manifest = read_json(job.manifest());
    for (const auto& record : manifest["files"]) {
      SCOPED_TRACE(record.dump());
      EXPECT_EQ(record.value("status", ""), "ok");
      EXPECT_EQ(raw_name(record, "output"), raw_name(record, "path"));
      EXPECT_FALSE(record.contains("compressed_size"));
      EXPECT_FALSE(record.contains("ratio"));
    }
    const auto& summary = manifest["summary"];
    EXPECT_EQ(summary["bytes_in"].get<std::uintmax_t>(), total_size(job.root()));
    EXPECT_EQ(summary["bytes_out"].get<std::uintmax_t>(), total_size(job.root()));
    EXPECT_FALSE(summary.contains("ratio"));
  }
}

// ---------------------------------------------------------------------------------------------
// 4. No temporary file (nor the lock) remains after a run, nor after a second run over it.

TEST(ItCompressWrite, NoTemporaryOrLockRemainsAfterARun) {
  Job job;
  for (int i = 0; i < 300; ++i) {
    write_random_file(job.root() / ("dir" + std::to_string(i % 10)) / ("f" + std::to_string(i)),
                      static_cast<std::size_t>(i) * 211, 500 + i);
  }
  write_generated_file(job.root() / "big/mixed.bin", 5 * kMiB + 3, 8, true);
  configure(job, R"(["compress", "write"])", "64KiB", 1);
  const auto inputs = regular_files(job.root());
  const fs::path tree = tree_of(job);

  for (int pass = 1; pass <= 2; ++pass) {
    SCOPED_TRACE("pass " + std::to_string(pass));
    const RunResult result = job.run_pipe();
    ASSERT_EQ(result.exit_code, 0) << result.describe();
    for (const auto& name : pipe_run_names(tree))
      ADD_FAILURE() << "left behind: " << name;
    EXPECT_EQ(non_directories(tree), with_suffix(inputs, ".zst"));
  }
  expect_round_trip(job.root(), tree, inputs, job.dir() / "decoded");
}

// ---------------------------------------------------------------------------------------------
// 5. A run killed with SIGKILL leaves temporaries and its lock; the next run cleans up.

TEST(ItCompressWrite, RerunAfterSigkillRemovesLeftoversAndCompletes) {
  Job job;
  for (int i = 0; i < 120; ++i) {
    write_file(job.root() / ("dir" + std::to_string(i % 8)) / ("f" + std::to_string(i) + ".txt"),
               compressible_bytes(kMiB, 700 + i));
  }
  write_generated_file(job.root() / "huge/compressible.log", 100 * kMiB, 9, false);
  configure(job, R"(["hash", "compress", "write"])", "1MiB", 19);  // level 19: slow on purpose
  const fs::path tree = tree_of(job);

  const RunResult killed =
      job.run_pipe({}, RunOptions{.timeout = std::chrono::seconds(60),
                                  .send_signal = SIGKILL,
                                  .signal_after = std::chrono::milliseconds(2000)});
  ASSERT_EQ(killed.signal, SIGKILL) << "the run was meant to be killed mid-way\n"
                                    << killed.describe();
  // Killed mid-run: nothing could remove the lock.
  EXPECT_TRUE(fs::exists(tree / ".pipe-run.lock"));
  std::size_t temporaries = 0;
  for (const auto& name : pipe_run_names(tree))
    temporaries += name.ends_with(".tmp") ? 1 : 0;
  // Usually a few (a file's temporary exists from its first compressed frame on); the planted
  // ones below make sure there is something to clean up either way.
  RecordProperty("temporaries_after_sigkill", std::to_string(temporaries));

  // Leftovers that certainly exist, one in a folder of the tree, one deeper in a new folder.
  fs::create_directories(tree / "dir3");
  write_file(tree / "dir3/.pipe-run-dead-1.tmp", "partial output of a dead run");
  write_file(tree / "planted/deeper/.pipe-run-dead-2.tmp", "another one");

  job.set("compress", "level", "1");
  const RunResult rerun = job.run_pipe({}, RunOptions{.timeout = std::chrono::seconds(120)});
  ASSERT_EQ(rerun.exit_code, 0) << rerun.describe();
  for (const auto& name : pipe_run_names(tree))
    ADD_FAILURE() << "left behind: " << name;
  const auto inputs = regular_files(job.root());
  ASSERT_EQ(inputs.size(), 121u);
  EXPECT_EQ(non_directories(tree), with_suffix(inputs, ".zst"));
  // Every output decodes to its input.
  expect_round_trip(job.root(), tree, inputs, job.dir() / "decoded");
  const RunResult check = job.check(job.checksums());
  EXPECT_EQ(check.exit_code, 0) << check.describe();
  EXPECT_EQ(count_lines(check.out, ": OK"), inputs.size());
}

// ---------------------------------------------------------------------------------------------
// 6. SIGINT mid-run: exit 130, only complete outputs, each listed as ok in the manifest.

TEST(ItCompressWrite, SigintLeavesOnlyCompleteListedOutputs) {
  Job job;
  for (int i = 0; i < 60; ++i) {
    write_file(job.root() / ("dir" + std::to_string(i % 4)) / ("f" + std::to_string(i) + ".txt"),
               compressible_bytes(kMiB + static_cast<std::size_t>(i), 900 + i));
  }
  // Still running when the signal comes: 64 GiB of zeros (sparse, cheap to make).
  write_sparse_file(job.root() / "zz-huge.bin", std::uintmax_t{64} * 1024 * kMiB);
  configure(job, R"(["hash", "compress", "write"])", "1MiB", 1);

  const RunResult result =
      job.run_pipe({}, RunOptions{.timeout = std::chrono::seconds(60),
                                  .send_signal = SIGINT,
                                  .signal_after = std::chrono::milliseconds(1500),
                                  .signal_when = [&job] { return has_entries(job.out()); }});
  ASSERT_FALSE(result.timed_out) << result.describe();
  EXPECT_EQ(result.exit_code, 130) << result.describe();
  EXPECT_LT(result.seconds, 15.0) << "took long to stop after SIGINT";

  const fs::path tree = tree_of(job);
  for (const auto& name : pipe_run_names(tree))
    ADD_FAILURE() << "left behind: " << name;

  ASSERT_TRUE(fs::exists(job.manifest())) << result.describe();
  const nlohmann::json manifest = read_json(job.manifest());
  EXPECT_TRUE(manifest["summary"].value("interrupted", false));
  std::set<std::string> ok_inputs;
  std::set<std::string> ok_outputs;
  for (const auto& record : manifest["files"]) {
    if (record.value("status", "") != "ok") continue;
    SCOPED_TRACE(record.dump());
    const std::string path = raw_name(record, "path");
    ok_inputs.insert(path);
    EXPECT_EQ(raw_name(record, "output"), path + ".zst");
    ok_outputs.insert(raw_name(record, "output"));
  }
  EXPECT_FALSE(ok_inputs.contains("zz-huge.bin")) << "64 GiB cannot be done in 1.5 s";
  // What is on disk is exactly what the manifest lists as done.
  EXPECT_EQ(non_directories(tree), ok_outputs);
  RecordProperty("files_done_before_sigint", std::to_string(ok_inputs.size()));
  // A run that finished nothing in 1.5 s would not test anything here.
  ASSERT_FALSE(ok_inputs.empty()) << "no file was done before SIGINT\n" << result.describe();
  expect_round_trip(job.root(), tree, ok_inputs, job.dir() / "decoded");
  const RunResult check = job.check(job.checksums());
  EXPECT_EQ(check.exit_code, 0) << check.describe();
  EXPECT_EQ(count_lines(check.out, ": OK"), ok_inputs.size());
}

// ---------------------------------------------------------------------------------------------
// 7. Bounded memory with compress + write on one file far larger than memory_limit.

TEST(ItCompressWrite, PeakRssStaysBoundedForOneHugeFile) {
  Job job;
  constexpr std::uintmax_t kSize = 600 * kMiB;
  write_generated_file(job.root() / "huge-mixed.bin", kSize, 10, true);
  configure(job, R"(["hash", "compress", "write"])", "1MiB", 3);
  job.set("pipeline", "memory_limit", R"("16MiB")");

  const RunResult result = job.run_pipe({}, RunOptions{.timeout = std::chrono::seconds(180)});
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  const long limit_kib = rss_bound_kib(16);
  RecordProperty("peak_rss_kib", std::to_string(result.max_rss_kib));
  EXPECT_GT(result.max_rss_kib, 0);
  EXPECT_LT(result.max_rss_kib, limit_kib)
      << "peak RSS " << result.max_rss_kib / 1024 << " MiB with memory_limit = 16MiB";

  const fs::path zst = tree_of(job) / "huge-mixed.bin.zst";
  ASSERT_TRUE(fs::is_regular_file(zst));
  // Half the blocks are random, half compress well.
  EXPECT_LT(fs::file_size(zst), kSize * 3 / 4);
  const fs::path decoded = job.dir() / "huge.decoded";
  const RunResult decode = run({"zstd", "-d", "-q", "-o", decoded.string(), zst.string()},
                               RunOptions{.timeout = std::chrono::seconds(120)});
  ASSERT_EQ(decode.exit_code, 0) << decode.describe();
  EXPECT_EQ(difference(job.root() / "huge-mixed.bin", decoded), "");
  EXPECT_EQ(job.check(job.checksums()).exit_code, 0);
}

// ---------------------------------------------------------------------------------------------
// 8. The manifest's compression figures and output paths.

TEST(ItCompressWrite, ManifestRecordsCompressedSizesAndOutputs) {
  Job job;
  job.file("plain.txt", "hello\n");
  job.file("empty", "");
  job.file(kNonUtf8Name, "latin-1\n");
  write_file(job.root() / "a/b/text.txt", compressible_bytes(300 * kKiB + 11, 12));
  write_random_file(job.root() / "a/random.bin", 200 * kKiB, 13);
  fs::create_symlink("plain.txt", job.root() / "link-to-plain");
  configure(job, R"(["hash", "compress", "write"])", "64KiB", 2);
  const auto inputs = regular_files(job.root());
  const std::uintmax_t bytes = total_size(job.root());

  const RunResult result = job.run_pipe();
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  const fs::path tree = tree_of(job);
  const nlohmann::json manifest = read_json(job.manifest());
  ASSERT_TRUE(manifest.contains("files"));
  EXPECT_EQ(manifest["files"].size(), inputs.size() + 1);

  std::uintmax_t compressed_total = 0;
  std::set<std::string> seen;
  for (const auto& record : manifest["files"]) {
    SCOPED_TRACE(record.dump());
    const std::string path = raw_name(record, "path");
    seen.insert(path);
    if (path == "link-to-plain") {
      EXPECT_EQ(record.value("kind", ""), "symlink");
      EXPECT_FALSE(record.contains("output"));
      EXPECT_FALSE(record.contains("compressed_size"));
      continue;
    }
    EXPECT_EQ(record.value("status", ""), "ok");
    ASSERT_TRUE(record.contains("output"));
    ASSERT_TRUE(record["output"].is_string());
    EXPECT_EQ(raw_name(record, "output"), path + ".zst");
    ASSERT_TRUE(record.contains("compressed_size"));
    ASSERT_TRUE(record["compressed_size"].is_number_unsigned());
    const auto compressed = record["compressed_size"].get<std::uintmax_t>();
    const fs::path output = tree / (path + ".zst");
    ASSERT_TRUE(fs::is_regular_file(output));
    EXPECT_EQ(compressed, fs::file_size(output));
    compressed_total += compressed;
    ASSERT_TRUE(record.contains("ratio"));
    ASSERT_TRUE(record["ratio"].is_number());
    const double expected_ratio =
        static_cast<double>(record["size"].get<std::uintmax_t>()) / static_cast<double>(compressed);
    EXPECT_NEAR(record["ratio"].get<double>(), expected_ratio, 1e-3 * expected_ratio + 1e-4);
  }
  std::set<std::string> expected = inputs;
  expected.insert("link-to-plain");
  EXPECT_EQ(seen, expected);

  // The non-UTF-8 name: output with U+FFFD, output_base64 with the exact bytes.
  const nlohmann::json* latin = find_record(manifest, "caf\xef\xbf\xbd.txt");
  ASSERT_NE(latin, nullptr) << manifest["files"].dump(1);
  ASSERT_TRUE(latin->contains("output_base64"));
  EXPECT_EQ(base64_decode((*latin)["output_base64"].get<std::string>()), kNonUtf8Name + ".zst");
  EXPECT_EQ((*latin)["output"], "caf\xef\xbf\xbd.txt.zst");
  const nlohmann::json* text = find_record(manifest, "a/b/text.txt");
  ASSERT_NE(text, nullptr);
  EXPECT_EQ((*text)["output"], "a/b/text.txt.zst");
  EXPECT_FALSE(text->contains("output_base64"));
  EXPECT_GT((*text)["ratio"].get<double>(), 2.0);

  const auto& summary = manifest["summary"];
  EXPECT_EQ(summary["bytes_in"].get<std::uintmax_t>(), bytes);
  EXPECT_EQ(summary["bytes_out"].get<std::uintmax_t>(), compressed_total);
  std::uintmax_t on_disk = 0;
  for (const auto& rel : inputs)
    on_disk += fs::file_size(tree / (rel + ".zst"));
  EXPECT_EQ(summary["bytes_out"].get<std::uintmax_t>(), on_disk);
  ASSERT_TRUE(summary.contains("ratio"));
  ASSERT_TRUE(summary["ratio"].is_number());
  const double summary_ratio = static_cast<double>(bytes) / static_cast<double>(compressed_total);
  EXPECT_NEAR(summary["ratio"].get<double>(), summary_ratio, 1e-3 * summary_ratio);
}

// ---------------------------------------------------------------------------------------------
// 9. output.dir inside an input tree is a configuration error.

TEST(ItCompressWrite, OutputDirInsideAnInputIsAConfigError) {
  for (const std::string where : {"inside", "the root itself"}) {
    SCOPED_TRACE(where);
    Job job;
    job.file("a.txt", "alpha\n");
    job.file("sub/b.txt", "beta\n");
    const auto before = non_directories(job.root());
    const fs::path dir = where == "inside" ? job.root() / "sub/out-tree" : job.root();
    configure(job, R"(["hash", "compress", "write"])");
    job.set("output", "dir", toml_string(dir.string()));

    const RunResult result = job.run_pipe({}, RunOptions{.timeout = std::chrono::seconds(30)});
    EXPECT_EQ(result.exit_code, 2) << result.describe();
    EXPECT_TRUE(contains(result.err, "output.dir")) << result.describe();
    // Nothing written: no output tree, no manifest, the input tree untouched.
    EXPECT_FALSE(fs::exists(job.root() / "sub/out-tree"));
    EXPECT_FALSE(fs::exists(job.manifest()));
    EXPECT_FALSE(fs::exists(job.checksums()));
    EXPECT_EQ(non_directories(job.root()), before);
  }
}

// ---------------------------------------------------------------------------------------------
// 10. fsync = true.

TEST(ItCompressWrite, FsyncRunSucceedsAndVerifies) {
  Job job;
  job.file("a.txt", "alpha\n");
  job.file("empty", "");
  job.file("x/y/z.txt", "nested\n");
  write_generated_file(job.root() / "x/mixed.bin", 2 * kMiB + 9, 14, true);
  configure(job, R"(["hash", "compress", "write"])", "256KiB", 3);
  job.set("output", "fsync", "true");

  const RunResult result = job.run_pipe();
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  const fs::path tree = tree_of(job);
  const auto inputs = regular_files(job.root());
  EXPECT_EQ(non_directories(tree), with_suffix(inputs, ".zst"));
  EXPECT_TRUE(pipe_run_names(tree).empty());
  expect_round_trip(job.root(), tree, inputs, job.dir() / "decoded");
  EXPECT_EQ(job.check(job.checksums()).exit_code, 0);
}

// ---------------------------------------------------------------------------------------------
// 11. Several input roots: outputs under <output.dir>/<root folder name>/.

TEST(ItCompressWrite, SeveralRootsArePrefixedByTheirFolderName) {
  Job job;
  job.file("alpha/same.txt", "one\n");
  job.file("alpha/only-alpha/file.txt", "two\n");
  job.file("beta/same.txt", "three, not the same bytes\n");
  job.set("input", "paths",
          "[" + toml_string((job.root() / "alpha").string()) + ", " +
              toml_string((job.root() / "beta").string()) + "]");
  configure(job, R"(["hash", "compress", "write"])", "", 1);

  const RunResult result = job.run_pipe();
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  const fs::path tree = tree_of(job);
  const std::set<std::string> inputs{"alpha/same.txt", "alpha/only-alpha/file.txt",
                                     "beta/same.txt"};
  EXPECT_EQ(non_directories(tree), with_suffix(inputs, ".zst"));
  expect_round_trip(job.root(), tree, inputs, job.dir() / "decoded");
  const nlohmann::json manifest = read_json(job.manifest());
  for (const auto& rel : inputs) {
    const nlohmann::json* record = find_record(manifest, rel);
    ASSERT_NE(record, nullptr) << rel << "\n" << manifest["files"].dump(1);
    EXPECT_EQ(record->value("output", ""), rel + ".zst");
  }
  EXPECT_EQ(job.check(job.checksums()).exit_code, 0);
}

}  // namespace
}  // namespace piperun::itest
