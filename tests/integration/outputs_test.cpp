// When the output side fails: a full disk, a read-only tree, a device that returns I/O errors
// (through the ring's fault-injection hook, io/fault_injection.hpp: this VM has no
// device-mapper), symlinks that would lead outputs out of the tree, and modes under the umask.
// Each time: a clear error naming the file and the reason, the rest done, nothing partial left.
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/harness.hpp"
#include "integration/private_tmpfs.hpp"

namespace piperun::itest {
namespace {

// Every name under `dir` that a run must not leave behind: temporaries and lock files.
std::vector<std::string> leftovers(const fs::path& dir) {
  std::vector<std::string> found;
  if (!fs::exists(dir)) return found;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.find(".pipe-run-tmp.") != std::string::npos || name.starts_with(".pipe-run.lock"))
      found.push_back(entry.path().string());
  }
  return found;
}

const nlohmann::json& record_of(const nlohmann::json& manifest, std::string_view path) {
  const nlohmann::json* record = find_record(manifest, path);
  if (record == nullptr) throw std::runtime_error("no record for " + std::string(path));
  return *record;
}

// Decodes `zst` with the stock zstd and compares with `original`.
void expect_decodes_to(const fs::path& zst, const fs::path& original) {
  const RunResult decoded = run({"zstd", "-d", "-q", "-c", zst.string()});
  ASSERT_EQ(decoded.exit_code, 0) << decoded.describe();
  EXPECT_TRUE(decoded.out == read_file(original)) << zst;
}

// ---------------------------------------------------------------------------------------------
// A full disk.

TEST(ItOutputs, AFullDiskFailsTheFileThatDidNotFitAndKeepsTheRest) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting a small tmpfs needs root";
  Job job;
  write_random_file(job.root() / "a-small.bin", 20 * kKiB, 1);
  write_random_file(job.root() / "b-big.bin", 6 * kMiB, 2);  // random: zstd cannot shrink it
  write_random_file(job.root() / "c-small.bin", 20 * kKiB, 3);
  configure_write(job);
  // One file at a time: the big file's temporary is gone before a small one is written.
  job.set("pipeline", "queue_depth", "1");
  PrivateTmpfs disk(tree_of(job), "size=1m,mode=0755");
  if (!disk.error().empty()) GTEST_SKIP() << disk.error();

  const RunResult result = job.run_pipe();
  ASSERT_FALSE(result.timed_out) << result.describe();
  EXPECT_EQ(result.exit_code, 1) << result.describe();
  EXPECT_TRUE(contains(result.err, "b-big.bin")) << result.describe();
  EXPECT_TRUE(contains(result.err, "No space left on device")) << result.describe();

  const nlohmann::json manifest = read_json(job.manifest());
  const auto& big = record_of(manifest, "b-big.bin");
  EXPECT_EQ(big.value("status", ""), "failed");
  EXPECT_TRUE(contains(big.value("error", ""), "No space left on device")) << big.dump();
  EXPECT_FALSE(fs::exists(tree_of(job) / "b-big.bin.zst")) << "a partial output";
  for (const char* small : {"a-small.bin", "c-small.bin"}) {
    EXPECT_EQ(record_of(manifest, small).value("status", ""), "ok") << small;
    expect_decodes_to(tree_of(job) / (std::string(small) + ".zst"), job.root() / small);
  }
  EXPECT_EQ(leftovers(tree_of(job)), std::vector<std::string>{});
  EXPECT_FALSE(checksum_map(job.checksums()).contains("b-big.bin"));
}

// ---------------------------------------------------------------------------------------------
// A read-only output directory.

TEST(ItOutputs, AReadOnlyFilesystemUnderTheTreeFailsAtOnceNamingIt) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting a read-only tmpfs needs root";
  Job job;
  job.file("a.txt", "alpha\n");
  configure_write(job);
  PrivateTmpfs disk(tree_of(job), "size=1m", MS_RDONLY);
  if (!disk.error().empty()) GTEST_SKIP() << disk.error();

  const RunResult result = job.run_pipe();
  ASSERT_FALSE(result.timed_out) << result.describe();
  EXPECT_EQ(result.exit_code, 3) << result.describe();
  EXPECT_TRUE(contains(result.err, tree_of(job).string())) << result.describe();
  EXPECT_TRUE(contains(result.err, "Read-only file system")) << result.describe();
  EXPECT_FALSE(fs::exists(job.manifest())) << "nothing was processed";
}

