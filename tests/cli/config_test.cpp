#include "cli/config.hpp"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "support/temp_dir.hpp"

namespace piperun::cli {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr std::uint64_t kMiB = 1024 * 1024;

// Sets or unsets an environment variable for one test, restoring it afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// A fresh folder holding the config file and an input folder "artifacts".
class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_.path();
    file_ = dir_ / "pipe.toml";
    fs::create_directory(dir_ / "artifacts");
  }

  void write(const std::string& text) {
    std::ofstream out(file_, std::ios::trunc);
    out << text;
  }

  std::expected<Config, ConfigError> load(const std::string& text,
                                          std::vector<std::string> overrides = {}) {
    write(text);
    return load_config(file_, overrides);
  }

  Config ok(const std::string& text, std::vector<std::string> overrides = {}) {
    auto config = load(text, std::move(overrides));
    EXPECT_TRUE(config.has_value()) << config.error().message;
    return config.has_value() ? *config : Config{};
  }

  std::string error(const std::string& text, std::vector<std::string> overrides = {}) {
    auto config = load(text, std::move(overrides));
    EXPECT_FALSE(config.has_value()) << "loaded without error:\n" << text;
    if (config.has_value()) return {};
    EXPECT_EQ(config.error().message.find('\n'), std::string::npos) << config.error().message;
    return config.error().message;
  }

  // "FILE:LINE: " as every message of the file starts.
  std::string at(int line) const { return file_.string() + ":" + std::to_string(line) + ": "; }

  piperun::testing::TempDir temp_;  // removed with everything in it
  fs::path dir_;
  fs::path file_;
};

constexpr const char* kMinimal = "[input]\npaths = [\"artifacts\"]\n";

// ---------------------------------------------------------------------------------------------
// Defaults and every key.

TEST_F(ConfigTest, MinimalFileGivesTheDefaults) {
  const Config c = ok(kMinimal);
  EXPECT_EQ(c.file, file_);
  ASSERT_EQ(c.input.paths.size(), 1u);
  EXPECT_EQ(c.input.paths[0], dir_ / "artifacts");
  EXPECT_EQ(c.input.include, std::vector<std::string>{"**"});
  EXPECT_TRUE(c.input.exclude.empty());
  EXPECT_TRUE(c.input.hidden);
  EXPECT_FALSE(c.input.follow_symlinks);
  EXPECT_EQ(c.input.if_no_files, pipeline::IfNoFiles::error);

  EXPECT_EQ(c.pipeline.stages, (std::vector<std::string>{"hash", "compress", "write"}));
  EXPECT_EQ(c.pipeline.memory_limit, 256 * kMiB);
  EXPECT_EQ(c.pipeline.chunk_size, 2 * kMiB);
  EXPECT_EQ(c.pipeline.queue_depth, 64u);
  EXPECT_EQ(c.pipeline.threads, 0u);
  EXPECT_FALSE(c.pipeline.direct_io);
  EXPECT_EQ(c.pipeline.ring_setup, io::RingSetup::automatic);

  EXPECT_EQ(c.hash.algorithms, std::vector<stages::HashAlgorithm>{stages::HashAlgorithm::xxh3_128});
  EXPECT_EQ(c.compress.level, 3);

  EXPECT_EQ(c.output.dir, dir_ / "out");
  EXPECT_EQ(c.output.manifest, dir_ / "out/manifest.json");
  EXPECT_EQ(c.output.checksums, dir_ / "out/checksums.xxh128");
  EXPECT_FALSE(c.output.fsync);
  EXPECT_TRUE(c.output.resume);

  EXPECT_EQ(c.upload.url, "file:///srv/artifacts");
  EXPECT_EQ(c.upload.endpoint, "");
  EXPECT_EQ(c.upload.region, "us-east-1");
  EXPECT_EQ(c.upload.layout, stages::UploadLayout::mirror);
  EXPECT_TRUE(c.upload.skip_existing);
  EXPECT_EQ(c.upload.checksum, stages::TransportChecksum::md5);
  EXPECT_EQ(c.upload.concurrency, 16u);
  EXPECT_EQ(c.upload.part_size, 16 * kMiB);
  EXPECT_EQ(c.upload.multipart_threshold, 64 * kMiB);
  EXPECT_EQ(c.upload.retries, 5u);
  EXPECT_EQ(c.upload.timeout, 60s);
  EXPECT_EQ(c.upload.bandwidth_limit, 0u);

  EXPECT_EQ(c.report.progress_interval, 5s);
  EXPECT_TRUE(c.report.events.empty());
  EXPECT_TRUE(c.report.prometheus.empty());
}

TEST_F(ConfigTest, EmptyFileTakesTheDefaultInputArtifacts) {
  const Config c = ok("");
  ASSERT_EQ(c.input.paths.size(), 1u);
  EXPECT_EQ(c.input.paths[0], dir_ / "artifacts");
}

TEST_F(ConfigTest, EmptyFileWithoutArtifactsSaysSoWithoutALine) {
  fs::remove(dir_ / "artifacts");
  EXPECT_EQ(error(""), file_.string() + ": input.paths: 'artifacts' does not exist");
}

