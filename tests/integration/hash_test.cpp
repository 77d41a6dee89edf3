// The hash stage end to end: the real binary on generated trees, checked with xxhsum and
// sha256sum, and the manifest checked against the files themselves.
#include <cstdio>
#include <set>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/harness.hpp"

namespace piperun::itest {
namespace {

constexpr std::size_t kDefaultChunk = 2 * kMiB;  // pipeline.chunk_size's default

// The tree of test 1: every kind of name and size boundary the hash stage must handle.
void make_varied_tree(const Job& job) {
  job.file("nested/a/b/c/deep.txt", "deep inside\n");
  job.file("empty.bin", "");
  job.file("one-byte.bin", "x");
  write_random_file(job.root() / "chunk-exact.bin", kDefaultChunk, 1);
  write_random_file(job.root() / "chunk-plus-one.bin", kDefaultChunk + 1, 2);
  write_random_file(job.root() / "big/random-20MiB.bin", 20 * kMiB, 3);
  job.file("name with spaces.txt", "spaces\n");
  job.file("dir with spaces/inner file.txt", "inner\n");
  job.file("ünïcødé/日本語 ファイル.txt", "utf-8 name\n");
  job.file(kNonUtf8Name, "latin-1 name\n");
  job.file(".hidden", "dotfile\n");
  job.file(".hidden-dir/inside.txt", "in a dot-directory\n");
  fs::create_directories(job.root() / "empty-dir");
  fs::create_hard_link(job.root() / "chunk-exact.bin", job.root() / "hardlink-to-chunk-exact.bin");
}

TEST(ItHash, VariedTreeVerifiesWithXxhsum) {
  Job job;
  make_varied_tree(job);
  const auto expected = regular_files(job.root());
  ASSERT_EQ(expected.size(), 13u);

  const RunResult result = job.run_pipe();
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  ASSERT_TRUE(fs::exists(job.checksums())) << result.describe();

  // One line per regular file (both hard-link names), with exactly their names.
  const std::string text = read_file(job.checksums());
  EXPECT_EQ(count_lines(text), expected.size()) << text;
  std::set<std::string> listed;
  for (const auto& line : read_checksums(job.checksums())) {
    EXPECT_EQ(line.digest.size(), 32u) << "not an XXH3-128 digest: " << line.digest;
    EXPECT_TRUE(listed.insert(line.path).second) << "listed twice: " << line.path;
  }
  EXPECT_EQ(listed, expected);

  // The outputs are complete files under their final names; no temporary is left behind.
  std::set<std::string> outputs;
  for (const auto& entry : fs::directory_iterator(job.out()))
    outputs.insert(entry.path().filename().string());
  EXPECT_EQ(outputs, (std::set<std::string>{"manifest.json", "checksums.xxh128"}));

  // The stock tool agrees, file by file.
  const RunResult check = job.check(job.checksums());
  EXPECT_EQ(check.exit_code, 0) << check.describe();
  EXPECT_EQ(count_lines(check.out, ": OK"), expected.size()) << check.describe();

  // And each digest is what `xxhsum -H2 FILE` prints for that file alone.
  const auto digests = checksum_map(job.checksums());
  for (const std::string name :
       {"empty.bin", "one-byte.bin", "chunk-exact.bin", "chunk-plus-one.bin",
        "big/random-20MiB.bin", kNonUtf8Name.c_str(), "hardlink-to-chunk-exact.bin"}) {
    SCOPED_TRACE(name);
    const RunResult single = run({"xxhsum", "-H2", name}, RunOptions{.cwd = job.root()});
    ASSERT_EQ(single.exit_code, 0) << single.describe();
    const std::string digest = single.out.substr(0, single.out.find(' '));
    ASSERT_TRUE(digests.contains(name));
    EXPECT_EQ(digests.at(name), digest);
  }
  EXPECT_EQ(digests.at("hardlink-to-chunk-exact.bin"), digests.at("chunk-exact.bin"));
  EXPECT_NE(digests.at("chunk-exact.bin"), digests.at("chunk-plus-one.bin"));
}

TEST(ItHash, ThreeAlgorithmsWriteThreeVerifiableFiles) {
  Job job;
  job.file("a.txt", "alpha\n");
  job.file("sub/b.txt", "beta\n");
  job.file("empty", "");
  write_random_file(job.root() / "sub/deeper/c.bin", 4 * kMiB + 1, 7);
  const std::size_t files = regular_files(job.root()).size();
  // A non-default base name: each file is named from it with the extension replaced.
  job.set("output", "checksums", toml_string((job.out() / "sums.xxh128").string()));
  job.set("hash", "algorithms", R"(["xxh3-128", "xxh64", "sha256"])");

  const RunResult result = job.run_pipe();
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  const fs::path xxh128 = job.out() / "sums.xxh128";
  const fs::path xxh64 = job.out() / "sums.xxh64";
  const fs::path sha256 = job.out() / "sums.sha256";
  for (const auto& file : {xxh128, xxh64, sha256}) {
    SCOPED_TRACE(file.string());
    ASSERT_TRUE(fs::exists(file));
    EXPECT_EQ(count_lines(read_file(file)), files);
  }

  for (const auto& [file, tool] :
       {std::pair{xxh128, "xxhsum"}, std::pair{xxh64, "xxhsum"}, std::pair{sha256, "sha256sum"}}) {
    const RunResult check = job.check(file, tool);
    EXPECT_EQ(check.exit_code, 0) << check.describe();
    EXPECT_EQ(count_lines(check.out, ": OK"), files) << check.describe();
  }

  // Cross-check one file against the tools run on it alone.
  const RunResult h1 = run({"xxhsum", "-H1", "sub/deeper/c.bin"}, RunOptions{.cwd = job.root()});
  const RunResult sha = run({"sha256sum", "sub/deeper/c.bin"}, RunOptions{.cwd = job.root()});
  ASSERT_EQ(h1.exit_code, 0) << h1.describe();
  ASSERT_EQ(sha.exit_code, 0) << sha.describe();
  EXPECT_EQ(checksum_map(xxh64).at("sub/deeper/c.bin"), h1.out.substr(0, h1.out.find(' ')));
  EXPECT_EQ(checksum_map(sha256).at("sub/deeper/c.bin"), sha.out.substr(0, sha.out.find(' ')));
  EXPECT_EQ(checksum_map(xxh64).at("sub/deeper/c.bin").size(), 16u);
  EXPECT_EQ(checksum_map(sha256).at("sub/deeper/c.bin").size(), 64u);
}

TEST(ItHash, ManifestDescribesEveryEntry) {
  Job job;
  job.file("plain.txt", "hello\n");
  job.file("dir/nested.txt", "nested file\n");
  job.file("empty", "");
  write_random_file(job.root() / "dir/two-chunks.bin", 8 * kMiB + 3, 11);
  job.file(kNonUtf8Name, "latin-1\n");
  ::chmod((job.root() / "plain.txt").c_str(), 0640);
  fs::create_symlink("plain.txt", job.root() / "link-to-plain");
  const auto regular = regular_files(job.root());
  const std::uintmax_t bytes = total_size(job.root());

  const RunResult result = job.run_pipe();
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  ASSERT_TRUE(fs::exists(job.manifest())) << result.describe();
  nlohmann::json manifest;
  ASSERT_NO_THROW(manifest = read_json(job.manifest()));

  EXPECT_TRUE(manifest.contains("manifest_version"));
  EXPECT_TRUE(manifest.contains("tool"));
  ASSERT_TRUE(manifest.contains("stages"));
  EXPECT_EQ(manifest["stages"], nlohmann::json::array({"hash"}));
  ASSERT_TRUE(manifest.contains("files") && manifest["files"].is_array());
  // One record per input entry: the regular files and the symlink.
  EXPECT_EQ(manifest["files"].size(), regular.size() + 1) << manifest["files"].dump(1);

  const auto digests = checksum_map(job.checksums());
  std::set<std::string> seen;
  for (const auto& record : manifest["files"]) {
    SCOPED_TRACE(record.dump());
    for (const char* key : {"path", "size", "mode", "mtime", "status"})
      EXPECT_TRUE(record.contains(key)) << "missing " << key;
    if (!record.contains("path")) continue;
    std::string raw = record["path"].get<std::string>();
    if (record.contains("path_base64"))
      raw = base64_decode(record["path_base64"].get<std::string>());
    seen.insert(raw);
    if (raw == "link-to-plain") continue;

    struct stat st {};
    ASSERT_EQ(::lstat((job.root() / raw).c_str(), &st), 0) << "no such file: " << raw;
    EXPECT_EQ(record.value("kind", ""), "file");
    EXPECT_EQ(record["status"], "ok");
    EXPECT_EQ(record["size"].get<std::uintmax_t>(), static_cast<std::uintmax_t>(st.st_size));
    ASSERT_TRUE(record["mode"].is_string());
    EXPECT_EQ(std::stoul(record["mode"].get<std::string>(), nullptr, 8), st.st_mode & 07777);
    ASSERT_TRUE(record.contains("mtime_ns"));
    EXPECT_EQ(record["mtime_ns"].get<std::int64_t>(),
              static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec);
    ASSERT_TRUE(record.contains("digests") && record["digests"].is_object());
    ASSERT_TRUE(record["digests"].contains("xxh3-128"));
    EXPECT_EQ(record["digests"]["xxh3-128"], digests.at(raw));
  }
  std::set<std::string> expected = regular;
  expected.insert("link-to-plain");
  EXPECT_EQ(seen, expected);

  // The mode is recorded as it is, not as the umask would make it.
  const nlohmann::json* plain = find_record(manifest, "plain.txt");
  ASSERT_NE(plain, nullptr);
  EXPECT_EQ(std::stoul((*plain)["mode"].get<std::string>(), nullptr, 8), 0640u);

  // The non-UTF-8 name: path with U+FFFD, path_base64 with the exact bytes.
  const nlohmann::json* latin = find_record(manifest, "caf\xef\xbf\xbd.txt");
  ASSERT_NE(latin, nullptr) << manifest["files"].dump(1);
  ASSERT_TRUE(latin->contains("path_base64"));
  EXPECT_EQ(base64_decode((*latin)["path_base64"].get<std::string>()), kNonUtf8Name);
  EXPECT_FALSE(find_record(manifest, "dir/nested.txt")->contains("path_base64"));

  ASSERT_TRUE(manifest.contains("summary"));
  const auto& summary = manifest["summary"];
  ASSERT_TRUE(summary.contains("files"));
  const auto& counts = summary["files"];
  EXPECT_EQ(counts["total"].get<std::size_t>(), manifest["files"].size());
  EXPECT_EQ(counts["ok"].get<std::size_t>(), regular.size());
  EXPECT_EQ(counts["failed"].get<std::size_t>(), 0u);
  EXPECT_EQ(counts["ok"].get<std::size_t>() + counts["failed"].get<std::size_t>() +
                counts["skipped"].get<std::size_t>(),
            counts["total"].get<std::size_t>());
  EXPECT_EQ(summary["bytes_in"].get<std::uintmax_t>(), bytes);
}

TEST(ItHash, ManySmallFiles) {
  Job job;
  std::mt19937 sizes(42);
  std::uintmax_t bytes = 0;
  for (int i = 0; i < 3000; ++i) {
    const std::size_t size = sizes() % (8 * 1024 + 1);
    bytes += size;
    write_random_file(job.root() / ("dir" + std::to_string(i % 30)) / ("f" + std::to_string(i)),
                      size, 1000 + i);
  }
  const RunResult result = job.run_pipe();
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  EXPECT_EQ(count_lines(read_file(job.checksums())), 3000u);
  const RunResult check = job.check(job.checksums());
  EXPECT_EQ(check.exit_code, 0) << check.describe();
  EXPECT_EQ(count_lines(check.out, ": OK"), 3000u);
  const nlohmann::json manifest = read_json(job.manifest());
  EXPECT_EQ(manifest["summary"]["files"]["total"], 3000);
  EXPECT_EQ(manifest["summary"]["files"]["ok"], 3000);
  EXPECT_EQ(manifest["summary"]["bytes_in"].get<std::uintmax_t>(), bytes);
}

TEST(ItHash, SetOverridesConfigKeys) {
  Job job;
  job.file("a.txt", "alpha\n");
  write_random_file(job.root() / "b.bin", 5 * kMiB, 5);
  // The file alone would fail (compress is not available): only the override makes it run.
  job.set("pipeline", "stages", R"(["compress"])");
  const RunResult result =
      job.run_pipe({"--set", R"(pipeline.stages=["hash"])", "--set", R"(hash.algorithms=["xxh64"])",
                    "--set", "pipeline.chunk_size=1MiB"});
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  ASSERT_TRUE(fs::exists(job.checksums("xxh64"))) << result.describe();
  EXPECT_FALSE(fs::exists(job.checksums("xxh128")));
  EXPECT_EQ(count_lines(read_file(job.checksums("xxh64"))), 2u);
  const RunResult check = job.check(job.checksums("xxh64"));
  EXPECT_EQ(check.exit_code, 0) << check.describe();
  EXPECT_EQ(count_lines(check.out, ": OK"), 2u);
}

TEST(ItHash, RelativePathsResolveAgainstTheConfigFolder) {
  Job job;
  job.file("a.txt", "alpha\n");
  job.file("sub/b.txt", "beta\n");
  job.set("input", "paths", R"(["in"])");
  job.set("output", "manifest", R"("out/manifest.json")");
  job.set("output", "checksums", R"("out/checksums.xxh128")");
  // Run from somewhere else entirely.
  const RunResult result = job.run_pipe({}, RunOptions{.cwd = "/"});
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  EXPECT_TRUE(fs::exists(job.manifest()));
  ASSERT_TRUE(fs::exists(job.checksums()));
  EXPECT_EQ(job.check(job.checksums()).exit_code, 0);
  EXPECT_EQ(count_lines(read_file(job.checksums())), 2u);
}

TEST(ItHash, SeveralRootsArePrefixedByTheirFolderName) {
  Job job;
  job.file("alpha/same.txt", "one\n");
  job.file("alpha/only-alpha.txt", "two\n");
  job.file("beta/same.txt", "three\n");
  job.set("input", "paths",
          "[" + toml_string((job.root() / "alpha").string()) + ", " +
              toml_string((job.root() / "beta").string()) + "]");
  const RunResult result = job.run_pipe();
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  const auto digests = checksum_map(job.checksums());
  EXPECT_EQ(digests.size(), 3u);
  EXPECT_TRUE(digests.contains("alpha/same.txt"));
  EXPECT_TRUE(digests.contains("alpha/only-alpha.txt"));
  EXPECT_TRUE(digests.contains("beta/same.txt"));
  // Verifiable from the folder that contains the roots.
  const RunResult check = job.check(job.checksums());
  EXPECT_EQ(check.exit_code, 0) << check.describe();
}

// The common CI case: paths = ["."] with the outputs inside the tree. The outputs (and their
// temporaries) must not be hashed, and the checksum file must verify from the root.
TEST(ItHash, OutputsInsideTheInputTreeAreNotHashed) {
  Job job;
  job.file("a.txt", "alpha\n");
  write_random_file(job.root() / "b.bin", 3 * kMiB, 13);
  job.set("input", "paths", "[" + toml_string(job.dir().string()) + "]");
  const RunResult result = job.run_pipe();
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  const auto digests = checksum_map(job.checksums());
  for (const auto& [path, digest] : digests)
    EXPECT_FALSE(path.starts_with("out/")) << "an output was hashed: " << path;
  EXPECT_TRUE(digests.contains("in/a.txt"));
  EXPECT_TRUE(digests.contains("in/b.bin"));
  EXPECT_TRUE(digests.contains("job.toml"));
  const RunResult check =
      run({"xxhsum", "-c", job.checksums().string()}, RunOptions{.cwd = job.dir()});
  EXPECT_EQ(check.exit_code, 0) << check.describe() << "\n" << read_file(job.checksums());
}

TEST(ItHash, NewlineAndBackslashNamesVerifyWithSha256sum) {
  Job job;
  job.file("new\nline.txt", "newline\n");
  job.file("back\\slash.txt", "backslash\n");
  job.file("plain.txt", "plain\n");
  job.set("hash", "algorithms", R"(["sha256"])");
  const RunResult result = job.run_pipe();
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  const RunResult check = job.check(job.checksums("sha256"), "sha256sum");
  EXPECT_EQ(check.exit_code, 0) << check.describe() << "\n" << read_file(job.checksums("sha256"));
  EXPECT_EQ(count_lines(check.out, ": OK"), 3u) << check.describe();
}

// libcrypto is loaded on first use: a run that needs no SHA-256 does without it, and one
// that does loads it and gets the digest sha256sum computes.
TEST(ItHash, OnlyASha256RunLoadsLibcrypto) {
  Job job;
  job.file("a.txt", "alpha\n");
  job.write_config();
  auto run_traced = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> argv{"env", "LD_DEBUG=libs", kBinary.string(), job.config().string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run(argv);
  };
  const RunResult xxh3 = run_traced({});
  ASSERT_EQ(xxh3.exit_code, 0) << xxh3.describe();
  EXPECT_FALSE(contains(xxh3.err, "libcrypto")) << xxh3.err;

  const RunResult sha = run_traced({"--set", R"(hash.algorithms=["sha256"])"});
  ASSERT_EQ(sha.exit_code, 0) << sha.describe();
  EXPECT_TRUE(contains(sha.err, "libcrypto")) << sha.err;
  const RunResult check = job.check(job.checksums("sha256"), "sha256sum");
  EXPECT_EQ(check.exit_code, 0) << check.describe();
  EXPECT_EQ(count_lines(check.out, ": OK"), 1u) << check.describe();
}

TEST(ItHash, NoStagesReadsEveryFile) {
  Job job;
  job.file("a.txt", "alpha\n");
  write_random_file(job.root() / "b.bin", 6 * kMiB, 9);
  job.set("pipeline", "stages", "[]");
  const RunResult result = job.run_pipe();
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  ASSERT_TRUE(fs::exists(job.manifest())) << result.describe();
  const nlohmann::json manifest = read_json(job.manifest());
  EXPECT_EQ(manifest["summary"]["files"]["ok"], 2);
  EXPECT_EQ(manifest["summary"]["bytes_in"].get<std::uintmax_t>(), total_size(job.root()));
}

// The smallest pool the config allows (two 64 KiB buffers), one read in flight, one worker:
// backpressure everywhere, and still every byte hashed in order.
class TinyPool : public ::testing::TestWithParam<bool> {};

TEST_P(TinyPool, HashesEverything) {
  Job job;
  write_random_file(job.root() / "big.bin", 10 * kMiB + 123, 31);
  write_random_file(job.root() / "exact.bin", 64 * 1024, 32);
  for (int i = 0; i < 200; ++i)
    write_random_file(job.root() / "small" / std::to_string(i), static_cast<std::size_t>(i) * 97,
                      100 + i);
  job.set("pipeline", "chunk_size", R"("64KiB")");
  job.set("pipeline", "memory_limit", R"("128KiB")");
  job.set("pipeline", "queue_depth", "1");
  job.set("pipeline", "threads", "1");
  job.set("pipeline", "direct_io", GetParam() ? "true" : "false");
  const RunResult result = job.run_pipe();
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  EXPECT_EQ(count_lines(read_file(job.checksums())), 202u);
  const RunResult check = job.check(job.checksums());
  EXPECT_EQ(check.exit_code, 0) << check.describe();
  EXPECT_EQ(count_lines(check.out, ": OK"), 202u);
}

INSTANTIATE_TEST_SUITE_P(Integration, TinyPool, ::testing::Values(false, true),
                         [](const auto& info) {
                           return std::string(info.param ? "DirectIo" : "PageCache");
                         });

TEST(ItHash, DirectIoVariedTreeVerifies) {
  Job job;
  make_varied_tree(job);
  job.set("pipeline", "direct_io", "true");
  const RunResult result = job.run_pipe();
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  EXPECT_EQ(count_lines(read_file(job.checksums())), regular_files(job.root()).size());
  const RunResult check = job.check(job.checksums());
  EXPECT_EQ(check.exit_code, 0) << check.describe();
}

}  // namespace
}  // namespace piperun::itest
