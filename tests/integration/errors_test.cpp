// Exit codes and messages: configuration errors (exit 2, nothing written) and per-file
// failures (exit 1, named on stderr and in the manifest, everything else done).
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/harness.hpp"

namespace piperun::itest {
namespace {

// Nothing at all was written: no manifest, no checksum file, no temporary left behind.
void expect_nothing_written(const Job& job) {
  EXPECT_FALSE(fs::exists(job.manifest()));
  EXPECT_FALSE(fs::exists(job.checksums()));
  if (fs::exists(job.out())) {
    for (const auto& entry : fs::recursive_directory_iterator(job.out()))
      ADD_FAILURE() << "left behind: " << entry.path();
  }
}

// A config written line by line, so the test knows the line of the bad key.
void write_lines(const Job& job, const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines)
    text += line + "\n";
  write_file(job.config(), text);
}

RunResult run_config(const Job& job, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv{kBinary.string(), job.config().string()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return run(argv, RunOptions{.timeout = std::chrono::seconds(30)});
}

struct BadKey {
  const char* name;
  const char* section;
  const char* line;      // the bad line, last in its section
  const char* expected;  // "section.key" as the message must name it
};

void PrintTo(const BadKey& bad, std::ostream* os) {
  *os << bad.name;
}

class ConfigErrors : public ::testing::TestWithParam<BadKey> {};

TEST_P(ConfigErrors, ExitTwoNamingFileLineAndKey) {
  const BadKey& bad = GetParam();
  Job job;
  job.file("a.txt", "alpha\n");
  // Every section once with a valid key; the bad key's section last, the bad key at its end.
  const std::vector<std::pair<std::string, std::string>> sections{
      {"input", "paths = [" + toml_string(job.root().string()) + "]"},
      {"pipeline", "stages = [\"hash\"]"},
      {"hash", "algorithms = [\"xxh3-128\"]"},
      {"output", "manifest = " + toml_string(job.manifest().string())},
  };
  std::vector<std::string> lines{"# a comment first, so lines are not sections"};
  std::string bad_section_line;
  for (const auto& [section, line] : sections) {
    if (section == bad.section) {
      bad_section_line = line;
      continue;
    }
    lines.push_back("[" + section + "]");
    lines.push_back(line);
    lines.push_back("");
  }
  lines.push_back(std::string("[") + bad.section + "]");
  // Keep the section's valid line unless the bad line redefines its key (a TOML error).
  const std::string bad_key = std::string(bad.line).substr(0, std::string(bad.line).find(' '));
  if (!bad_section_line.starts_with(bad_key + " ")) lines.push_back(bad_section_line);
  lines.push_back(bad.line);
  const std::size_t bad_line = lines.size();
  write_lines(job, lines);

  const RunResult result = run_config(job);
  const std::string text = read_file(job.config());
  EXPECT_EQ(result.exit_code, 2) << result.describe() << "\n" << text;
  EXPECT_TRUE(contains(result.err, "job.toml:" + std::to_string(bad_line) + ": " + bad.expected))
      << "stderr must say FILE:LINE: section.key\n"
      << result.describe() << "\n"
      << text;
  expect_nothing_written(job);
}

INSTANTIATE_TEST_SUITE_P(
    IntegrationErrors, ConfigErrors,
    ::testing::Values(
        BadKey{"UnknownKey", "pipeline", "colour = \"blue\"", "pipeline.colour"},
        BadKey{"UnknownInputKey", "input", "recursive = true", "input.recursive"},
        BadKey{"BadSize", "pipeline", "chunk_size = \"4 parsecs\"", "pipeline.chunk_size"},
        BadKey{"BadAlgorithm", "hash", "algorithms = [\"md5\"]", "hash.algorithms"},
        BadKey{"BadEnum", "input", "if_no_files = \"maybe\"", "input.if_no_files"},
        BadKey{"WrongType", "pipeline", "queue_depth = \"deep\"", "pipeline.queue_depth"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ItErrors, MissingInputPathExitsTwoNamingIt) {
  Job job;
  job.set("input", "paths", "[" + toml_string((job.dir() / "does-not-exist").string()) + "]");
  const RunResult result = job.run_pipe({}, RunOptions{.timeout = std::chrono::seconds(30)});
  EXPECT_EQ(result.exit_code, 2) << result.describe();
  EXPECT_TRUE(contains(result.err, "does-not-exist")) << result.describe();
  expect_nothing_written(job);
}

TEST(ItErrors, S3UploadWithoutCredentialsExitsTwoNamingTheKey) {
  Job job;
  job.file("a.txt", "alpha\n");
  job.set("pipeline", "stages", R"(["hash", "upload"])");
  job.set("upload", "url", R"("s3://bucket/prefix")");
  job.write_config();
  const RunResult result = run({"env", "-u", "AWS_ACCESS_KEY_ID", "-u", "AWS_SECRET_ACCESS_KEY",
                                kBinary.string(), job.config().string()},
                               RunOptions{.timeout = std::chrono::seconds(30)});
  EXPECT_EQ(result.exit_code, 2) << result.describe();
  EXPECT_TRUE(contains(result.err, "upload.url")) << result.describe();
  EXPECT_TRUE(contains(result.err, "AWS_SECRET_ACCESS_KEY")) << result.describe();
  expect_nothing_written(job);
}

TEST(ItErrors, UnknownStageExitsTwo) {
  Job job;
  job.file("a.txt", "alpha\n");
  job.set("pipeline", "stages", R"(["hash", "encrypt"])");
  const RunResult result = job.run_pipe({}, RunOptions{.timeout = std::chrono::seconds(30)});
  EXPECT_EQ(result.exit_code, 2) << result.describe();
  EXPECT_TRUE(contains(result.err, "encrypt")) << result.describe();
  expect_nothing_written(job);
}

TEST(ItErrors, UnknownKeyInSetExitsTwoNamingIt) {
  Job job;
  job.file("a.txt", "alpha\n");
  const RunResult result = job.run_pipe({"--set", "input.nope=1"});
  EXPECT_EQ(result.exit_code, 2) << result.describe();
  EXPECT_TRUE(contains(result.err, "input.nope")) << result.describe();
  expect_nothing_written(job);
}

TEST(ItErrors, MissingConfigFileExitsTwo) {
  TempDir dir;
  const RunResult result = run({kBinary.string(), (dir / "no-such.toml").string()});
  EXPECT_EQ(result.exit_code, 2) << result.describe();
  EXPECT_TRUE(contains(result.err, "no-such.toml")) << result.describe();
}

TEST(ItErrors, BadCommandLineExitsTwo) {
  const RunResult result = run({kBinary.string(), "--no-such-flag"});
  EXPECT_EQ(result.exit_code, 2) << result.describe();
}

// Runs the job as an unprivileged user (root reads anything): the tree and the out dir must be
// reachable for that user.
RunResult run_unprivileged(const Job& job, const std::vector<std::string>& prefix) {
  job.write_config();
  if (!unprivileged_can_read(prefix, job.config())) {
    RunResult cannot;
    cannot.err = "the unprivileged user cannot read " + job.config().string();
    cannot.exit_code = 77;
    return cannot;
  }
  std::vector<std::string> argv = prefix;
  argv.push_back(kBinary.string());
  argv.push_back(job.config().string());
  return run(argv, RunOptions{.timeout = std::chrono::seconds(60)});
}

TEST(ItFileFailures, UnreadableFileFailsAloneWithExitOne) {
  const auto prefix = unprivileged_prefix();
  if (!prefix) GTEST_SKIP() << "running as root without runuser or setpriv";
  Job job(0777);
  job.file("a.txt", "alpha\n");
  job.file("sub/b.txt", "beta\n");
  write_random_file(job.root() / "sub/c.bin", 5 * 1024 * 1024 + 17, 3);
  job.file("sub/secret.bin", "you cannot read me\n");
  ::chmod((job.root() / "sub/secret.bin").c_str(), 0);

  const RunResult result = run_unprivileged(job, *prefix);
  if (result.exit_code == 77) GTEST_SKIP() << result.err;
  ASSERT_FALSE(result.timed_out) << result.describe();
  EXPECT_EQ(result.exit_code, 1) << result.describe();
  EXPECT_TRUE(contains(result.err, "sub/secret.bin")) << result.describe();

  const nlohmann::json manifest = read_json(job.manifest());
  const nlohmann::json* secret = find_record(manifest, "sub/secret.bin");
  ASSERT_NE(secret, nullptr) << manifest.dump(1);
  EXPECT_EQ(secret->value("status", ""), "failed");
  EXPECT_FALSE(secret->value("error", "").empty());
  EXPECT_EQ(manifest["summary"]["files"]["failed"], 1);
  EXPECT_EQ(manifest["summary"]["files"]["ok"], 3);
  ASSERT_TRUE(manifest["summary"].contains("failures"));
  EXPECT_TRUE(contains(manifest["summary"]["failures"].dump(), "sub/secret.bin"))
      << manifest["summary"].dump(1);

  const auto digests = checksum_map(job.checksums());
  EXPECT_EQ(digests.size(), 3u);
  EXPECT_FALSE(digests.contains("sub/secret.bin"));
  const RunResult check = job.check(job.checksums());
  EXPECT_EQ(check.exit_code, 0) << check.describe();
}

TEST(ItFileFailures, UnreadableDirectoryIsReportedWithExitOne) {
  const auto prefix = unprivileged_prefix();
  if (!prefix) GTEST_SKIP() << "running as root without runuser or setpriv";
  Job job(0777);
  job.file("a.txt", "alpha\n");
  job.file("locked/inside.txt", "hidden by permissions\n");
  ::chmod((job.root() / "locked").c_str(), 0);

  const RunResult result = run_unprivileged(job, *prefix);
  if (result.exit_code == 77) GTEST_SKIP() << result.err;
  ASSERT_FALSE(result.timed_out) << result.describe();
  // Never skipped silently: a folder that cannot be read is a failure.
  EXPECT_EQ(result.exit_code, 1) << result.describe();
  EXPECT_TRUE(contains(result.err, "locked")) << result.describe();
  const auto digests = checksum_map(job.checksums());
  EXPECT_TRUE(digests.contains("a.txt"));
  ::chmod((job.root() / "locked").c_str(), 0755);
}

// Exit 130 on SIGINT, and no partial output: no manifest, no checksum file, no temporaries.
// Issue 6 / DESIGN: SIGINT stops taking files, abandons the one in the middle, writes the
// manifest of what is done and exits 130; no temporary file is left.
TEST(ItInterrupt, SigintWritesTheManifestOfWhatIsDoneAndExits130) {
  Job job;
  job.file("small.txt", "small\n");
  // Large enough to be still running when the signal comes (sparse, so cheap to make).
  write_sparse_file(job.root() / "zz-huge.bin", std::uintmax_t{64} * 1024 * 1024 * 1024);
  const RunResult result =
      job.run_pipe({}, RunOptions{.timeout = std::chrono::seconds(60),
                                  .send_signal = SIGINT,
                                  .signal_after = std::chrono::milliseconds(400),
                                  .signal_when = [&job] { return has_entries(job.out()); }});
  ASSERT_FALSE(result.timed_out) << result.describe();
  EXPECT_EQ(result.exit_code, 130) << result.describe();
  EXPECT_LT(result.seconds, 10.0) << "took long to stop after SIGINT";
  const auto manifest = nlohmann::json::parse(read_file(job.manifest()));
  EXPECT_TRUE(manifest["summary"]["interrupted"].get<bool>());
  ASSERT_EQ(manifest["files"].size(), 1u) << "only the file that was done";
  EXPECT_EQ(manifest["files"][0]["path"], "small.txt");
  const RunResult check = job.check(job.checksums());
  EXPECT_EQ(check.exit_code, 0) << check.describe();
  for (const auto& entry : fs::recursive_directory_iterator(job.out())) {
    EXPECT_EQ(entry.path().filename().string().find(".pipe-run-tmp."), std::string::npos)
        << "left behind: " << entry.path();
  }
}

// SIGTERM (what CI runners and `timeout` send) stops the run as SIGINT does.
TEST(ItInterrupt, SigtermStopsLikeSigint) {
  Job job;
  job.file("small.txt", "small\n");
  write_sparse_file(job.root() / "zz-huge.bin", std::uintmax_t{64} * 1024 * 1024 * 1024);
  job.set("pipeline", "stages", R"(["hash", "compress", "write"])");
  job.set("output", "dir", toml_string((job.out() / "tree").string()));
  const RunResult result =
      job.run_pipe({}, RunOptions{.timeout = std::chrono::seconds(60),
                                  .send_signal = SIGTERM,
                                  .signal_after = std::chrono::milliseconds(400),
                                  .signal_when = [&job] { return has_entries(job.out()); }});
  ASSERT_FALSE(result.timed_out) << result.describe();
  EXPECT_EQ(result.exit_code, 130) << result.describe();
  const auto manifest = nlohmann::json::parse(read_file(job.manifest()));
  EXPECT_TRUE(manifest["summary"]["interrupted"].get<bool>());
  ASSERT_EQ(manifest["files"].size(), 1u) << "only the file that was done";
  EXPECT_EQ(manifest["files"][0]["path"], "small.txt");
  EXPECT_TRUE(fs::exists(job.out() / "tree" / "small.txt.zst"));
  for (const auto& entry : fs::recursive_directory_iterator(job.out())) {
    const std::string name = entry.path().filename().string();
    EXPECT_FALSE(name.starts_with("zz-huge")) << "a partial output: " << entry.path();
    EXPECT_EQ(name.find(".pipe-run-tmp."), std::string::npos) << "left behind: " << entry.path();
  }
}

// A second SIGINT may come while the first one's manifest is being written, or after: either
// way the run ends at once, with complete outputs or none, and no temporary file.
TEST(ItInterrupt, SecondSigintLeavesNoPartialOutput) {
  Job job;
  write_sparse_file(job.root() / "huge.bin", std::uintmax_t{64} * 1024 * 1024 * 1024);
  const RunResult result =
      job.run_pipe({}, RunOptions{.timeout = std::chrono::seconds(60),
                                  .send_signal = SIGINT,
                                  .signal_after = std::chrono::milliseconds(300),
                                  .signal_count = 2,
                                  .signal_when = [&job] { return has_entries(job.out()); }});
  ASSERT_FALSE(result.timed_out) << result.describe();
  EXPECT_EQ(result.exit_code, 130) << result.describe();
  EXPECT_LT(result.seconds, 10.0) << result.describe();
  if (fs::exists(job.manifest())) {
    EXPECT_TRUE(nlohmann::json::accept(read_file(job.manifest()))) << "a partial manifest";
  }
  if (fs::exists(job.out())) {
    for (const auto& entry : fs::recursive_directory_iterator(job.out())) {
      EXPECT_EQ(entry.path().filename().string().find(".pipe-run-tmp."), std::string::npos)
          << "left behind: " << entry.path();
    }
  }
}

}  // namespace
}  // namespace piperun::itest