TEST_F(ConfigTest, EveryKeyIsRead) {
  fs::create_directory(dir_ / "more");
  const Config c = ok(R"(
[input]
paths = ["artifacts", "more"]
include = ["**/*.log", "*.txt"]
exclude = ["tmp/**"]
hidden = false
follow_symlinks = true
if_no_files = "warn"

[pipeline]
stages = ["hash", "upload"]
memory_limit = "1GiB"
chunk_size = 1048576
queue_depth = 128
threads = 8
direct_io = true
sqpoll = true

[hash]
algorithms = ["xxh3-128", "xxh64", "sha256"]

[compress]
level = -5

[output]
dir = "/tmp/piperun-out"
manifest = "reports/manifest.json"
checksums = "reports/sums.xxh128"
fsync = true
resume = false

[upload]
url = "https://example.com/store"
endpoint = "http://127.0.0.1:9000"
region = "eu-west-3"
layout = "content"
skip_existing = false
checksum = "crc64nvme"
concurrency = 4
part_size = "8MiB"
multipart_threshold = "100MB"
retries = 0
timeout = "1m30s"
bandwidth_limit = "100MiB"

[report]
progress_interval = "500ms"
events = "logs/events.jsonl"
prometheus = "/var/lib/node_exporter/piperun.prom"
)");
  EXPECT_EQ(c.input.paths, (std::vector<fs::path>{dir_ / "artifacts", dir_ / "more"}));
  EXPECT_EQ(c.input.include, (std::vector<std::string>{"**/*.log", "*.txt"}));
  EXPECT_EQ(c.input.exclude, std::vector<std::string>{"tmp/**"});
  EXPECT_FALSE(c.input.hidden);
  EXPECT_TRUE(c.input.follow_symlinks);
  EXPECT_EQ(c.input.if_no_files, pipeline::IfNoFiles::warn);

  EXPECT_EQ(c.pipeline.stages, (std::vector<std::string>{"hash", "upload"}));
  EXPECT_EQ(c.pipeline.memory_limit, 1024 * kMiB);
  EXPECT_EQ(c.pipeline.chunk_size, kMiB);
  EXPECT_EQ(c.pipeline.queue_depth, 128u);
  EXPECT_EQ(c.pipeline.threads, 8u);
  EXPECT_TRUE(c.pipeline.direct_io);
  EXPECT_EQ(c.pipeline.ring_setup, io::RingSetup::sqpoll);

  EXPECT_EQ(c.hash.algorithms, (std::vector<stages::HashAlgorithm>{stages::HashAlgorithm::xxh3_128,
                                                                   stages::HashAlgorithm::xxh64,
                                                                   stages::HashAlgorithm::sha256}));
  EXPECT_EQ(c.compress.level, -5);

  EXPECT_EQ(c.output.dir, fs::path("/tmp/piperun-out"));
  EXPECT_EQ(c.output.manifest, dir_ / "reports/manifest.json");
  EXPECT_EQ(c.output.checksums, dir_ / "reports/sums.xxh128");
  EXPECT_TRUE(c.output.fsync);
  EXPECT_FALSE(c.output.resume);

  EXPECT_EQ(c.upload.url, "https://example.com/store");
  EXPECT_EQ(c.upload.endpoint, "http://127.0.0.1:9000");
  EXPECT_EQ(c.upload.region, "eu-west-3");
  EXPECT_EQ(c.upload.layout, stages::UploadLayout::content);
  EXPECT_FALSE(c.upload.skip_existing);
  EXPECT_EQ(c.upload.checksum, stages::TransportChecksum::crc64nvme);
  EXPECT_EQ(c.upload.concurrency, 4u);
  EXPECT_EQ(c.upload.part_size, 8 * kMiB);
  EXPECT_EQ(c.upload.multipart_threshold, 100'000'000u);
  EXPECT_EQ(c.upload.retries, 0u);
  EXPECT_EQ(c.upload.timeout, 90s);
  EXPECT_EQ(c.upload.bandwidth_limit, 100 * kMiB);

  EXPECT_EQ(c.report.progress_interval, 500ms);
  EXPECT_EQ(c.report.events, dir_ / "logs/events.jsonl");
  EXPECT_EQ(c.report.prometheus, fs::path("/var/lib/node_exporter/piperun.prom"));
}

TEST_F(ConfigTest, EmptyStageListIsAReadBenchmark) {
  EXPECT_TRUE(ok(std::string(kMinimal) + "[pipeline]\nstages = []\n").pipeline.stages.empty());
}

TEST_F(ConfigTest, StagesNotBuiltYetAreStillValidNames) {
  const Config c = ok(std::string(kMinimal) +
                      "[pipeline]\nstages = [\"hash\", \"compress\", \"write\", \"upload\"]\n");
  EXPECT_EQ(c.pipeline.stages.size(), 4u);
}

TEST_F(ConfigTest, LevelZeroMeansZstdsDefault) {
  EXPECT_EQ(ok(std::string(kMinimal) + "[compress]\nlevel = 0\n").compress.level, 3);
  EXPECT_EQ(ok(std::string(kMinimal) + "[compress]\nlevel = 19\n").compress.level, 19);
  EXPECT_EQ(ok(std::string(kMinimal) + "[compress]\nlevel = -100\n").compress.level, -100);
}

TEST_F(ConfigTest, SizesTakeIntegersAndUnits) {
  auto chunk = [&](const std::string& value) {
    return ok(std::string(kMinimal) + "[pipeline]\nchunk_size = " + value + "\n")
        .pipeline.chunk_size;
  };
  EXPECT_EQ(chunk("65536"), 65536u);
  EXPECT_EQ(chunk("\"64KiB\""), 65536u);
  EXPECT_EQ(chunk("\"4 MiB\""), 4 * kMiB);
  EXPECT_EQ(chunk("\"8M\""), 8 * kMiB);
  EXPECT_EQ(chunk("\"1.5MiB\""), 3 * kMiB / 2);
  EXPECT_EQ(chunk("\"128MiB\""), 128 * kMiB);
}

TEST_F(ConfigTest, DurationsTakeIntegerSecondsAndUnits) {
  auto timeout = [&](const std::string& value) {
    return ok(std::string(kMinimal) + "[upload]\ntimeout = " + value + "\n").upload.timeout;
  };
  EXPECT_EQ(timeout("30"), 30s);
  EXPECT_EQ(timeout("\"30s\""), 30s);
  EXPECT_EQ(timeout("\"500ms\""), 500ms);
  EXPECT_EQ(timeout("\"2m\""), 2min);
  EXPECT_EQ(timeout("\"1h\""), 1h);
}

