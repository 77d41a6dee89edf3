// --shard K/N and --dry-run, through the real binary: shards of one tree together record every
// entry exactly once (checked against a full run and against the documented hash, computed by
// xxhsum), and a dry run writes nothing, contacts nothing and counts what a real run records.
#include <arpa/inet.h>
#include <cerrno>
#include <cstdint>
#include <map>
#include <netinet/in.h>
#include <set>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/harness.hpp"

namespace piperun::itest {
namespace {

// A manifest record's path as exact bytes (path_base64 when the name is not UTF-8).
std::string record_path(const nlohmann::json& record) {
  if (record.contains("path_base64"))
    return base64_decode(record["path_base64"].get<std::string>());
  return record["path"].get<std::string>();
}

// path -> status of every record of a manifest.
std::map<std::string, std::string> records_of(const fs::path& manifest) {
  std::map<std::string, std::string> records;
  const nlohmann::json document = read_json(manifest);
  for (const auto& record : document["files"]) {
    EXPECT_TRUE(records.emplace(record_path(record), record["status"].get<std::string>()).second)
        << "recorded twice: " << record["path"];
  }
  return records;
}

// Two roots (so paths carry the root's folder name) with nested files, a name with spaces, one
// that is not UTF-8, symlinks and a FIFO.
void make_two_roots(Job& job) {
  for (const char* root : {"alpha", "beta"}) {
    const std::string base = std::string(root) + "/";
    for (int i = 0; i < 24; ++i) {
      job.file(base + "dir " + std::to_string(i % 4) + "/file " + std::to_string(i) + ".txt",
               random_bytes(100 + 37 * i, i));
    }
    job.file(base + "caf\xe9 menu.txt", "latin-1 name\n");
    job.file(base + ".hidden", "dotfile\n");
    fs::create_symlink("dir 0", job.root() / root / "link to dir");
    fs::create_symlink("caf\xe9 menu.txt", job.root() / root / "link to menu");
    ASSERT_EQ(::mkfifo((job.root() / root / "pipe").c_str(), 0600), 0);
  }
  job.set("input", "paths",
          "[" + toml_string((job.root() / "alpha").string()) + ", " +
              toml_string((job.root() / "beta").string()) + "]");
}

// The run of shard `index` of `count`, with a manifest and checksum file of its own.
RunResult run_shard(const Job& job, int index, int count, const std::string& name) {
  return job.run_pipe({"--shard", std::to_string(index) + "/" + std::to_string(count), "--set",
                       "output.manifest=" + (job.out() / (name + ".json")).string(), "--set",
                       "output.checksums=" + (job.out() / (name + ".xxh128")).string()});
}

// XXH64 (seed 0) of each path, as `xxhsum -H1` prints it for a file holding the path's bytes.
std::map<std::string, std::uint64_t> xxh64_by_xxhsum(const std::set<std::string>& paths) {
  TempDir dir;
  std::vector<std::string> argv{"xxhsum", "-H1"};
  std::map<std::string, std::string> path_of_file;
  for (const std::string& path : paths) {
    const std::string name = "p" + std::to_string(path_of_file.size());
    write_file(dir / name, path);
    path_of_file[name] = path;
    argv.push_back(name);
  }
  const RunResult result = run(argv, RunOptions{.cwd = dir.path()});
  EXPECT_EQ(result.exit_code, 0) << result.describe();
  std::map<std::string, std::uint64_t> hashes;
  std::istringstream lines(result.out);
  std::string hex;
  std::string name;
  while (lines >> hex >> name)
    hashes[path_of_file.at(name)] = std::stoull(hex, nullptr, 16);
  EXPECT_EQ(hashes.size(), paths.size()) << result.describe();
  return hashes;
}

TEST(ItShard, ShardsTogetherRecordEveryEntryExactlyOnce) {
  Job job;
  make_two_roots(job);
  const RunResult full = job.run_pipe();
  ASSERT_EQ(full.exit_code, 0) << full.describe();
  const std::map<std::string, std::string> everything = records_of(job.manifest());
  ASSERT_EQ(everything.size(), 2u * (24 + 2 + 2 + 1));
  EXPECT_EQ(everything.count("alpha/caf\xe9 menu.txt"), 1u);

  std::map<std::string, std::string> united;
  std::map<std::string, int> shard_of;
  for (int index = 1; index <= 3; ++index) {
    const std::string name = "shard-" + std::to_string(index);
    const RunResult result = run_shard(job, index, 3, name);
    ASSERT_EQ(result.exit_code, 0) << result.describe();
    const fs::path manifest = job.out() / (name + ".json");
    EXPECT_EQ(read_json(manifest)["shard"], std::to_string(index) + "/3");
    const auto part = records_of(manifest);
    EXPECT_FALSE(part.empty()) << name;
    for (const auto& [path, status] : part) {
      EXPECT_TRUE(united.emplace(path, status).second) << "in two shards: " << path;
      shard_of[path] = index;
    }
    // The shard's checksum file lists its own files only.
    for (const auto& [path, digest] : checksum_map(job.out() / (name + ".xxh128")))
      EXPECT_EQ(shard_of.count(path) == 1 ? shard_of[path] : 0, index) << path;
  }
  EXPECT_EQ(united, everything);

  // The documented function: XXH64 of the manifest path, seed 0, mod N == K - 1.
  std::set<std::string> paths;
  for (const auto& [path, status] : everything)
    paths.insert(path);
  for (const auto& [path, hash] : xxh64_by_xxhsum(paths))
    EXPECT_EQ(static_cast<int>(hash % 3) + 1, shard_of[path]) << path;
}

TEST(ItShard, AFileKeepsItsShardFromRunToRunWhileTheTreeGrows) {
  Job job;
  make_two_roots(job);
  ASSERT_EQ(run_shard(job, 2, 3, "first").exit_code, 0);
  ASSERT_EQ(run_shard(job, 2, 3, "again").exit_code, 0);
  const auto first = records_of(job.out() / "first.json");
  EXPECT_EQ(records_of(job.out() / "again.json"), first);

  for (int i = 0; i < 30; ++i)
    job.file("alpha/new/" + std::to_string(i), "new\n");
  ASSERT_EQ(run_shard(job, 2, 3, "grown").exit_code, 0);
  const auto grown = records_of(job.out() / "grown.json");
  for (const auto& [path, status] : first)
    EXPECT_EQ(grown.count(path), 1u) << path;
  EXPECT_GT(grown.size(), first.size());
}

TEST(ItShard, BadValuesExitTwoAndWriteNothing) {
  Job job;
  job.file("a.txt", "alpha\n");
  for (const std::string value : {"0/3", "4/3", "a/b", "3", "1/0", "", "-1/3", "2/3/4"}) {
    const RunResult result = job.run_pipe({"--shard", value});
    EXPECT_EQ(result.exit_code, 2) << result.describe();
    EXPECT_TRUE(contains(result.err, "--shard: ")) << result.describe();
    EXPECT_FALSE(fs::exists(job.out())) << value;
  }
}

// A TCP port on 127.0.0.1 that listens, so any connection to it would be seen.
class Listener {
 public:
  Listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::runtime_error(std::string("listener: ") + std::strerror(errno));
    }
    port_ = ntohs(address.sin_port);
  }
  ~Listener() { ::close(fd_); }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  int port() const { return port_; }
  bool was_contacted() const {
    const int connection = ::accept(fd_, nullptr, nullptr);
    if (connection >= 0) ::close(connection);
    return connection >= 0;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// Every path under `dir`, to compare a tree before and after.
std::set<std::string> listing(const fs::path& dir) {
  std::set<std::string> paths;
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    paths.insert(entry.path().string());
  return paths;
}

// A job that would hash, compress, write and upload to an S3 endpoint at `port`.
void full_job(Job& job, int port) {
  job.set("pipeline", "stages", R"(["hash", "compress", "write", "upload"])");
  job.set("hash", "algorithms", R"(["xxh3-128", "sha256"])");
  job.set("output", "dir", toml_string(job.out().string()));
  job.set("upload", "url", toml_string("s3://bucket/prefix"));
  job.set("upload", "endpoint", toml_string("http://127.0.0.1:" + std::to_string(port)));
  job.set("upload", "layout", toml_string("content"));
}

// Runs the job with S3 credentials in the environment and a digest cache of its own.
RunResult run_with_credentials(const Job& job, const std::vector<std::string>& extra) {
  job.write_config();
  std::vector<std::string> argv{"env",
                                "AWS_ACCESS_KEY_ID=dry-run-key",
                                "AWS_SECRET_ACCESS_KEY=dry-run-secret",
                                "XDG_CACHE_HOME=" + (job.dir() / "cache").string(),
                                kBinary.string(),
                                job.config().string()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return run(argv);
}

RunResult run_dry(const Job& job, std::vector<std::string> extra = {}) {
  extra.insert(extra.begin(), "--dry-run");
  return run_with_credentials(job, extra);
}

TEST(ItDryRun, WritesNothingAndContactsNoServer) {
  Job job;
  for (int i = 0; i < 5; ++i)
    job.file("d/f" + std::to_string(i), random_bytes(5000, i));
  Listener server;
  full_job(job, server.port());
  job.write_config();
  const std::set<std::string> before = listing(job.dir());

  const RunResult result = run_dry(job, {"--json"});
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  EXPECT_EQ(listing(job.dir()), before);  // no output tree, manifest, temporary or cache
  EXPECT_FALSE(fs::exists(job.out()));
  EXPECT_FALSE(fs::exists(job.dir() / "cache"));
  EXPECT_FALSE(server.was_contacted());

  const nlohmann::json plan = nlohmann::json::parse(result.out);
  EXPECT_EQ(plan["dry_run"], true);
  EXPECT_EQ(plan["outputs"]["dir"], job.out().string());
  EXPECT_EQ(plan["outputs"]["manifest"], job.manifest().string());
  EXPECT_EQ(plan["outputs"]["checksums"],
            nlohmann::json({job.checksums().string(), job.checksums("sha256").string()}));
  EXPECT_EQ(plan["outputs"]["upload_url"], "s3://bucket/prefix");
  EXPECT_FALSE(contains(result.out + result.err, "dry-run-secret")) << result.describe();
  EXPECT_TRUE(contains(result.err, "s3://bucket/prefix")) << result.describe();

  // The control: a real run of the same job does reach the server (which never answers).
  job.set("upload", "retries", "0");
  job.set("upload", "timeout", toml_string("1s"));
  const RunResult real = run_with_credentials(job, {"-q"});
  EXPECT_NE(real.exit_code, 0) << real.describe();
  EXPECT_TRUE(server.was_contacted()) << real.describe();
}

TEST(ItDryRun, CountsWhatARealRunRecords) {
  Job job;
  make_two_roots(job);
  job.set("input", "exclude", R"(["**/file 1*"])");
  const RunResult dry = run_dry(job, {"--json"});
  ASSERT_EQ(dry.exit_code, 0) << dry.describe();
  EXPECT_FALSE(fs::exists(job.out()));
  const nlohmann::json plan = nlohmann::json::parse(dry.out);
  const nlohmann::json& counts = plan["counts"];

  const RunResult real = job.run_pipe();
  ASSERT_EQ(real.exit_code, 0) << real.describe();
  const nlohmann::json summary = read_json(job.manifest())["summary"];
  EXPECT_EQ(counts["total"], summary["files"]["total"]);
  EXPECT_EQ(counts["files"], summary["files"]["ok"]);
  EXPECT_EQ(counts["bytes"], summary["bytes_in"]);
  EXPECT_EQ(counts["symlinks"].get<int>() + counts["special"].get<int>(),
            summary["files"]["skipped"].get<int>());
  EXPECT_EQ(counts["symlinks"], 4);
  EXPECT_EQ(counts["special"], 2);
  EXPECT_EQ(counts["failed"], 0);

  // The human plan on stderr: the first ten entries, then how many more.
  const int total = counts["total"].get<int>();
  ASSERT_GT(total, 10);
  EXPECT_EQ(plan["first_entries"].size(), 10u);
  EXPECT_EQ(plan["more_entries"], total - 10);
  EXPECT_TRUE(contains(dry.err, "... and " + std::to_string(total - 10) + " more"))
      << dry.describe();
  EXPECT_TRUE(contains(dry.err, counts["files"].dump() + " files")) << dry.describe();
}

TEST(ItDryRun, QuietJsonPrintsOnlyTheDocument) {
  Job job;
  job.file("a.txt", "alpha\n");
  const RunResult result = run_dry(job, {"--json", "-q"});
  ASSERT_EQ(result.exit_code, 0) << result.describe();
  EXPECT_EQ(result.err, "");
  EXPECT_EQ(nlohmann::json::parse(result.out)["counts"]["files"], 1);
}

TEST(ItDryRun, WithAShardCountsThatShardOnly) {
  Job job;
  make_two_roots(job);
  const RunResult whole = run_dry(job, {"--json", "-q"});
  ASSERT_EQ(whole.exit_code, 0) << whole.describe();
  const nlohmann::json all = nlohmann::json::parse(whole.out)["counts"];
  int files = 0;
  int total = 0;
  for (int index = 1; index <= 3; ++index) {
    const std::string shard = std::to_string(index) + "/3";
    const RunResult result = run_dry(job, {"--json", "-q", "--shard", shard});
    ASSERT_EQ(result.exit_code, 0) << result.describe();
    const nlohmann::json plan = nlohmann::json::parse(result.out);
    EXPECT_EQ(plan["shard"], shard);
    files += plan["counts"]["files"].get<int>();
    total += plan["counts"]["total"].get<int>();
    if (index == 2) {
      const RunResult real = run_shard(job, 2, 3, "shard-2");
      ASSERT_EQ(real.exit_code, 0) << real.describe();
      const nlohmann::json summary = read_json(job.out() / "shard-2.json")["summary"];
      EXPECT_EQ(plan["counts"]["total"], summary["files"]["total"]);
      EXPECT_EQ(plan["counts"]["files"], summary["files"]["ok"]);
      EXPECT_EQ(plan["counts"]["bytes"], summary["bytes_in"]);
    }
  }
  EXPECT_EQ(files, all["files"].get<int>());
  EXPECT_EQ(total, all["total"].get<int>());
}

TEST(ItDryRun, NothingMatchedIsTheSameErrorAsInARealRun) {
  Job job;
  job.file("a.txt", "alpha\n");
  job.set("input", "include", R"(["*.nomatch"])");
  const RunResult dry = run_dry(job);
  EXPECT_EQ(dry.exit_code, 2) << dry.describe();
  const RunResult real = job.run_pipe();
  EXPECT_EQ(real.exit_code, 2) << real.describe();
  EXPECT_TRUE(contains(dry.err, "pipe-run: no input files matched")) << dry.describe();
  EXPECT_TRUE(contains(real.err, "pipe-run: no input files matched")) << real.describe();

  job.set("input", "if_no_files", toml_string("warn"));
  EXPECT_EQ(run_dry(job).exit_code, 0);
}

TEST(ItDryRun, WalkFailuresExitOneAndAreNamedAsInARealRun) {
  Job job;
  job.file("a.txt", "alpha\n");
  fs::create_symlink("nowhere", job.root() / "dangling");
  job.set("input", "follow_symlinks", "true");
  const RunResult dry = run_dry(job, {"--json"});
  EXPECT_EQ(dry.exit_code, 1) << dry.describe();
  EXPECT_TRUE(contains(dry.err, "pipe-run: dangling: ")) << dry.describe();
  const nlohmann::json plan = nlohmann::json::parse(dry.out);
  EXPECT_EQ(plan["counts"]["failed"], 1);
  EXPECT_EQ(plan["failures"][0]["path"], "dangling");
  EXPECT_FALSE(fs::exists(job.out()));

  const RunResult real = job.run_pipe();
  EXPECT_EQ(real.exit_code, 1) << real.describe();
  EXPECT_TRUE(contains(real.err, "pipe-run: dangling: ")) << real.describe();
}

TEST(ItDryRun, ConfigErrorsExitTwoAsInARealRun) {
  Job job;
  job.file("a.txt", "alpha\n");
  job.set("pipeline", "chunk_size", toml_string("lots"));
  const RunResult dry = run_dry(job);
  EXPECT_EQ(dry.exit_code, 2) << dry.describe();
  EXPECT_TRUE(contains(dry.err, "pipeline.chunk_size")) << dry.describe();
}

}  // namespace
}  // namespace piperun::itest
