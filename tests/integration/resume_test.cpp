// Resume: a re-run takes over the records of files the earlier run did, when the files, the
// settings and the outputs are unchanged, and reads nothing of them; everything else is
// processed again. An interrupted run is finished by the next one.
#include <csignal>
#include <map>
#include <string>
#include <sys/stat.h>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/harness.hpp"

namespace piperun::itest {
namespace {

void make_inputs(const Job& job) {
  job.file("a.txt", "alpha\n");
  job.file("dir/b.txt", "beta\n");
  write_random_file(job.root() / "dir/c.bin", 300 * kKiB, 3);
}

// Path -> whether its record says "resumed".
std::map<std::string, bool> resumed_by_path(const nlohmann::json& manifest) {
  std::map<std::string, bool> resumed;
  for (const auto& record : manifest["files"])
    resumed[record.value("path", "")] = record.value("resumed", false);
  return resumed;
}

RunResult run_ok(const Job& job, const std::vector<std::string>& extra = {}) {
  RunResult result = job.run_pipe(extra);
  EXPECT_EQ(result.exit_code, 0) << result.describe();
  return result;
}

TEST(ItResume, AnUnchangedTreeIsResumedWithoutReadingAnything) {
  Job job;
  make_inputs(job);
  configure_write(job);
  run_ok(job);
  const auto first_checksums = checksum_map(job.checksums());

  run_ok(job);
  const nlohmann::json manifest = read_json(job.manifest());
  EXPECT_EQ(
      resumed_by_path(manifest),
      (std::map<std::string, bool>{{"a.txt", true}, {"dir/b.txt", true}, {"dir/c.bin", true}}));
  EXPECT_EQ(manifest["summary"]["files"]["resumed"], 3);
  EXPECT_EQ(manifest["summary"]["files"]["ok"], 3);
  EXPECT_EQ(manifest["summary"]["bytes_in"], 0) << "a resumed file must not be read";
  // The carried-over records keep everything: digests (so the checksum file), outputs, sizes.
  EXPECT_EQ(checksum_map(job.checksums()), first_checksums);
  EXPECT_EQ(job.check(job.checksums()).exit_code, 0);
  const nlohmann::json* c = find_record(manifest, "dir/c.bin");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ((*c)["output"], "dir/c.bin.zst");
  EXPECT_EQ((*c)["compressed_size"].get<std::uintmax_t>(),
            fs::file_size(tree_of(job) / "dir/c.bin.zst"));
}

TEST(ItResume, OnlyWhatChangedOrLostItsOutputIsProcessedAgain) {
  Job job;
  make_inputs(job);
  job.file("d.txt", "delta\n");
  configure_write(job);
  run_ok(job);

  job.file("a.txt", "alpha, longer now\n");                     // changed
  fs::remove(tree_of(job) / "dir/b.txt.zst");                   // output lost
  fs::resize_file(tree_of(job) / "dir/c.bin.zst", 10);          // output damaged (size differs)
  ASSERT_EQ(::chmod((job.root() / "d.txt").c_str(), 0600), 0);  // mode changed
  job.file("e.txt", "new\n");                                   // new
  run_ok(job);

  const nlohmann::json manifest = read_json(job.manifest());
  EXPECT_EQ(resumed_by_path(manifest), (std::map<std::string, bool>{{"a.txt", false},
                                                                    {"dir/b.txt", false},
                                                                    {"dir/c.bin", false},
                                                                    {"d.txt", false},
                                                                    {"e.txt", false}}));
  EXPECT_EQ(job.check(job.checksums()).exit_code, 0);
  for (const char* name : {"a.txt", "dir/b.txt", "dir/c.bin", "d.txt", "e.txt"}) {
    const RunResult decoded =
        run({"zstd", "-d", "-q", "-c", (tree_of(job) / (std::string(name) + ".zst")).string()});
    EXPECT_EQ(decoded.exit_code, 0) << decoded.describe();
    EXPECT_TRUE(decoded.out == read_file(job.root() / name)) << name;
  }
}

TEST(ItResume, OtherSettingsOrResumeOffProcessEverything) {
  Job job;
  make_inputs(job);
  configure_write(job);
  run_ok(job);

  run_ok(job, {"--set", "compress.level=5"});
  nlohmann::json manifest = read_json(job.manifest());
  EXPECT_EQ(manifest["summary"]["files"]["resumed"], 0) << "another level makes other outputs";
  EXPECT_GT(manifest["summary"]["bytes_in"].get<std::uintmax_t>(), 0u);

  run_ok(job, {"--set", "compress.level=5", "--set", "output.resume=false"});
  manifest = read_json(job.manifest());
  EXPECT_EQ(manifest["summary"]["files"]["resumed"], 0);

  run_ok(job, {"--set", "compress.level=5"});
  manifest = read_json(job.manifest());
  EXPECT_EQ(manifest["summary"]["files"]["resumed"], 3);
}

TEST(ItResume, AHashOnlyRunHashesEveryTime) {
  // Without outputs there is nothing to resume: digests come from the bytes, every run.
  Job job;
  make_inputs(job);
  run_ok(job);
  run_ok(job);
  const nlohmann::json manifest = read_json(job.manifest());
  EXPECT_EQ(manifest["summary"]["files"]["resumed"], 0);
  EXPECT_EQ(manifest["summary"]["bytes_in"].get<std::uintmax_t>(), total_size(job.root()));
}

TEST(ItResume, AnInterruptedRunIsFinishedByTheNext) {
  Job job;
  job.file("small.txt", "small\n");
  // Still being compressed when the signal comes (sparse, so cheap to make).
  write_sparse_file(job.root() / "zz-huge.bin", std::uintmax_t{64} << 30);
  configure_write(job);
  const RunResult interrupted =
      job.run_pipe({}, RunOptions{.timeout = std::chrono::seconds(60),
                                  .send_signal = SIGINT,
                                  .signal_after = std::chrono::milliseconds(400),
                                  .signal_when = [&job] { return has_entries(job.out()); }});
  ASSERT_EQ(interrupted.exit_code, 130) << interrupted.describe();
  ASSERT_EQ(resumed_by_path(read_json(job.manifest())),
            (std::map<std::string, bool>{{"small.txt", false}}));

  // The huge file is now small enough to finish.
  fs::resize_file(job.root() / "zz-huge.bin", 1 << 20);
  run_ok(job);
  const nlohmann::json manifest = read_json(job.manifest());
  EXPECT_EQ(resumed_by_path(manifest),
            (std::map<std::string, bool>{{"small.txt", true}, {"zz-huge.bin", false}}));
  EXPECT_EQ(job.check(job.checksums()).exit_code, 0);
  EXPECT_TRUE(fs::exists(tree_of(job) / "zz-huge.bin.zst"));
}

TEST(ItResume, TheLocalStoreIsResumedToo) {
  Job job;
  make_inputs(job);
  job.set("pipeline", "stages", R"(["hash", "compress", "upload"])");
  job.set("upload", "url", toml_string("file://" + (job.out() / "store").string()));
  run_ok(job);
  run_ok(job);
  nlohmann::json manifest = read_json(job.manifest());
  EXPECT_EQ(manifest["summary"]["files"]["resumed"], 3);
  const nlohmann::json* a = find_record(manifest, "a.txt");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ((*a)["upload"]["status"], "unchanged");
  EXPECT_EQ((*a)["upload"]["bytes"], 0);

  fs::remove(job.out() / "store" / "a.txt.zst");
  run_ok(job);
  manifest = read_json(job.manifest());
  EXPECT_EQ(
      resumed_by_path(manifest),
      (std::map<std::string, bool>{{"a.txt", false}, {"dir/b.txt", true}, {"dir/c.bin", true}}));
  EXPECT_TRUE(fs::exists(job.out() / "store" / "a.txt.zst"));
}

}  // namespace
}  // namespace piperun::itest