TEST_F(ConfigTest, BandwidthLimitEmptyMeansNone) {
  EXPECT_EQ(ok(std::string(kMinimal) + "[upload]\nbandwidth_limit = \"\"\n").upload.bandwidth_limit,
            0u);
  EXPECT_EQ(ok(std::string(kMinimal) + "[upload]\nbandwidth_limit = 1000\n").upload.bandwidth_limit,
            1000u);
}

TEST_F(ConfigTest, UrlForms) {
  auto url = [&](const std::string& value) {
    return ok(std::string(kMinimal) + "[upload]\nurl = \"" + value + "\"\n").upload.url;
  };
  EXPECT_EQ(url("s3://my-bucket"), "s3://my-bucket");
  EXPECT_EQ(url("s3://my.bucket-1/some/prefix"), "s3://my.bucket-1/some/prefix");
  EXPECT_EQ(url("S3://my-bucket/p"), "s3://my-bucket/p");  // schemes are case-insensitive
  EXPECT_EQ(url("http://localhost:8080/put"), "http://localhost:8080/put");
  EXPECT_EQ(url("https://[::1]:8443/x"), "https://[::1]:8443/x");
  EXPECT_EQ(url("file:///srv/store"), "file:///srv/store");
}

// ---------------------------------------------------------------------------------------------
// Unknown names.

TEST_F(ConfigTest, UnknownKeySuggestsTheClosest) {
  EXPECT_EQ(error("[input]\npaths = [\"artifacts\"]\n[pipeline]\nmemory_limt = \"1GiB\"\n"),
            at(4) +
                "pipeline.memory_limt: unknown key 'memory_limt' (did you mean "
                "'memory_limit'?)");
}

TEST_F(ConfigTest, UnknownKeyWithoutAnythingClose) {
  EXPECT_EQ(error(std::string(kMinimal) + "[output]\n\ncolour = \"blue\"\n"),
            at(5) + "output.colour: unknown key 'colour'");
}

TEST_F(ConfigTest, KeyInTheWrongSectionNamesItsSection) {
  EXPECT_EQ(error(std::string(kMinimal) + "[pipeline]\nlevel = 5\n"),
            at(4) + "pipeline.level: unknown key 'level' (did you mean 'compress.level'?)");
}

TEST_F(ConfigTest, SecretsInTheFileAreUnknownKeys) {
  const std::string message =
      error(std::string(kMinimal) + "[upload]\nurl = \"s3://bucket\"\nsecret_key = \"xyz\"\n");
  EXPECT_EQ(message.rfind(at(5) + "upload.secret_key: unknown key 'secret_key'", 0), 0u) << message;
  EXPECT_NE(message.find("AWS_SECRET_ACCESS_KEY"), std::string::npos) << message;
  EXPECT_EQ(error(std::string(kMinimal) + "[upload]\naccess_key = \"abc\"\n")
                .rfind(at(4) + "upload.access_key: unknown key 'access_key'", 0),
            0u);
}

TEST_F(ConfigTest, UnknownSectionSuggestsTheClosest) {
  EXPECT_EQ(error(std::string(kMinimal) + "\n[uplaod]\nurl = \"file:///x\"\n"),
            at(4) + "uplaod: unknown section 'uplaod' (did you mean 'upload'?)");
  EXPECT_EQ(error(std::string(kMinimal) + "[database]\nhost = \"x\"\n"),
            at(3) + "database: unknown section 'database'");
}

TEST_F(ConfigTest, KeyAboveEverySectionHeader) {
  EXPECT_EQ(error("paths = [\"artifacts\"]\n"),
            at(1) + "paths: unknown section 'paths' (did you mean 'input.paths'?)");
}

TEST_F(ConfigTest, SectionThatIsNotATable) {
  EXPECT_EQ(error("input = 3\n"), at(1) + "input: expected a table, got integer");
}

// ---------------------------------------------------------------------------------------------
// Wrong types.

TEST_F(ConfigTest, WrongTypes) {
  EXPECT_EQ(error(std::string(kMinimal) + "[pipeline]\nqueue_depth = \"64\"\n"),
            at(4) + "pipeline.queue_depth: expected an integer, got string");
  EXPECT_EQ(error("[input]\npaths = [\"artifacts\"]\nhidden = 1\n"),
            at(3) + "input.hidden: expected a boolean (true or false), got integer");
  EXPECT_EQ(error("[input]\npaths = \"artifacts\"\n"),
            at(2) + "input.paths: expected an array of strings, got string");
  EXPECT_EQ(error(std::string(kMinimal) + "[pipeline]\nstages = [\"hash\",\n  2]\n"),
            at(5) + "pipeline.stages: element 2: expected a string, got integer");
  EXPECT_EQ(error(std::string(kMinimal) + "[upload]\nregion = 1.5\n"),
            at(4) + "upload.region: expected a string, got float");
  EXPECT_EQ(error(std::string(kMinimal) + "[pipeline]\nchunk_size = 1.5\n"),
            at(4) +
                "pipeline.chunk_size: expected a size (bytes, or a string such as \"4MiB\"), "
                "got float");
  EXPECT_EQ(error(std::string(kMinimal) + "[upload]\ntimeout = true\n"),
            at(4) +
                "upload.timeout: expected a duration (a string such as \"30s\", or whole "
                "seconds), got boolean");
  EXPECT_EQ(error(std::string(kMinimal) + "[upload]\nlayout = [\"mirror\"]\n"),
            at(4) + "upload.layout: expected a string, got array");
  EXPECT_EQ(error(std::string(kMinimal) + "[output]\ndir = 1979-05-27\n"),
            at(4) + "output.dir: expected a string, got date");
}

// ---------------------------------------------------------------------------------------------
// Bad values.