TEST(ItOutputs, AnOutputDirectoryTheUserCannotWriteFailsAtOnceNamingIt) {
  const auto prefix = unprivileged_prefix();
  if (!prefix) GTEST_SKIP() << "running as root without runuser or setpriv";
  Job job(0777);
  job.file("a.txt", "alpha\n");
  configure_write(job);
  fs::create_directories(tree_of(job));
  ::chmod(job.out().c_str(), 0777);
  ::chmod(tree_of(job).c_str(), 0555);
  job.set("output", "manifest", toml_string((job.dir() / "manifest.json").string()));
  job.set("output", "checksums", toml_string((job.dir() / "checksums.xxh128").string()));
  job.write_config();
  if (!unprivileged_can_read(*prefix, job.config())) GTEST_SKIP() << "nobody cannot reach it";

  std::vector<std::string> argv = *prefix;
  argv.insert(argv.end(), {kBinary.string(), job.config().string()});
  const RunResult result = run(argv);
  ASSERT_FALSE(result.timed_out) << result.describe();
  EXPECT_EQ(result.exit_code, 3) << result.describe();
  EXPECT_TRUE(contains(result.err, tree_of(job).string())) << result.describe();
  EXPECT_TRUE(contains(result.err, "Permission denied")) << result.describe();
  EXPECT_FALSE(fs::exists(job.dir() / "manifest.json"));
}

// ---------------------------------------------------------------------------------------------
// A failing device: the ring's completions report the error.

// Runs the job with PIPE_RUN_INJECT_FAULT=spec.
RunResult run_with_fault(const Job& job, const std::string& spec) {
  job.write_config();
  return run({"env", "PIPE_RUN_INJECT_FAULT=" + spec, kBinary.string(), job.config().string()});
}

// Three files, one at a time; returns the one the manifest says failed, checking the others.
std::string the_one_failed_file(const Job& job, const RunResult& result, std::string_view reason) {
  EXPECT_EQ(result.exit_code, 1) << result.describe();
  const nlohmann::json manifest = read_json(job.manifest());
  std::string failed;
  for (const auto& record : manifest["files"]) {
    if (record.value("status", "") != "failed") continue;
    EXPECT_TRUE(failed.empty()) << "more than one failure: " << manifest["files"].dump(1);
    failed = record.value("path", "");
    EXPECT_TRUE(contains(record.value("error", ""), reason)) << record.dump();
  }
  EXPECT_FALSE(failed.empty()) << manifest.dump(1);
  EXPECT_TRUE(contains(result.err, failed)) << result.describe();
  EXPECT_TRUE(contains(result.err, reason)) << result.describe();
  EXPECT_EQ(manifest["summary"]["files"]["ok"], 2) << manifest["summary"].dump();
  return failed;
}

void make_three_files(const Job& job) {
  write_random_file(job.root() / "one.bin", 300 * kKiB, 1);
  write_random_file(job.root() / "two.bin", 5 * kMiB + 3, 2);
  job.file("three.txt", "three\n");
}

TEST(ItOutputs, AWriteErrorFailsThatFileAndLeavesNoPartialOutput) {
  Job job;
  make_three_files(job);
  configure_write(job);
  job.set("pipeline", "queue_depth", "1");
  const RunResult result = run_with_fault(job, "write:EIO:2");
  ASSERT_FALSE(result.timed_out) << result.describe();
  const std::string failed = the_one_failed_file(job, result, "Input/output error");
  EXPECT_FALSE(fs::exists(tree_of(job) / (failed + ".zst"))) << "a partial output";
  for (const char* name : {"one.bin", "two.bin", "three.txt"}) {
    if (name == failed) continue;
    expect_decodes_to(tree_of(job) / (std::string(name) + ".zst"), job.root() / name);
  }
  EXPECT_EQ(leftovers(tree_of(job)), std::vector<std::string>{});
}

TEST(ItOutputs, AReadErrorFailsThatFileWhichIsNeverRecordedAsGood) {
  Job job;
  make_three_files(job);
  job.set("pipeline", "queue_depth", "1");
  const RunResult result = run_with_fault(job, "read:EIO:2");
  ASSERT_FALSE(result.timed_out) << result.describe();
  const std::string failed = the_one_failed_file(job, result, "read: Input/output error");
  const auto digests = checksum_map(job.checksums());
  EXPECT_EQ(digests.size(), 2u);
  EXPECT_FALSE(digests.contains(failed));
  EXPECT_EQ(job.check(job.checksums()).exit_code, 0);
}

