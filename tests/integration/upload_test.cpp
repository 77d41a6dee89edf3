// The upload stage end to end: the real binary uploads a generated tree to a local file://
// store, to Ceph radosgw (S3, strict SigV4) and to nginx (WebDAV PUT), all started by the test
// scripts; what it stored is read back with independent clients (rclone, curl, zstd -d) and
// compared with the input. Faults: no server, a wrong secret, a throttling proxy.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/harness.hpp"
#include "integration/servers.hpp"

namespace piperun::itest {
namespace {

// Half compressible text, half random: zstd shrinks it, but not to nothing.
std::string mixed_bytes(std::size_t size, std::uint64_t seed) {
  std::string bytes = random_bytes(size, seed);
  for (std::size_t i = 0; i < size; i += 8192)
    for (std::size_t j = i; j < std::min(size, i + 4096); ++j)
      bytes[j] = "pipe-run uploads\n"[j % 17];
  return bytes;
}

std::string decompress(const std::string& zst) {
  TempDir dir;
  const fs::path file = dir.path() / "object.zst";
  write_file(file, zst);
  RunResult result = run({"zstd", "-d", "-q", "-c", file.string()});
  EXPECT_EQ(result.exit_code, 0) << result.describe();
  return result.out;
}

// Runs pipe-run with the S3 credentials in its environment.
RunResult run_with_credentials(const Job& job, const std::string& secret,
                               std::vector<std::string> extra = {}, RunOptions options = {}) {
  job.write_config();
  // The digest cache (layout = "content") of this job only.
  std::vector<std::string> argv{"env",
                                "AWS_ACCESS_KEY_ID=" + std::string(kS3AccessKey),
                                "AWS_SECRET_ACCESS_KEY=" + secret,
                                "XDG_CACHE_HOME=" + (job.dir() / "cache").string(),
                                kBinary.string(),
                                job.config().string()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return run(argv, options);
}

void configure_s3(Job& job, const std::string& prefix) {
  job.set("pipeline", "stages", R"(["hash", "compress", "upload"])");
  job.set("pipeline", "memory_limit", R"("64MiB")");
  job.set("upload", "url", toml_string("s3://" + std::string(kS3Bucket) + "/" + prefix));
  job.set("upload", "endpoint", toml_string(kS3Endpoint));
  job.set("upload", "multipart_threshold", R"("5MiB")");
  job.set("upload", "part_size", R"("5MiB")");
}

std::map<std::string, std::string> make_upload_tree(const Job& job) {
  std::map<std::string, std::string> files{
      {"a.txt", "hello, store\n"},
      {"empty", ""},
      {"dir/with space/b.log", mixed_bytes(300'000, 1)},
      {"dir/c.bin", random_bytes(70'000, 2)},
      {"big/large.bin", mixed_bytes(23 * kMiB + 12'345, 3)},
  };
  for (const auto& [rel, contents] : files)
    job.file(rel, contents);
  return files;
}

const nlohmann::json& summary_upload(const nlohmann::json& manifest) {
  return manifest["summary"]["upload"];
}

// ---------------------------------------------------------------------------------------------
// file:// (no server)

TEST(ItUploadFile, StoreHoldsEveryObjectAndARerunStoresNothing) {
  Job job;
  const auto files = make_upload_tree(job);
  const fs::path store = job.out() / "store";
  job.set("pipeline", "stages", R"(["hash", "compress", "upload"])");
  job.set("upload", "url", toml_string("file://" + store.string()));

  RunResult first = job.run_pipe();
  ASSERT_EQ(first.exit_code, 0) << first.describe();
  for (const auto& [rel, contents] : files) {
    const fs::path object = store / (rel + ".zst");
    ASSERT_TRUE(fs::exists(object)) << object;
    EXPECT_EQ(decompress(read_file(object)), contents) << rel;
  }
  const nlohmann::json manifest = read_json(job.manifest());
  const nlohmann::json* record = find_record(manifest, "dir/with space/b.log");
  ASSERT_NE(record, nullptr);
  EXPECT_EQ((*record)["upload"]["status"], "uploaded");
  EXPECT_EQ((*record)["upload"]["url"], "file://" + store.string() + "/dir/with space/b.log.zst");
  EXPECT_EQ(summary_upload(manifest)["objects_uploaded"], files.size());

  // Not resumed from the manifest: every file is read again, and the store's digest attribute
  // tells that it already holds it.
  RunResult second = job.run_pipe({"--set", "output.resume=false"});
  ASSERT_EQ(second.exit_code, 0) << second.describe();
  const nlohmann::json again = read_json(job.manifest());
  EXPECT_EQ(summary_upload(again)["objects_uploaded"], 0);
  EXPECT_EQ(summary_upload(again)["objects_unchanged"], files.size());
  EXPECT_EQ(summary_upload(again)["bytes_uploaded"], 0);
  EXPECT_TRUE(contains(second.err, "upload: 0 sent")) << second.err;
  for (const auto& entry : fs::recursive_directory_iterator(store))
    EXPECT_FALSE(entry.path().filename().string().starts_with(".pipe-run-")) << entry.path();
}

TEST(ItUploadFile, ContentLayoutNamesObjectsAfterTheirDigest) {
  Job job;
  job.file("one.txt", "same bytes\n");
  job.file("sub/two.txt", "same bytes\n");
  job.file("three.txt", "other bytes\n");
  const fs::path store = job.out() / "store";
  job.set("pipeline", "stages", R"(["hash", "upload"])");
  job.set("upload", "url", toml_string("file://" + store.string()));
  job.set("upload", "layout", R"("content")");
  RunResult result = job.run_pipe();
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  const auto digests = checksum_map(job.checksums());
  for (const auto& [rel, digest] : digests) {
    const fs::path object = store / digest;
    ASSERT_TRUE(fs::exists(object)) << rel;
    EXPECT_EQ(read_file(object), read_file(job.root() / rel));
  }
  EXPECT_EQ(regular_files(store).size(), 2u);  // the same content is stored once
}

// ---------------------------------------------------------------------------------------------
// S3: Ceph radosgw

class ItUploadS3 : public ::testing::Test {
 protected:
  void SetUp() override { ensure_test_servers(); }
};

TEST_F(ItUploadS3, SinglePutAndMultipartObjectsReadBackThroughRclone) {
  Job job;
  const auto files = make_upload_tree(job);
  const std::string prefix = unique_prefix("roundtrip");
  configure_s3(job, prefix);
  RunResult result = run_with_credentials(job, std::string(kS3SecretKey), {"-v"});
  ASSERT_EQ(result.exit_code, 0) << result.describe();

  const auto digests = checksum_map(job.checksums());
  for (const auto& [rel, contents] : files) {
    const std::string key = prefix + "/" + rel + ".zst";
    EXPECT_EQ(decompress(s3_cat(key)), contents) << key;
    const auto meta = s3_metadata(key);
    EXPECT_EQ(meta.at("x-amz-meta-xxh3-128"), digests.at(rel)) << key;
    EXPECT_EQ(meta.at("x-amz-meta-size"), std::to_string(contents.size())) << key;
  }
  const nlohmann::json manifest = read_json(job.manifest());
  const nlohmann::json* large = find_record(manifest, "big/large.bin");
  ASSERT_NE(large, nullptr);
  EXPECT_EQ((*large)["upload"]["status"], "uploaded");
  EXPECT_FALSE((*large)["upload"]["etag"].get<std::string>().empty());
  EXPECT_TRUE(contains(result.err, "part 2 stored")) << result.err;  // it went in parts
  const nlohmann::json* small = find_record(manifest, "a.txt");
  ASSERT_NE(small, nullptr);
  EXPECT_TRUE((*small)["upload"]["checksum"].get<std::string>().starts_with("md5:"));
  for (const std::string& key : s3_list_multipart_uploads())
    EXPECT_FALSE(key.starts_with(prefix)) << "still in progress: " << key;
}

TEST_F(ItUploadS3, ARerunWithSkipExistingUploadsNothing) {
  Job job;
  const auto files = make_upload_tree(job);
  configure_s3(job, unique_prefix("rerun"));
  RunResult first = run_with_credentials(job, std::string(kS3SecretKey));
  ASSERT_EQ(first.exit_code, 0) << first.describe();
  EXPECT_EQ(summary_upload(read_json(job.manifest()))["objects_uploaded"], files.size());

  // Not resumed from the manifest: every file is read again, and the HEAD with the digest
  // tells that the store already holds it.
  RunResult second =
      run_with_credentials(job, std::string(kS3SecretKey), {"--set", "output.resume=false"});
  ASSERT_EQ(second.exit_code, 0) << second.describe();
  const nlohmann::json manifest = read_json(job.manifest());
  EXPECT_EQ(summary_upload(manifest)["bytes_uploaded"], 0);
  EXPECT_EQ(summary_upload(manifest)["objects_unchanged"], files.size());
  EXPECT_EQ(manifest["summary"]["files"]["resumed"], 0);
  EXPECT_TRUE(contains(second.err, "upload: 0 sent (0.0 MB)")) << second.err;
}

TEST_F(ItUploadS3, ARerunResumesFromTheManifestAfterOneLookupPerObject) {
  Job job;
  const auto files = make_upload_tree(job);
  const std::string prefix = unique_prefix("resume");
  configure_s3(job, prefix);
  ASSERT_EQ(run_with_credentials(job, std::string(kS3SecretKey)).exit_code, 0);

  // An object deleted from the store since is sent again; the others are not even read.
  const std::string gone = files.begin()->first;
  ASSERT_EQ(run(rclone({"deletefile",
                        "prtest:" + std::string(kS3Bucket) + "/" + prefix + "/" + gone + ".zst"}))
                .exit_code,
            0);
  RunResult second = run_with_credentials(job, std::string(kS3SecretKey));
  ASSERT_EQ(second.exit_code, 0) << second.describe();
  const nlohmann::json manifest = read_json(job.manifest());
  EXPECT_EQ(manifest["summary"]["files"]["resumed"], files.size() - 1);
  EXPECT_EQ(manifest["summary"]["bytes_in"].get<std::uintmax_t>(), files.at(gone).size());
  EXPECT_EQ(summary_upload(manifest)["objects_uploaded"], 1);
  EXPECT_EQ(decompress(s3_cat(prefix + "/" + gone + ".zst")), files.at(gone));
}

TEST_F(ItUploadS3, AnInterruptedMultipartUploadIsAbortedAndTheNextRunCompletesIt) {
  Job job;
  const std::string big = random_bytes(24 * kMiB, 21);
  job.file("big.bin", big);
  job.file("small.txt", "small\n");
  const std::string prefix = unique_prefix("interrupted");
  configure_s3(job, prefix);
  job.set("pipeline", "stages", R"(["hash", "upload"])");
  job.set("upload", "multipart_threshold", R"("5MiB")");
  job.set("upload", "part_size", R"("5MiB")");
  job.set("upload", "bandwidth_limit", R"("4MiB")");  // six seconds: the signal comes first
  RunResult interrupted = run_with_credentials(
      job, std::string(kS3SecretKey), {},
      RunOptions{.send_signal = SIGINT, .signal_after = std::chrono::milliseconds(2000)});
  ASSERT_FALSE(interrupted.timed_out) << interrupted.describe();
  EXPECT_EQ(interrupted.exit_code, 130) << interrupted.describe();
  for (const std::string& key : s3_list_multipart_uploads())
    EXPECT_FALSE(key.starts_with(prefix)) << "a multipart upload left in progress: " << key;
  const std::vector<std::string> stored = s3_list(prefix);
  EXPECT_EQ(std::count(stored.begin(), stored.end(), prefix + "/big.bin"), 0) << "a partial object";
  const nlohmann::json first = read_json(job.manifest());
  EXPECT_TRUE(first["summary"]["interrupted"].get<bool>());
  EXPECT_EQ(find_record(first, "big.bin"), nullptr) << "big.bin was not done";

  job.set("upload", "bandwidth_limit", "");
  RunResult second = run_with_credentials(job, std::string(kS3SecretKey));
  ASSERT_EQ(second.exit_code, 0) << second.describe();
  EXPECT_TRUE(s3_cat(prefix + "/big.bin") == big);
  const nlohmann::json manifest = read_json(job.manifest());
  EXPECT_EQ((*find_record(manifest, "big.bin"))["status"], "ok");
}

TEST_F(ItUploadS3, TheFirstPartLeavesBeforeTheFileIsRead) {
  Job job;
  job.file("huge.bin", random_bytes(110 * kMiB, 7));
  configure_s3(job, unique_prefix("early"));
  job.set("pipeline", "stages", R"(["hash", "upload"])");
  RunResult result = run_with_credentials(job, std::string(kS3SecretKey), {"-v"});
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  const auto at = result.err.find("part 1 leaves");
  ASSERT_NE(at, std::string::npos) << result.err;
  const std::string line = result.err.substr(at, result.err.find('\n', at) - at);
  const auto read_at = line.find("), ") + 3;
  const std::uint64_t read = std::stoull(line.substr(read_at));
  EXPECT_LT(read, 110 * kMiB) << line;
}

TEST_F(ItUploadS3, AWrongSecretFailsAtOnceSayingTheSignatureWasRefused) {
  Job job;
  for (int i = 0; i < 20; ++i)
    job.file("f" + std::to_string(i), "bytes " + std::to_string(i));
  configure_s3(job, unique_prefix("badsecret"));
  RunResult result = run_with_credentials(job, "not-the-secret");
  EXPECT_EQ(result.exit_code, 1) << result.describe();
  EXPECT_TRUE(contains(result.err, "SignatureDoesNotMatch")) << result.err;
  EXPECT_TRUE(contains(result.err, "refused")) << result.err;
  EXPECT_FALSE(contains(result.err, "not-the-secret"));
  EXPECT_LT(result.seconds, 10);  // no retries: a refusal does not get better
  const nlohmann::json manifest = read_json(job.manifest());
  EXPECT_EQ(manifest["summary"]["files"]["failed"], 20);
}

TEST_F(ItUploadS3, NoServerListeningRetriesThenFailsClearly) {
  Job job;
  job.file("a", "a");
  configure_s3(job, "x");
  job.set("upload", "endpoint", R"("http://127.0.0.1:9")");  // discard: nobody listens
  job.set("upload", "retries", "2");
  RunResult result = run_with_credentials(job, std::string(kS3SecretKey));
  EXPECT_EQ(result.exit_code, 1) << result.describe();
  EXPECT_TRUE(contains(result.err, "127.0.0.1")) << result.err;
  const nlohmann::json manifest = read_json(job.manifest());
  const nlohmann::json* record = find_record(manifest, "a");
  ASSERT_NE(record, nullptr);
  EXPECT_EQ((*record)["status"], "failed");
  EXPECT_FALSE(record->contains("upload"));
}

TEST_F(ItUploadS3, AThrottlingServerIsRetriedUntilItAnswers) {
  FaultProxy proxy({"--fail-first", "6"}, kS3Port);
  Job job;
  for (int i = 0; i < 4; ++i)
    job.file("f" + std::to_string(i), mixed_bytes(10'000, static_cast<std::uint64_t>(i)));
  const std::string prefix = unique_prefix("throttled");
  configure_s3(job, prefix);
  job.set("upload", "endpoint", toml_string(proxy.url()));
  RunResult result = run_with_credentials(job, std::string(kS3SecretKey));
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  const nlohmann::json manifest = read_json(job.manifest());
  unsigned attempts = 0;
  for (const auto& record : manifest["files"])
    attempts += record["upload"]["attempts"].get<unsigned>();
  EXPECT_GT(attempts, 8u);  // 4 lookups + 4 PUTs, and the refused ones again
  for (int i = 0; i < 4; ++i) {
    const std::string rel = "f" + std::to_string(i);
    EXPECT_EQ(decompress(s3_cat(prefix + "/" + rel + ".zst")), read_file(job.root() / rel));
  }
}

TEST_F(ItUploadS3, SecretsNeverAppearInOutputOrManifest) {
  Job job;
  make_upload_tree(job);
  configure_s3(job, unique_prefix("secrets"));
  RunResult result = run_with_credentials(job, std::string(kS3SecretKey), {"-v"});
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  for (const std::string& text : {result.out, result.err, read_file(job.manifest())})
    EXPECT_FALSE(contains(text, kS3SecretKey));
}

TEST_F(ItUploadS3, AMultipartUploadThatFailsIsAbortedAndLeavesNothing) {
  // Every second part is refused by the server (through the proxy), retries run out.
  FaultProxy proxy({"--fail-matching", "partNumber=2&", "--status", "500"}, kS3Port);
  Job job;
  job.file("big.bin", random_bytes(12 * kMiB, 11));
  job.file("small.txt", "fine\n");
  const std::string prefix = unique_prefix("aborted");
  configure_s3(job, prefix);
  job.set("pipeline", "stages", R"(["hash", "upload"])");
  job.set("upload", "endpoint", toml_string(proxy.url()));
  job.set("upload", "retries", "1");
  RunResult result = run_with_credentials(job, std::string(kS3SecretKey));
  EXPECT_EQ(result.exit_code, 1) << result.describe();
  EXPECT_TRUE(contains(result.err, "UploadPart 2")) << result.err;
  EXPECT_TRUE(contains(result.err, "HTTP 500")) << result.err;
  for (const std::string& key : s3_list_multipart_uploads())
    EXPECT_FALSE(key.starts_with(prefix)) << "still in progress: " << key;
  const std::vector<std::string> stored = s3_list(prefix);
  EXPECT_EQ(stored, std::vector<std::string>{prefix + "/small.txt"});
  const nlohmann::json manifest = read_json(job.manifest());
  EXPECT_EQ((*find_record(manifest, "big.bin"))["status"], "failed");
  EXPECT_EQ((*find_record(manifest, "small.txt"))["status"], "ok");
}

TEST_F(ItUploadS3, AServerRestartedMidRunLosesNothing) {
  FaultProxy proxy({}, kS3Port);
  Job job;
  std::map<std::string, std::string> files;
  for (int i = 0; i < 12; ++i) {
    const std::string rel = "f" + std::to_string(i) + ".bin";
    files[rel] = random_bytes(3 * kMiB, static_cast<std::uint64_t>(100 + i));
    job.file(rel, files[rel]);
  }
  const std::string prefix = unique_prefix("restart");
  configure_s3(job, prefix);
  job.set("pipeline", "stages", R"(["hash", "upload"])");
  job.set("upload", "endpoint", toml_string(proxy.url()));
  job.set("upload", "bandwidth_limit", R"("16MiB")");  // the run lasts a few seconds
  job.set("upload", "concurrency", "4");
  std::thread outage([&proxy] {
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    proxy.stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    proxy.restart();
  });
  RunResult first = run_with_credentials(job, std::string(kS3SecretKey));
  outage.join();
  // Completed, or failed cleanly: either way a re-run completes and nothing is lost.
  EXPECT_TRUE(first.exit_code == 0 || first.exit_code == 1) << first.describe();
  RunResult second = run_with_credentials(job, std::string(kS3SecretKey));
  ASSERT_EQ(second.exit_code, 0) << second.describe();
  for (const auto& [rel, contents] : files)
    EXPECT_EQ(s3_cat(prefix + "/" + rel), contents) << rel;
  for (const std::string& key : s3_list_multipart_uploads())
    EXPECT_FALSE(key.starts_with(prefix)) << "still in progress: " << key;
}

TEST_F(ItUploadS3, BandwidthLimitIsHonoured) {
  Job job;
  job.file("a.bin", random_bytes(12 * kMiB, 21));
  configure_s3(job, unique_prefix("bandwidth"));
  job.set("pipeline", "stages", R"(["upload"])");
  job.set("upload", "bandwidth_limit", R"("4MiB")");
  RunResult result = run_with_credentials(job, std::string(kS3SecretKey));
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  // 12 MiB at 4 MiB/s: 3 s (less a first burst); and not far more, as a per-transfer split of
  // the limit would take.
  EXPECT_GE(result.seconds, 2.5);
  EXPECT_LT(result.seconds, 15);
}

TEST_F(ItUploadS3, Sha256AndNoChecksumAreAcceptedByTheServer) {
  for (const char* checksum : {"sha256", "none"}) {
    Job job;
    const auto files = make_upload_tree(job);
    const std::string prefix = unique_prefix(std::string("checksum-") + checksum);
    configure_s3(job, prefix);
    job.set("upload", "checksum", toml_string(checksum));
    RunResult result = run_with_credentials(job, std::string(kS3SecretKey));
    ASSERT_EQ(result.exit_code, 0) << checksum << "\n" << result.describe();
    EXPECT_EQ(decompress(s3_cat(prefix + "/a.txt.zst")), files.at("a.txt"));
    EXPECT_EQ(decompress(s3_cat(prefix + "/big/large.bin.zst")), files.at("big/large.bin"));
  }
}

TEST_F(ItUploadS3, ContentLayoutNamesEvenMultipartObjectsAfterTheirDigest) {
  Job job;
  const auto files = make_upload_tree(job);
  job.file("copy-of-large.bin", files.at("big/large.bin"));  // same content: stored once
  const std::string prefix = unique_prefix("content");
  configure_s3(job, prefix);
  job.set("upload", "layout", R"("content")");
  RunResult result = run_with_credentials(job, std::string(kS3SecretKey));
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  const auto digests = checksum_map(job.checksums());
  std::set<std::string> expected;
  for (const auto& [rel, digest] : digests) {
    expected.insert(prefix + "/" + digest + ".zst");
    EXPECT_EQ(decompress(s3_cat(prefix + "/" + digest + ".zst")), read_file(job.root() / rel))
        << rel;
  }
  const std::vector<std::string> stored = s3_list(prefix);
  EXPECT_EQ(std::set<std::string>(stored.begin(), stored.end()), expected);  // no temporary left

  // Again, not resumed from the manifest: the large files' digests come from the digest cache,
  // so they are looked up by name before a byte leaves, and nothing is sent.
  RunResult again =
      run_with_credentials(job, std::string(kS3SecretKey), {"--set", "output.resume=false"});
  ASSERT_EQ(again.exit_code, 0) << again.describe();
  EXPECT_EQ(summary_upload(read_json(job.manifest()))["objects_uploaded"], 0);
  EXPECT_EQ(summary_upload(read_json(job.manifest()))["bytes_uploaded"], 0);
  EXPECT_TRUE(fs::exists(job.dir() / "cache" / "pipe-run" / "digests.tsv"));
}

TEST_F(ItUploadS3, PeakMemoryStaysUnderTheLimitForFilesFarLargerThanIt) {
  Job job;
  {
    // Written a MiB at a time: the child's peak RSS starts from this process's (vfork), so
    // the test must not hold the file in memory itself.
    fs::create_directories(job.root());
    std::ofstream out(job.root() / "huge.bin", std::ios::binary);
    for (std::uint64_t i = 0; i < 256; ++i) {
      const std::string piece = random_bytes(kMiB, 1000 + i);
      out.write(piece.data(), static_cast<std::streamsize>(piece.size()));
    }
  }
  for (int i = 0; i < 40; ++i)
    job.file("small/" + std::to_string(i), mixed_bytes(200'000, static_cast<std::uint64_t>(i)));
  const std::string prefix = unique_prefix("memory");
  configure_s3(job, prefix);
  job.set("upload", "part_size", R"("8MiB")");
  RunResult result = run_with_credentials(job, std::string(kS3SecretKey), {},
                                          RunOptions{.timeout = std::chrono::seconds(240)});
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  RecordProperty("peak_rss_kib", std::to_string(result.max_rss_kib));
  EXPECT_GT(result.max_rss_kib, 0);
  EXPECT_LT(result.max_rss_kib, rss_bound_kib(64))
      << "peak RSS " << result.max_rss_kib / 1024 << " MiB with memory_limit = 64MiB";
  const auto meta = s3_metadata(prefix + "/huge.bin.zst");
  EXPECT_EQ(meta.at("x-amz-meta-size"), std::to_string(256 * kMiB));
}

TEST_F(ItUploadS3, ManyFilesNearTheOnePutLimitInLittleMemoryComplete) {
  // 32 MiB: 8 MiB for one-PUT objects (4 MiB each at most), 8 MiB for parts, 16 MiB of reads.
  // Each file needs a whole object's memory while it is read, and 64 files are in flight: if
  // files waiting for that memory held the read buffers, the ones holding it would starve.
  Job job;
  for (int i = 0; i < 30; ++i)
    job.file("f" + std::to_string(i), random_bytes(3 * kMiB + 1000 * static_cast<std::size_t>(i),
                                                   static_cast<std::uint64_t>(500 + i)));
  job.file("big", random_bytes(20 * kMiB, 499));  // and a multipart one among them
  configure_s3(job, unique_prefix("little-memory"));
  job.set("pipeline", "stages", R"(["hash", "upload"])");
  job.set("pipeline", "memory_limit", R"("32MiB")");
  job.set("upload", "multipart_threshold", R"("64MiB")");
  RunResult result = run_with_credentials(job, std::string(kS3SecretKey), {},
                                          RunOptions{.timeout = std::chrono::seconds(60)});
  ASSERT_FALSE(result.timed_out) << "stalled";
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  EXPECT_EQ(summary_upload(read_json(job.manifest()))["objects_uploaded"], 31);
}

TEST_F(ItUploadS3, ManyMultipartFilesAtOnceInLittleMemoryComplete) {
  // Several large files compressed and sent in parts at once, in 32 MiB: a file filling a part
  // needs compressed frames, and frames of other files wait for part memory. If a part being
  // filled were paid from the memory those frames wait for, every file would wait on another.
  Job job;
  for (int i = 0; i < 8; ++i)
    job.file("large-" + std::to_string(i),
             mixed_bytes(12 * kMiB, static_cast<std::uint64_t>(700 + i)));
  const std::string prefix = unique_prefix("multipart-memory");
  configure_s3(job, prefix);
  job.set("pipeline", "memory_limit", R"("32MiB")");
  RunResult result = run_with_credentials(job, std::string(kS3SecretKey), {},
                                          RunOptions{.timeout = std::chrono::seconds(60)});
  ASSERT_FALSE(result.timed_out) << "stalled";
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  EXPECT_EQ(summary_upload(read_json(job.manifest()))["objects_uploaded"], 8);
  EXPECT_EQ(decompress(s3_cat(prefix + "/large-3.zst")), read_file(job.root() / "large-3"));
}

TEST_F(ItUploadS3, TheRingDrivesCurlNoPollCallsAtAll) {
  const auto strace = find_program("strace");
  ASSERT_TRUE(strace) << "strace is needed";
  Job job;
  make_upload_tree(job);
  configure_s3(job, unique_prefix("strace"));
  const fs::path trace = job.dir() / "trace";
  job.write_config();
  RunResult result =
      run({"env", kTracedAsanOptions, "AWS_ACCESS_KEY_ID=" + std::string(kS3AccessKey),
           "AWS_SECRET_ACCESS_KEY=" + std::string(kS3SecretKey), strace->string(), "-f", "-o",
           trace.string(), "-e",
           "trace=poll,ppoll,select,pselect6,epoll_wait,epoll_pwait,epoll_pwait2,"
           "io_uring_enter",
           kBinary.string(), job.config().string()});
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  const std::string calls = read_file(trace);
  EXPECT_TRUE(contains(calls, "io_uring_enter")) << "the trace caught nothing";
  for (const char* name : {"poll(", "ppoll(", "select(", "pselect6(", "epoll_wait(", "epoll_pwait"})
    EXPECT_FALSE(contains(calls, std::string(" ") + name)) << name;
}

// ---------------------------------------------------------------------------------------------
// HTTP PUT: nginx WebDAV

TEST(ItUploadHttp, EveryObjectArrivesThroughPut) {
  ensure_test_servers();
  Job job;
  const auto files = make_upload_tree(job);
  const std::string sub = unique_prefix("dav");
  job.set("pipeline", "stages", R"(["hash", "compress", "upload"])");
  job.set("pipeline", "memory_limit", R"("128MiB")");
  job.set("upload", "url", toml_string(std::string(kDavUrl) + sub));
  // One PUT per object whatever its size: the threshold is S3's multipart one.
  job.set("upload", "multipart_threshold", R"("5MiB")");
  RunResult result = job.run_pipe();
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  for (const auto& [rel, contents] : files)
    EXPECT_EQ(decompress(read_file(fs::path(kDavRoot) / sub / (rel + ".zst"))), contents) << rel;
}

TEST(ItUploadHttp, CredentialsFromTheEnvironmentAreUsedButNeverShown) {
  ensure_test_servers();
  Job job;
  job.file("report.txt", "for authorised eyes\n");
  const std::string sub = unique_prefix("private");
  job.set("pipeline", "stages", R"(["hash", "upload"])");
  job.set("upload", "url", toml_string("http://127.0.0.1:8080/private/" + sub));
  job.write_config();
  auto run_as = [&](const std::string& auth) {
    return run(
        {"env", "PIPE_RUN_HTTP_AUTH=" + auth, kBinary.string(), job.config().string(), "-v"});
  };
  RunResult result = run_as("ci:cisecret");
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  EXPECT_EQ(read_file(kDavRoot.parent_path() / "private" / sub / "report.txt"),
            "for authorised eyes\n");
  for (const std::string& text : {result.out, result.err, read_file(job.manifest())})
    EXPECT_FALSE(contains(text, "cisecret"));
  const nlohmann::json manifest = read_json(job.manifest());
  EXPECT_EQ((*find_record(manifest, "report.txt"))["upload"]["url"],
            "http://127.0.0.1:8080/private/" + sub + "/report.txt");

  RunResult refused = run_as("ci:wrong");
  EXPECT_EQ(refused.exit_code, 1) << refused.describe();
  EXPECT_TRUE(contains(refused.err, "HTTP 401")) << refused.err;
  EXPECT_FALSE(contains(refused.err, "wrong"));
}

// libcurl (and the TLS, Kerberos and LDAP libraries it pulls in) is loaded only by a run that
// talks to a server: loading it cost every start about 12 ms. The dynamic loader names each
// library it opens under LD_DEBUG=libs.
TEST(ItUploadHttp, OnlyARunWithANetworkStoreLoadsLibcurl) {
  Job job;
  job.file("a", "a");
  const fs::path store = job.out() / "store";
  job.set("pipeline", "stages", R"(["hash", "compress", "upload"])");
  job.set("upload", "url", toml_string("file://" + store.string()));
  job.write_config();
  auto loads_libcurl = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> argv{"env", "LD_DEBUG=libs", kBinary.string(), job.config().string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    RunResult result = run(argv);
    return std::pair{result, contains(result.err, "libcurl")};
  };
  const auto [local, local_loads] = loads_libcurl({});
  ASSERT_EQ(local.exit_code, 0) << local.describe();
  EXPECT_FALSE(local_loads) << local.err;

  // Nothing listens on port 1: the upload fails, after libcurl was loaded to try it.
  const auto [network, network_loads] =
      loads_libcurl({"--set", "upload.url=\"http://127.0.0.1:1/x\"", "--set", "upload.retries=0",
                     "--set", "output.resume=false"});
  EXPECT_EQ(network.exit_code, 1) << network.describe();
  EXPECT_TRUE(network_loads) << network.err;
}

TEST(ItUploadHttp, CredentialsInTheUrlAreAConfigErrorThatDoesNotShowThem) {
  Job job;
  job.file("a", "a");
  job.set("pipeline", "stages", R"(["upload"])");
  job.set("upload", "url", R"("http://ci:cisecret@127.0.0.1:8080/private/x")");
  RunResult result = job.run_pipe();
  EXPECT_EQ(result.exit_code, 2) << result.describe();
  EXPECT_TRUE(contains(result.err, "PIPE_RUN_HTTP_AUTH")) << result.err;
  EXPECT_FALSE(contains(result.err, "cisecret")) << result.err;
}

}  // namespace
}  // namespace piperun::itest