TEST_F(ConfigTest, BadSize) {
  EXPECT_EQ(error(std::string(kMinimal) + "[pipeline]\nchunk_size = \"4XB\"\n"),
            at(4) +
                "pipeline.chunk_size: unknown unit 'XB' in '4XB' (units: B, K/KiB/KB, "
                "M/MiB/MB, G/GiB/GB, T/TiB/TB, P/PiB/PB)");
  EXPECT_EQ(error(std::string(kMinimal) + "[pipeline]\nmemory_limit = -1\n"),
            at(4) + "pipeline.memory_limit: a size cannot be negative, got -1");
  EXPECT_EQ(error(std::string(kMinimal) + "[upload]\npart_size = \"-8MiB\"\n"),
            at(4) + "upload.part_size: size '-8MiB' is negative");
  EXPECT_EQ(error(std::string(kMinimal) + "[upload]\npart_size = \"5.5\"\n"),
            at(4) + "upload.part_size: '5.5' is not a whole number of bytes");
  EXPECT_EQ(error(std::string(kMinimal) + "[upload]\nmultipart_threshold = \"99999999999PiB\"\n"),
            at(4) + "upload.multipart_threshold: size '99999999999PiB' is too large");
}

TEST_F(ConfigTest, BadDuration) {
  EXPECT_EQ(error(std::string(kMinimal) + "[upload]\ntimeout = \"5x\"\n"),
            at(4) + "upload.timeout: unknown unit 'x' in '5x' (units: ms, s, m, h)");
  EXPECT_EQ(error(std::string(kMinimal) + "[upload]\ntimeout = -3\n"),
            at(4) + "upload.timeout: a duration cannot be negative, got -3");
  EXPECT_EQ(error(std::string(kMinimal) + "[upload]\ntimeout = \"0s\"\n"),
            at(4) + "upload.timeout: must be greater than 0");
  EXPECT_EQ(error(std::string(kMinimal) + "[report]\nprogress_interval = \"50ms\"\n"),
            at(4) + "report.progress_interval: must be at least 100ms, got 50ms");
  EXPECT_EQ(error(std::string(kMinimal) + "[report]\nprogress_interval = \"soon\"\n")
                .rfind(at(4) + "report.progress_interval: 'soon' is not a duration", 0),
            0u);
}

TEST_F(ConfigTest, UnknownStage) {
  EXPECT_EQ(error(std::string(kMinimal) + "[pipeline]\nstages = [\"hash\", \"compres\"]\n"),
            at(4) +
                "pipeline.stages: unknown stage 'compres' (did you mean 'compress'?) "
                "(expected hash, compress, write or upload)");
  EXPECT_EQ(error(std::string(kMinimal) + "[pipeline]\nstages = [\"zip\"]\n"),
            at(4) +
                "pipeline.stages: unknown stage 'zip' (expected hash, compress, write or "
                "upload)");
}

TEST_F(ConfigTest, StagesOutOfOrder) {
  EXPECT_EQ(error(std::string(kMinimal) + "[pipeline]\nstages = [\"compress\",\n  \"hash\"]\n"),
            at(5) +
                "pipeline.stages: stage 'hash' must come before 'compress' (stages run in the "
                "order hash, compress, write, upload)");
  EXPECT_EQ(error(std::string(kMinimal) + "[pipeline]\nstages = [\"write\", \"compress\"]\n"),
            at(4) +
                "pipeline.stages: stage 'compress' must come before 'write' (stages run in the "
                "order hash, compress, write, upload)");
}

TEST_F(ConfigTest, DuplicateStage) {
  EXPECT_EQ(error(std::string(kMinimal) + "[pipeline]\nstages = [\n  \"hash\",\n  \"hash\",\n]\n"),
            at(6) + "pipeline.stages: stage 'hash' is listed twice");
}

TEST_F(ConfigTest, OutOfRangeIntegers) {
  EXPECT_EQ(error(std::string(kMinimal) + "[compress]\nlevel = 20\n"),
            at(4) + "compress.level: must be between -100 and 19, got 20");
  EXPECT_EQ(error(std::string(kMinimal) + "[compress]\nlevel = -101\n"),
            at(4) + "compress.level: must be between -100 and 19, got -101");
  EXPECT_EQ(error(std::string(kMinimal) + "[pipeline]\nqueue_depth = 0\n"),
            at(4) + "pipeline.queue_depth: must be between 1 and 4096, got 0");
  EXPECT_EQ(error(std::string(kMinimal) + "[pipeline]\nqueue_depth = 4097\n"),
            at(4) + "pipeline.queue_depth: must be between 1 and 4096, got 4097");
  EXPECT_EQ(error(std::string(kMinimal) + "[pipeline]\nthreads = 1025\n"),
            at(4) + "pipeline.threads: must be between 0 and 1024, got 1025");
  EXPECT_EQ(error(std::string(kMinimal) + "[pipeline]\nthreads = -1\n"),
            at(4) + "pipeline.threads: must be between 0 and 1024, got -1");
  EXPECT_EQ(error(std::string(kMinimal) + "[upload]\nconcurrency = 0\n"),
            at(4) + "upload.concurrency: must be between 1 and 1024, got 0");
  EXPECT_EQ(error(std::string(kMinimal) + "[upload]\nretries = 101\n"),
            at(4) + "upload.retries: must be between 0 and 100, got 101");
}

