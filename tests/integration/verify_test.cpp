// `pipe-run verify MANIFEST` end to end: the real binary makes outputs (an output tree with and
// without compress, a file:// store, objects in Ceph radosgw and on nginx), verify passes on
// them, then each kind of damage done behind its back with independent tools (a flipped byte,
// a truncation, a deletion, an object replaced through rclone or curl) is named, with exit 1.
// A manifest that is not one exits 2, naming the file and line.
#include <algorithm>
#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/harness.hpp"
#include "integration/servers.hpp"

namespace piperun::itest {
namespace {

// Text zstd shrinks, with random runs so that frames differ.
std::string text_bytes(std::size_t size, std::uint64_t seed) {
  std::string bytes = random_bytes(size, seed);
  for (std::size_t i = 0; i < size; i += 4096)
    for (std::size_t j = i; j < std::min(size, i + 3000); ++j)
      bytes[j] = "verify me, pipe-run\n"[j % 20];
  return bytes;
}

std::map<std::string, std::string> make_verify_tree(const Job& job) {
  std::map<std::string, std::string> files{
      {"a.txt", "hello, verify\n"},
      {"empty", ""},
      {"dir/with space/b.log", text_bytes(300'000, 1)},
      {"dir/c.bin", random_bytes(70'000, 2)},
      {"big/large.bin", text_bytes(5 * kMiB + 123, 3)},  // several frames
  };
  for (int i = 0; i < 40; ++i)
    files["many/f" + std::to_string(i)] = text_bytes(1000 + 37 * i, 10 + i);
  for (const auto& [rel, contents] : files)
    job.file(rel, contents);
  return files;
}

// `pipe-run verify` with the S3 credentials in its environment.
RunResult verify(const Job& job, std::vector<std::string> extra = {}) {
  std::vector<std::string> argv{"env", "AWS_ACCESS_KEY_ID=" + std::string(kS3AccessKey),
                                "AWS_SECRET_ACCESS_KEY=" + std::string(kS3SecretKey),
                                kBinary.string(), "verify"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back(job.manifest().string());
  return run(argv, RunOptions{.timeout = std::chrono::minutes(3)});
}

void flip_byte(const fs::path& file, std::uintmax_t offset) {
  std::fstream stream(file, std::ios::in | std::ios::out | std::ios::binary);
  stream.seekg(static_cast<std::streamoff>(offset));
  const char byte = static_cast<char>(stream.get());
  stream.seekp(static_cast<std::streamoff>(offset));
  stream.put(static_cast<char>(byte ^ 0x5a));
  ASSERT_TRUE(stream.good()) << file;
}

// The stderr line that names `location`, or empty.
std::string line_naming(const std::string& err, const std::string& location) {
  const std::string prefix = "pipe-run verify: " + location + ": ";
  for (std::size_t start = 0; start < err.size();) {
    std::size_t end = err.find('\n', start);
    if (end == std::string::npos) end = err.size();
    const std::string line = err.substr(start, end - start);
    if (line.starts_with(prefix)) return line.substr(prefix.size());
    start = end + 1;
  }
  return {};
}

std::string summary_line(std::size_t files, std::size_t objects, std::size_t problems) {
  return "checked " + std::to_string(files) + " files, " + std::to_string(objects) + " objects, " +
         std::to_string(problems) + " problems";
}

// ---------------------------------------------------------------------------------------------
// The output tree and a file:// store

TEST(ItVerify, CompressedTreeAndFileStoreHoldThenEachDamagedOutputIsNamed) {
  Job job;
  const auto files = make_verify_tree(job);
  const fs::path tree = job.out() / "tree";
  const fs::path store = job.out() / "store";
  job.set("pipeline", "stages", R"(["hash", "compress", "write", "upload"])");
  job.set("output", "dir", toml_string(tree.string()));
  job.set("upload", "url", toml_string("file://" + store.string()));
  RunResult made = job.run_pipe();
  ASSERT_EQ(made.exit_code, 0) << made.describe();

  RunResult clean = verify(job);
  EXPECT_EQ(clean.exit_code, 0) << clean.describe();
  EXPECT_TRUE(contains(clean.err, summary_line(files.size(), 2 * files.size(), 0))) << clean.err;

  // Behind pipe-run's back: a byte of a tree output, a truncated stored object, a deleted one.
  const fs::path flipped = tree / "dir/with space/b.log.zst";
  flip_byte(flipped, fs::file_size(flipped) / 2);
  const fs::path truncated = store / "big/large.bin.zst";
  const auto stored_size = fs::file_size(truncated);
  fs::resize_file(truncated, stored_size - 1000);
  const fs::path deleted = tree / "many/f7.zst";
  fs::remove(deleted);

  RunResult damaged = verify(job);
  EXPECT_EQ(damaged.exit_code, 1) << damaged.describe();
  EXPECT_TRUE(contains(line_naming(damaged.err, flipped.string()), "zstd")) << damaged.err;
  EXPECT_EQ(line_naming(damaged.err, truncated.string()),
            "compressed size " + std::to_string(stored_size - 1000) + " != recorded " +
                std::to_string(stored_size))
      << damaged.err;
  EXPECT_EQ(line_naming(damaged.err, deleted.string()), "missing") << damaged.err;
  EXPECT_TRUE(contains(damaged.err, summary_line(files.size(), 2 * files.size(), 3)))
      << damaged.err;
  // The same output in the other place is intact, and not named.
  EXPECT_EQ(line_naming(damaged.err, (store / "dir/with space/b.log.zst").string()), "");
  EXPECT_EQ(line_naming(damaged.err, (tree / "big/large.bin.zst").string()), "");
}

TEST(ItVerify, CopiesWithoutCompressAreComparedByDigestAndSize) {
  Job job;
  const auto files = make_verify_tree(job);
  const fs::path tree = job.out() / "tree";
  job.set("pipeline", "stages", R"(["hash", "write"])");
  job.set("output", "dir", toml_string(tree.string()));
  RunResult made = job.run_pipe();
  ASSERT_EQ(made.exit_code, 0) << made.describe();
  RunResult clean = verify(job, {"--json"});
  EXPECT_EQ(clean.exit_code, 0) << clean.describe();
  const auto report = nlohmann::json::parse(clean.out);
  EXPECT_EQ(report["ok"], true);
  EXPECT_EQ(report["checked"]["files"], files.size());
  EXPECT_EQ(report["checked"]["outputs"], files.size());
  EXPECT_EQ(report["checked"]["objects"], 0);

  const auto digests = checksum_map(job.checksums());  // what xxhsum -c would check
  const fs::path flipped = tree / "dir/c.bin";
  flip_byte(flipped, 12'345);
  const fs::path truncated = tree / "a.txt";
  fs::resize_file(truncated, 5);
  const fs::path deleted = tree / "empty";
  fs::remove(deleted);
  // What the flipped file now holds, by the stock tool.
  RunResult xxhsum = run({"xxhsum", "-H2", flipped.string()});
  ASSERT_EQ(xxhsum.exit_code, 0) << xxhsum.describe();
  const std::string now = xxhsum.out.substr(0, xxhsum.out.find(' '));

  RunResult damaged = verify(job, {"--json", "-q"});
  EXPECT_EQ(damaged.exit_code, 1) << damaged.describe();
  EXPECT_EQ(line_naming(damaged.err, flipped.string()),
            "xxh3-128 mismatch: " + now + " != recorded " + digests.at("dir/c.bin"))
      << damaged.err;
  EXPECT_EQ(line_naming(damaged.err, truncated.string()),
            "size 5 != recorded " + std::to_string(files.at("a.txt").size()))
      << damaged.err;
  EXPECT_EQ(line_naming(damaged.err, deleted.string()), "missing") << damaged.err;
  EXPECT_FALSE(contains(damaged.err, "checked ")) << "-q prints no summary\n" << damaged.err;
  const auto problems = nlohmann::json::parse(damaged.out);
  EXPECT_EQ(problems["ok"], false);
  EXPECT_EQ(problems["problems_total"], 3);
  std::vector<std::string> named;
  for (const auto& problem : problems["problems"])
    named.push_back(problem["location"].get<std::string>());
  std::sort(named.begin(), named.end());
  std::vector<std::string> expected{flipped.string(), truncated.string(), deleted.string()};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(named, expected);
}

TEST(ItVerify, AManifestThatIsNotOneExitsTwoNamingFileAndLine) {
  Job job;
  job.file("a.txt", "a\n");
  job.file("b.txt", "b\n");
  job.set("pipeline", "stages", R"(["hash", "write"])");
  job.set("output", "dir", toml_string((job.out() / "tree").string()));
  RunResult made = job.run_pipe();
  ASSERT_EQ(made.exit_code, 0) << made.describe();

  // The second record's size becomes a string.
  std::string text = read_file(job.manifest());
  const std::size_t record = text.find("{\"path\":\"b.txt\"");
  ASSERT_NE(record, std::string::npos) << text;
  const std::size_t size = text.find("\"size\":2", record);
  ASSERT_NE(size, std::string::npos) << text;
  text.replace(size, 8, "\"size\":\"2\"");
  write_file(job.manifest(), text);
  const auto line = 1 + std::count(text.begin(), text.begin() + record, '\n');
  RunResult broken = verify(job);
  EXPECT_EQ(broken.exit_code, 2) << broken.describe();
  EXPECT_TRUE(contains(broken.err, job.manifest().string() + ":" + std::to_string(line) + ": "))
      << broken.err;

  write_file(job.manifest(), "not a manifest\n");
  RunResult garbage = verify(job);
  EXPECT_EQ(garbage.exit_code, 2) << garbage.describe();
  EXPECT_TRUE(contains(garbage.err, job.manifest().string() + ":1: ")) << garbage.err;

  fs::remove(job.manifest());
  RunResult missing = verify(job);
  EXPECT_EQ(missing.exit_code, 2) << missing.describe();
  EXPECT_TRUE(contains(missing.err, job.manifest().string())) << missing.err;
}

// ---------------------------------------------------------------------------------------------
// S3: Ceph radosgw

class ItVerifyS3 : public ::testing::Test {
 protected:
  void SetUp() override { ensure_test_servers(); }
};

RunResult run_s3_job(Job& job, const std::string& prefix,
                     const std::string& stages = R"(["hash", "compress", "upload"])") {
  job.set("pipeline", "stages", stages);
  job.set("pipeline", "memory_limit", R"("64MiB")");
  job.set("upload", "url", toml_string("s3://" + std::string(kS3Bucket) + "/" + prefix));
  job.set("upload", "endpoint", toml_string(kS3Endpoint));
  job.set("upload", "multipart_threshold", R"("5MiB")");
  job.set("upload", "part_size", R"("5MiB")");
  job.write_config();
  return run({"env", "AWS_ACCESS_KEY_ID=" + std::string(kS3AccessKey),
              "AWS_SECRET_ACCESS_KEY=" + std::string(kS3SecretKey),
              "XDG_CACHE_HOME=" + (job.dir() / "cache").string(), kBinary.string(),
              job.config().string()});
}

// `bytes` stored under test-bucket/<key> by curl, with `headers` (pipe-run's metadata or not).
void s3_put(const std::string& key, const std::string& bytes, std::vector<std::string> headers) {
  TempDir dir;
  write_file(dir / "body", bytes);
  std::vector<std::string> arguments{"-f", "-X", "PUT", "--data-binary",
                                     "@" + (dir / "body").string()};
  for (const std::string& header : headers) {
    arguments.push_back("-H");
    arguments.push_back(header);
  }
  arguments.push_back(std::string(kS3Endpoint) + "/" + std::string(kS3Bucket) + "/" +
                      url_path(key));
  RunResult put = run(signed_curl(arguments));
  ASSERT_EQ(put.exit_code, 0) << put.describe();
}

std::string zstd_of(const std::string& bytes) {
  TempDir dir;
  write_file(dir / "in", bytes);
  RunResult compressed = run({"zstd", "-q", "-c", (dir / "in").string()});
  EXPECT_EQ(compressed.exit_code, 0) << compressed.describe();
  return compressed.out;
}

TEST_F(ItVerifyS3, ObjectsCheckedByHeadThenMissingAndReplacedOnesAreNamed) {
  Job job;
  const auto files = make_verify_tree(job);
  const std::string prefix = unique_prefix("verify-head");
  RunResult made = run_s3_job(job, prefix);
  ASSERT_EQ(made.exit_code, 0) << made.describe();

  // The endpoint comes from the job's config, which the manifest names.
  RunResult clean = verify(job);
  EXPECT_EQ(clean.exit_code, 0) << clean.describe();
  EXPECT_TRUE(contains(clean.err, summary_line(files.size(), files.size(), 0))) << clean.err;

  const std::string url = "s3://" + std::string(kS3Bucket) + "/" + prefix + "/";
  // Deleted by another client.
  ASSERT_EQ(
      run(rclone({"deletefile", "prtest:" + std::string(kS3Bucket) + "/" + prefix + "/a.txt.zst"}))
          .exit_code,
      0);
  // Replaced by another client, without pipe-run's digest: only a download can tell.
  s3_put(prefix + "/dir/c.bin.zst", zstd_of("other bytes\n"), {});
  RunResult damaged = verify(job);
  EXPECT_EQ(damaged.exit_code, 1) << damaged.describe();
  EXPECT_EQ(line_naming(damaged.err, url + "a.txt.zst"), "missing") << damaged.err;
  const auto manifest = read_json(job.manifest());
  EXPECT_EQ(line_naming(damaged.err, url + "dir/c.bin.zst"),
            "compressed size " + std::to_string(zstd_of("other bytes\n").size()) + " != recorded " +
                std::to_string((*find_record(manifest, "dir/c.bin"))["compressed_size"].get<int>()))
      << damaged.err;
  EXPECT_TRUE(contains(damaged.err, summary_line(files.size(), files.size(), 2))) << damaged.err;
}

TEST_F(ItVerifyS3, DownloadChecksTheBytesWhereTheMetadataStillLooksRight) {
  Job job;
  const auto files = make_verify_tree(job);
  const std::string prefix = unique_prefix("verify-download");
  RunResult made = run_s3_job(job, prefix);
  ASSERT_EQ(made.exit_code, 0) << made.describe();
  RunResult clean = verify(job, {"--download"});
  EXPECT_EQ(clean.exit_code, 0) << clean.describe();
  EXPECT_TRUE(contains(clean.err, summary_line(files.size(), files.size(), 0))) << clean.err;
}

TEST_F(ItVerifyS3, DownloadFindsOtherBytesUnderMetadataThatStillLooksRight) {
  Job job;
  const auto files = make_verify_tree(job);
  const std::string prefix = unique_prefix("verify-bytes");
  RunResult made = run_s3_job(job, prefix, R"(["hash", "upload"])");
  ASSERT_EQ(made.exit_code, 0) << made.describe();

  // One byte changed, same size, under the metadata pipe-run wrote: a HEAD cannot tell.
  const std::string rel = "dir/with space/b.log";
  const auto digests = checksum_map(job.checksums());
  std::string other = files.at(rel);
  other[other.size() / 3] ^= 1;
  s3_put(prefix + "/" + rel, other,
         {"x-amz-meta-xxh3-128: " + digests.at(rel),
          "x-amz-meta-size: " + std::to_string(other.size())});
  TempDir dir;
  write_file(dir / "other", other);
  RunResult xxhsum = run({"xxhsum", "-H2", (dir / "other").string()});
  ASSERT_EQ(xxhsum.exit_code, 0) << xxhsum.describe();
  const std::string now = xxhsum.out.substr(0, xxhsum.out.find(' '));

  RunResult by_head = verify(job);
  EXPECT_EQ(by_head.exit_code, 0) << by_head.describe();
  RunResult by_bytes = verify(job, {"--download"});
  EXPECT_EQ(by_bytes.exit_code, 1) << by_bytes.describe();
  EXPECT_EQ(line_naming(by_bytes.err, "s3://" + std::string(kS3Bucket) + "/" + prefix + "/" + rel),
            "xxh3-128 mismatch: " + now + " != recorded " + digests.at(rel))
      << by_bytes.err;
}

TEST_F(ItVerifyS3, RefusedCredentialsAreFatal) {
  Job job;
  job.file("a.txt", "a\n");
  RunResult made = run_s3_job(job, unique_prefix("verify-refused"));
  ASSERT_EQ(made.exit_code, 0) << made.describe();
  RunResult refused =
      run({"env", "AWS_ACCESS_KEY_ID=" + std::string(kS3AccessKey), "AWS_SECRET_ACCESS_KEY=wrong",
           kBinary.string(), "verify", job.manifest().string()},
          RunOptions{.timeout = std::chrono::minutes(2)});
  EXPECT_EQ(refused.exit_code, 3) << refused.describe();
  EXPECT_TRUE(contains(refused.err, "refused")) << refused.err;
  EXPECT_FALSE(contains(refused.err, "wrong")) << refused.err;
}

// ---------------------------------------------------------------------------------------------
// HTTP: nginx WebDAV keeps no metadata, so every object is downloaded

TEST(ItVerifyHttp, ObjectsAreDownloadedAndADamagedOneIsNamed) {
  ensure_test_servers();
  Job job;
  const auto files = make_verify_tree(job);
  const std::string sub = unique_prefix("verify-dav");
  job.set("pipeline", "stages", R"(["hash", "compress", "upload"])");
  job.set("pipeline", "memory_limit", R"("128MiB")");
  job.set("upload", "url", toml_string(std::string(kDavUrl) + sub));
  RunResult made = job.run_pipe();
  ASSERT_EQ(made.exit_code, 0) << made.describe();
  RunResult clean = verify(job);
  EXPECT_EQ(clean.exit_code, 0) << clean.describe();
  EXPECT_TRUE(contains(clean.err, summary_line(files.size(), files.size(), 0))) << clean.err;

  const fs::path stored = fs::path(kDavRoot) / sub / "big/large.bin.zst";
  fs::resize_file(stored, fs::file_size(stored) / 2);
  RunResult damaged = verify(job);
  EXPECT_EQ(damaged.exit_code, 1) << damaged.describe();
  EXPECT_TRUE(line_naming(damaged.err, std::string(kDavUrl) + sub + "/big/large.bin.zst")
                  .starts_with("compressed size "))
      << damaged.err;
}

}  // namespace
}  // namespace piperun::itest