TEST(ItOutputs, AFailedFlushFailsTheRunInsteadOfReportingSuccess) {
  Job job;
  make_three_files(job);
  configure_write(job);
  job.set("output", "fsync", "true");
  const RunResult result = run_with_fault(job, "fsync:EIO:1+");
  ASSERT_FALSE(result.timed_out) << result.describe();
  EXPECT_NE(result.exit_code, 0) << result.describe();
  EXPECT_TRUE(contains(result.err, "Input/output error")) << result.describe();
  EXPECT_EQ(leftovers(tree_of(job)), std::vector<std::string>{});
}

TEST(ItOutputs, ABadFaultSpecIsRefused) {
  Job job;
  job.file("a.txt", "alpha\n");
  const RunResult result = run_with_fault(job, "write:EWHAT:1");
  EXPECT_NE(result.exit_code, 0) << result.describe();
  EXPECT_TRUE(contains(result.err, "PIPE_RUN_INJECT_FAULT")) << result.describe();
}

// ---------------------------------------------------------------------------------------------
// Outputs never leave the tree, and never get more permissions than the input under the umask.

TEST(ItOutputs, ASymlinkedDirectoryInTheTreeCannotSendOutputsElsewhere) {
  Job job;
  job.file("sub/a.txt", "alpha\n");
  job.file("sub/deeper/b.txt", "beta\n");
  job.file("top.txt", "top\n");
  configure_write(job);
  const fs::path elsewhere = job.dir() / "elsewhere";
  fs::create_directories(elsewhere);
  fs::create_directories(tree_of(job));
  fs::create_symlink(elsewhere, tree_of(job) / "sub");

  const RunResult result = job.run_pipe();
  ASSERT_FALSE(result.timed_out) << result.describe();
  EXPECT_EQ(result.exit_code, 1) << result.describe();
  EXPECT_TRUE(fs::is_empty(elsewhere)) << "an output escaped the tree through a symlink";
  EXPECT_TRUE(contains(result.err, "sub/a.txt")) << result.describe();
  EXPECT_TRUE(contains(result.err, "sub/deeper/b.txt")) << result.describe();
  expect_decodes_to(tree_of(job) / "top.txt.zst", job.root() / "top.txt");
  EXPECT_TRUE(fs::is_symlink(tree_of(job) / "sub")) << "the user's symlink is left alone";
}

TEST(ItOutputs, ASymlinkedOutputDirectoryItselfIsWrittenThrough) {
  // Users point output.dir at a symlink to another disk: that is the tree, not an escape.
  Job job;
  job.file("a.txt", "alpha\n");
  configure_write(job);
  const fs::path real = job.dir() / "real-tree";
  fs::create_directories(real);
  fs::create_directories(job.out());
  fs::create_symlink(real, tree_of(job));
  const RunResult result = job.run_pipe();
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  expect_decodes_to(real / "a.txt.zst", job.root() / "a.txt");
}

TEST(ItOutputs, ModesAreTheInputsUnderTheUmaskNeverWider) {
  Job job;
  job.file("setuid", "#!/bin/sh\n");
  job.file("group-writable", "g\n");
  job.file("private", "p\n");
  ::chmod((job.root() / "setuid").c_str(), 04755);
  ::chmod((job.root() / "group-writable").c_str(), 0664);
  ::chmod((job.root() / "private").c_str(), 0600);
  configure_write(job);
  job.write_config();
  const RunResult result =
      run({"sh", "-c", "umask 027 && exec \"$0\" \"$1\"", kBinary.string(), job.config().string()});
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  for (const auto& [name, expected] :
       {std::pair{"setuid.zst", 0750}, std::pair{"group-writable.zst", 0640},
        std::pair{"private.zst", 0600}}) {
    struct stat st {};
    ASSERT_EQ(::stat((tree_of(job) / name).c_str(), &st), 0) << name;
    EXPECT_EQ(st.st_mode & 07777, static_cast<mode_t>(expected)) << name;
  }
}

}  // namespace
}  // namespace piperun::itest