TEST_F(ConfigTest, OutOfRangeSizes) {
  EXPECT_EQ(error(std::string(kMinimal) + "[upload]\npart_size = \"4MiB\"\n"),
            at(4) + "upload.part_size: must be between 5MiB and 5GiB, got 4MiB");
  EXPECT_EQ(error(std::string(kMinimal) + "[upload]\npart_size = \"6GiB\"\n"),
            at(4) + "upload.part_size: must be between 5MiB and 5GiB, got 6GiB");
  EXPECT_EQ(error(std::string(kMinimal) + "[upload]\nmultipart_threshold = \"1MiB\"\n"),
            at(4) + "upload.multipart_threshold: must be at least 5MiB, got 1MiB");
  EXPECT_EQ(error(std::string(kMinimal) + "[pipeline]\nchunk_size = \"32KiB\"\n"),
            at(4) + "pipeline.chunk_size: must be between 64KiB and 256MiB, got 32KiB");
  EXPECT_EQ(error(std::string(kMinimal) + "[pipeline]\nchunk_size = \"512MiB\"\n"),
            at(4) + "pipeline.chunk_size: must be between 64KiB and 256MiB, got 512MiB");
  EXPECT_EQ(error(std::string(kMinimal) + "[pipeline]\nchunk_size = 65540\n"),
            at(4) + "pipeline.chunk_size: must be a multiple of 4096 (4KiB), got 65540");
  EXPECT_EQ(error(std::string(kMinimal) + "[pipeline]\nmemory_limit = \"2TiB\"\n"),
            at(4) + "pipeline.memory_limit: must be at most 1TiB, got 2TiB");
  EXPECT_EQ(error(std::string(kMinimal) + "[upload]\nbandwidth_limit = 0\n"),
            at(4) + "upload.bandwidth_limit: must be greater than 0 (use \"\" for no limit)");
}

TEST_F(ConfigTest, MemoryLimitMustHoldTwoChunks) {
  EXPECT_EQ(error(std::string(kMinimal) + "[pipeline]\nmemory_limit = \"3MiB\"\n"),
            at(4) +
                "pipeline.memory_limit: memory_limit (3MiB) must be at least twice "
                "chunk_size (2MiB)");
  // With only chunk_size written, that is the key to blame.
  EXPECT_EQ(error(std::string(kMinimal) + "[pipeline]\nchunk_size = \"256MiB\"\n"),
            at(4) +
                "pipeline.chunk_size: memory_limit (256MiB) must be at least twice "
                "chunk_size (256MiB)");
  ok(std::string(kMinimal) + "[pipeline]\nmemory_limit = \"4MiB\"\n");
}

TEST_F(ConfigTest, BadChoices) {
  EXPECT_EQ(error("[input]\npaths = [\"artifacts\"]\nif_no_files = \"fail\"\n"),
            at(3) + "input.if_no_files: 'fail' is not one of error, warn or ignore");
  EXPECT_EQ(error(std::string(kMinimal) + "[upload]\nlayout = \"flat\"\n"),
            at(4) + "upload.layout: 'flat' is not one of mirror or content");
  EXPECT_EQ(error(std::string(kMinimal) + "[upload]\nchecksum = \"crc32\"\n"),
            at(4) +
                "upload.checksum: 'crc32' is not one of md5, crc32c, crc64nvme, sha256, "
                "xxhash128 or none");
}

TEST_F(ConfigTest, MessagesStayOnOneLine) {
  EXPECT_EQ(error("[input]\npaths = [\"artifacts\"]\nif_no_files = \"a\\nb\\tc\"\n"),
            at(3) + "input.if_no_files: 'a\\nb\\tc' is not one of error, warn or ignore");
}

TEST_F(ConfigTest, BadAlgorithm) {
  EXPECT_EQ(
      error(std::string(kMinimal) + "[hash]\nalgorithms = [\"xxh3-128\", \"md5\"]\n"),
      at(4) + "hash.algorithms: unknown algorithm 'md5' (expected xxh3-128, xxh64 or sha256)");
  EXPECT_EQ(error(std::string(kMinimal) + "[hash]\nalgorithms = [\"xxh64\", \"xxh64\"]\n"),
            at(4) + "hash.algorithms: algorithm 'xxh64' is listed twice");
  EXPECT_EQ(error(std::string(kMinimal) + "[hash]\nalgorithms = []\n"),
            at(4) + "hash.algorithms: must list at least one of xxh3-128, xxh64 or sha256");
}

TEST_F(ConfigTest, UnsupportedUrlScheme) {
  EXPECT_EQ(error(std::string(kMinimal) + "[upload]\nurl = \"ftp://host/dir\"\n"),
            at(4) +
                "upload.url: unsupported URL scheme 'ftp' (expected s3://bucket/prefix, "
                "http(s)://host/path or file:///dir)");
  EXPECT_EQ(error(std::string(kMinimal) + "[upload]\nurl = \"/srv/store\"\n")
                .rfind(at(4) + "upload.url: '/srv/store' is not a URL", 0),
            0u);
}

TEST_F(ConfigTest, BadBucket) {
  EXPECT_EQ(error(std::string(kMinimal) + "[upload]\nurl = \"s3://My_Bucket/x\"\n"),
            at(4) +
                "upload.url: bucket name 'My_Bucket' may hold only lowercase letters, "
                "digits, '.' and '-'");
  EXPECT_EQ(error(std::string(kMinimal) + "[upload]\nurl = \"s3://ab\"\n"),
            at(4) + "upload.url: bucket name 'ab' must be 3 to 63 characters long");
  EXPECT_EQ(
      error(std::string(kMinimal) + "[upload]\nurl = \"s3://" + std::string(64, 'a') + "\"\n"),
      at(4) + "upload.url: bucket name '" + std::string(64, 'a') +
          "' must be 3 to 63 characters long");
  EXPECT_EQ(error(std::string(kMinimal) + "[upload]\nurl = \"s3://-bucket\"\n"),
            at(4) + "upload.url: bucket name '-bucket' must begin and end with a letter or digit");
  EXPECT_EQ(error(std::string(kMinimal) + "[upload]\nurl = \"s3:///prefix\"\n"),
            at(4) + "upload.url: URL 's3:///prefix' has no bucket");
}

TEST_F(ConfigTest, BadHttpAndFileUrls) {
  EXPECT_EQ(error(std::string(kMinimal) + "[upload]\nurl = \"https://\"\n"),
            at(4) + "upload.url: URL 'https://' has no host");
  EXPECT_EQ(error(std::string(kMinimal) + "[upload]\nurl = \"http://user:pw@host/x\"\n"),
            at(4) +
                "upload.url: URL 'http://***@host/x' must not hold credentials "
                "(user@host): secrets come from the environment (PIPE_RUN_HTTP_AUTH=user:password, "
                "or ~/.netrc)");
  EXPECT_EQ(error(std::string(kMinimal) + "[upload]\nurl = \"file://srv/store\"\n"),
            at(4) +
                "upload.url: URL 'file://srv/store' needs an absolute path: file:///dir "
                "(three slashes)");
}

TEST_F(ConfigTest, BadEndpoint) {
  EXPECT_EQ(error(std::string(kMinimal) + "[upload]\nendpoint = \"127.0.0.1:9000\"\n"),
            at(4) +
                "upload.endpoint: endpoint '127.0.0.1:9000' must be http://host[:port] or "
                "https://host[:port]");
  EXPECT_EQ(error(std::string(kMinimal) + "[upload]\nendpoint = \"http://h:99999\"\n"),
            at(4) + "upload.endpoint: endpoint 'http://h:99999' has a bad port '99999'");
  EXPECT_EQ(error(std::string(kMinimal) + "[upload]\nendpoint = \"http://h/bucket\"\n"),
            at(4) +
                "upload.endpoint: endpoint 'http://h/bucket' must not have a path (the "
                "bucket goes in upload.url)");
  EXPECT_EQ(
      ok(std::string(kMinimal) + "[upload]\nendpoint = \"https://minio.local/\"\n").upload.endpoint,
      "https://minio.local/");
}

TEST_F(ConfigTest, EmptyValuesWhereAValueIsNeeded) {
  EXPECT_EQ(error(std::string(kMinimal) + "[output]\ndir = \"\"\n"),
            at(4) + "output.dir: must not be empty");
  EXPECT_EQ(error(std::string(kMinimal) + "[upload]\nregion = \"\"\n"),
            at(4) + "upload.region: must not be empty");
  EXPECT_EQ(error("[input]\npaths = []\n"),
            at(2) + "input.paths: must list at least one file or directory");
}

TEST_F(ConfigTest, SyntaxError) {
  const std::string message = error("[input]\npaths = [\"artifacts\"]\n\nhidden = yes\n");
  EXPECT_EQ(message.rfind(at(4) + "syntax error: ", 0), 0u) << message;
}

TEST_F(ConfigTest, SyntaxErrorDuplicateKey) {
  const std::string message = error("[input]\npaths = [\"artifacts\"]\npaths = [\"x\"]\n");
  EXPECT_EQ(message.rfind(at(3) + "syntax error: ", 0), 0u) << message;
}

TEST_F(ConfigTest, MissingConfigFile) {
  const auto config = load_config(dir_ / "absent.toml", {});
  ASSERT_FALSE(config.has_value());
  EXPECT_EQ(config.error().message,
            (dir_ / "absent.toml").string() + ": cannot open: No such file or directory");
}

TEST_F(ConfigTest, ConfigFileIsADirectory) {
  const auto config = load_config(dir_ / "artifacts", {});
  ASSERT_FALSE(config.has_value());
  EXPECT_EQ(config.error().message,
            (dir_ / "artifacts").string() + ": is a directory, not a TOML file");
}

TEST_F(ConfigTest, FirstProblemByLineIsReported) {
  EXPECT_EQ(error("[input]\npaths = [\"artifacts\"]\n[pipeline]\nthreads = -1\nqueue_depth = 0\n"
                  "[compress]\nlevel = 99\n[hash]\nalgorithms = [\"md4\"]\n"),
            at(4) + "pipeline.threads: must be between 0 and 1024, got -1");
}

// ---------------------------------------------------------------------------------------------
// Checks against the filesystem and the environment.

TEST_F(ConfigTest, MissingInput) {
  EXPECT_EQ(error("[input]\npaths = [\n  \"artifacts\",\n  \"missing\",\n]\n"),
            at(4) + "input.paths: 'missing' does not exist");
  EXPECT_EQ(error("[input]\npaths = [\"artifacts/nothing/below\"]\n"),
            at(2) + "input.paths: 'artifacts/nothing/below' does not exist");
}

TEST_F(ConfigTest, InputThatIsNotAFileOrDirectory) {
  ASSERT_EQ(::mkfifo((dir_ / "fifo").c_str(), 0600), 0);
  EXPECT_EQ(error("[input]\npaths = [\"fifo\"]\n"),
            at(2) + "input.paths: 'fifo' is not a file or directory");
}

TEST_F(ConfigTest, InputThatIsAFile) {
  std::ofstream(dir_ / "one.bin") << "x";
  const Config c = ok("[input]\npaths = [\"one.bin\"]\n");
  EXPECT_EQ(c.input.paths, std::vector<fs::path>{dir_ / "one.bin"});
}

TEST_F(ConfigTest, OverlappingInputs) {
  fs::create_directories(dir_ / "artifacts/sub");
  EXPECT_EQ(error("[input]\npaths = [\"artifacts\", \"./artifacts/\"]\n"),
            at(2) + "input.paths: './artifacts/' is listed twice");
  EXPECT_EQ(error("[input]\npaths = [\"artifacts\", \"artifacts/sub\"]\n"),
            at(2) + "input.paths: 'artifacts/sub' lies inside input 'artifacts'");
  EXPECT_EQ(error("[input]\npaths = [\"artifacts/sub\", \"artifacts\"]\n"),
            at(2) + "input.paths: 'artifacts' holds input 'artifacts/sub'");
}

TEST_F(ConfigTest, InputsWithTheSameName) {
  fs::create_directories(dir_ / "a/data");
  fs::create_directories(dir_ / "b/data");
  EXPECT_EQ(error("[input]\npaths = [\"a/data\", \"b/data\"]\n"),
            at(2) +
                "input.paths: 'b/data' and 'a/data' have the same name 'data', which "
                "prefixes their paths in the manifest");
}

TEST_F(ConfigTest, OutputInsideInput) {
  EXPECT_EQ(error(std::string(kMinimal) + "[output]\ndir = \"artifacts/out\"\n"),
            at(4) + "output.dir: 'artifacts/out' lies inside input 'artifacts'");
  EXPECT_EQ(error(std::string(kMinimal) + "[output]\ndir = \"artifacts\"\n"),
            at(4) + "output.dir: 'artifacts' lies inside input 'artifacts'");
  // The default output dir "out" lies inside the input ".".
  EXPECT_EQ(error("[input]\npaths = [\".\"]\n"),
            file_.string() + ": output.dir: 'out' lies inside input '.'");
}

TEST_F(ConfigTest, OutputInsideInputThroughASymlink) {
  fs::create_directory_symlink(dir_ / "artifacts", dir_ / "link");
  EXPECT_EQ(error(std::string(kMinimal) + "[output]\ndir = \"link/out\"\n"),
            at(4) + "output.dir: 'link/out' lies inside input 'artifacts'");
}

TEST_F(ConfigTest, OutputInsideInputIsFineWithoutTheWriteStage) {
  const Config c = ok(std::string(kMinimal) +
                      "[pipeline]\nstages = [\"hash\"]\n[output]\ndir = \"artifacts/out\"\n");
  EXPECT_EQ(c.output.dir, dir_ / "artifacts/out");
}

TEST_F(ConfigTest, S3NeedsCredentialsWhenUploading) {
  const std::string text = std::string(kMinimal) +
                           "[pipeline]\nstages = [\"hash\", \"upload\"]\n"
                           "[upload]\nurl = \"s3://my-bucket/ci\"\n";
  {
    ScopedEnv key("AWS_ACCESS_KEY_ID", nullptr);
    ScopedEnv secret("AWS_SECRET_ACCESS_KEY", nullptr);
    EXPECT_EQ(error(text), at(6) +
                               "upload.url: s3 needs AWS_ACCESS_KEY_ID and "
                               "AWS_SECRET_ACCESS_KEY in the environment");
  }
  {
    ScopedEnv key("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE");
    ScopedEnv secret("AWS_SECRET_ACCESS_KEY", nullptr);
    EXPECT_EQ(error(text), at(6) +
                               "upload.url: s3 needs AWS_ACCESS_KEY_ID and "
                               "AWS_SECRET_ACCESS_KEY in the environment");
  }
  {
    ScopedEnv key("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE");
    ScopedEnv secret("AWS_SECRET_ACCESS_KEY", "");
    EXPECT_FALSE(load(text).has_value());
  }
  {
    ScopedEnv key("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE");
    ScopedEnv secret("AWS_SECRET_ACCESS_KEY", "secret");
    EXPECT_EQ(ok(text).upload.url, "s3://my-bucket/ci");
  }
}

TEST_F(ConfigTest, S3WithoutTheUploadStageNeedsNoCredentials) {
  ScopedEnv key("AWS_ACCESS_KEY_ID", nullptr);
  ScopedEnv secret("AWS_SECRET_ACCESS_KEY", nullptr);
  ok(std::string(kMinimal) + "[upload]\nurl = \"s3://my-bucket/ci\"\n");
}

TEST_F(ConfigTest, BadGlob) {
  const std::string message =
      error("[input]\npaths = [\"artifacts\"]\ninclude = [\"**\", \"src/[a-z\"]\n");
  EXPECT_EQ(message.rfind(at(3) + "input.include: ", 0), 0u) << message;
  EXPECT_NE(message.find("src/[a-z"), std::string::npos) << message;
  const std::string empty = error("[input]\npaths = [\"artifacts\"]\n\nexclude = [\"\"]\n");
  EXPECT_EQ(empty.rfind(at(4) + "input.exclude: pattern '': ", 0), 0u) << empty;
}

// ---------------------------------------------------------------------------------------------
// Overrides.

TEST_F(ConfigTest, OverrideWithATomlValue) {
  const Config c = ok(std::string(kMinimal) + "[pipeline]\nqueue_depth = 8\n",
                      {"pipeline.queue_depth=32", "pipeline.direct_io=true"});
  EXPECT_EQ(c.pipeline.queue_depth, 32u);
  EXPECT_TRUE(c.pipeline.direct_io);
}

TEST_F(ConfigTest, OverrideWithABareWordIsAString) {
  const Config c =
      ok(kMinimal, {"input.if_no_files=warn", "pipeline.chunk_size=1MiB", "upload.timeout=2m",
                    "output.dir=elsewhere/out", "upload.url=s3://bucket-x/p"});
  EXPECT_EQ(c.input.if_no_files, pipeline::IfNoFiles::warn);
  EXPECT_EQ(c.pipeline.chunk_size, kMiB);
  EXPECT_EQ(c.upload.timeout, 2min);
  EXPECT_EQ(c.output.dir, dir_ / "elsewhere/out");
  EXPECT_EQ(c.upload.url, "s3://bucket-x/p");
}

TEST_F(ConfigTest, OverrideWithAnArray) {
  const Config c = ok(std::string(kMinimal) + "[pipeline]\nstages = [\"hash\", \"compress\"]\n",
                      {R"(pipeline.stages=["hash"])", R"(hash.algorithms=["xxh64", "sha256"])"});
  EXPECT_EQ(c.pipeline.stages, std::vector<std::string>{"hash"});
  EXPECT_EQ(c.hash.algorithms, (std::vector<stages::HashAlgorithm>{stages::HashAlgorithm::xxh64,
                                                                   stages::HashAlgorithm::sha256}));
}

TEST_F(ConfigTest, OverrideIntoASectionTheFileLacks) {
  EXPECT_EQ(ok(kMinimal, {"compress.level=7"}).compress.level, 7);
  EXPECT_EQ(ok(kMinimal, {"report.events="}).report.events, fs::path());
  EXPECT_EQ(ok(kMinimal, {"report.events=ev.jsonl"}).report.events, dir_ / "ev.jsonl");
}

TEST_F(ConfigTest, OverrideCanSetTheInputs) {
  fs::create_directory(dir_ / "other");
  const Config c = ok("", {R"(input.paths=["other"])"});
  EXPECT_EQ(c.input.paths, std::vector<fs::path>{dir_ / "other"});
}

TEST_F(ConfigTest, OverrideNameMayHaveBlanksAroundIt) {
  EXPECT_EQ(ok(kMinimal, {" pipeline.threads = 6"}).pipeline.threads, 6u);
}

TEST_F(ConfigTest, LastOverrideWins) {
  EXPECT_EQ(ok(kMinimal, {"pipeline.threads=2", "pipeline.threads=3"}).pipeline.threads, 3u);
}

TEST_F(ConfigTest, OverriddenValueIsValidatedAndNamedAsSet) {
  EXPECT_EQ(error(kMinimal, {"pipeline.queue_depth=0"}),
            "--set pipeline.queue_depth: must be between 1 and 4096, got 0");
  EXPECT_EQ(error(kMinimal, {"pipeline.stages=hash"}),
            "--set pipeline.stages: expected an array of strings, got string");
  EXPECT_EQ(error(kMinimal, {R"(pipeline.stages=["hash", "hash"])"}),
            "--set pipeline.stages: stage 'hash' is listed twice");
  EXPECT_EQ(error(kMinimal, {"upload.url=ftp://x"})
                .rfind("--set upload.url: unsupported URL scheme 'ftp'", 0),
            0u);
  EXPECT_EQ(error(kMinimal, {R"(input.paths=["nowhere"])"}),
            "--set input.paths: 'nowhere' does not exist");
}

TEST_F(ConfigTest, OverrideProblemsComeBeforeTheFilesOwn) {
  EXPECT_EQ(error(std::string(kMinimal) + "[pipeline]\nthreads = -1\n", {"compress.level=50"}),
            "--set compress.level: must be between -100 and 19, got 50");
}

TEST_F(ConfigTest, OverrideFixesABadFileValue) {
  EXPECT_EQ(ok(std::string(kMinimal) + "[pipeline]\nthreads = -1\n", {"pipeline.threads=4"})
                .pipeline.threads,
            4u);
}

TEST_F(ConfigTest, MalformedOverrides) {
  EXPECT_EQ(error(kMinimal, {"pipeline.threads"}),
            "--set 'pipeline.threads': expected section.key=value");
  EXPECT_EQ(error(kMinimal, {"threads=4"}), "--set 'threads=4': expected section.key=value");
  EXPECT_EQ(error(kMinimal, {".threads=4"}), "--set '.threads=4': expected section.key=value");
  EXPECT_EQ(error(kMinimal, {"pipeline.=4"}), "--set 'pipeline.=4': expected section.key=value");
  EXPECT_EQ(error(kMinimal, {"pipelin.threads=4"}),
            "--set pipelin.threads: unknown section 'pipelin' (did you mean 'pipeline'?)");
  EXPECT_EQ(error(kMinimal, {"pipeline.thread=4"}),
            "--set pipeline.thread: unknown key 'thread' (did you mean 'threads'?)");
  EXPECT_EQ(error(kMinimal, {"upload.secret_key=abc"})
                .rfind("--set upload.secret_key: unknown key 'secret_key' (secrets come from the "
                       "environment",
                       0),
            0u);
}

// ---------------------------------------------------------------------------------------------
// Paths.

TEST_F(ConfigTest, RelativePathsResolveAgainstTheConfigFolder) {
  fs::create_directories(dir_ / "conf");
  fs::create_directories(dir_ / "data/set");
  file_ = dir_ / "conf/pipe.toml";
  const Config c = ok(R"(
[input]
paths = ["../data/./set/", ")" +
                      (dir_ / "artifacts").string() + R"("]
[output]
dir = "../out/"
manifest = "m.json"
checksums = "/abs/sums.xxh128"
[report]
events = "../logs/events.jsonl"
prometheus = ""
)");
  EXPECT_EQ(c.file, dir_ / "conf/pipe.toml");
  EXPECT_EQ(c.input.paths, (std::vector<fs::path>{dir_ / "data/set", dir_ / "artifacts"}));
  EXPECT_EQ(c.output.dir, dir_ / "out");
  EXPECT_EQ(c.output.manifest, dir_ / "conf/m.json");
  EXPECT_EQ(c.output.checksums, fs::path("/abs/sums.xxh128"));
  EXPECT_EQ(c.report.events, dir_ / "logs/events.jsonl");
  EXPECT_TRUE(c.report.prometheus.empty());
}

TEST_F(ConfigTest, RelativeConfigPathIsShownAsGivenAndResolvedAbsolute) {
  write("[input]\npaths = [\"artifacts\"]\n[pipeline]\nthreads = \"many\"\n");
  const fs::path previous = fs::current_path();
  fs::current_path(dir_);
  const auto bad = load_config("pipe.toml", {});
  write(kMinimal);
  const auto good = load_config("./pipe.toml", {});
  fs::current_path(previous);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().message, "pipe.toml:4: pipeline.threads: expected an integer, got string");
  ASSERT_TRUE(good.has_value()) << good.error().message;
  EXPECT_EQ(good->file, file_);
  EXPECT_EQ(good->input.paths, std::vector<fs::path>{dir_ / "artifacts"});
  EXPECT_EQ(good->output.dir, dir_ / "out");
}

}  // namespace
}  // namespace piperun::cli
