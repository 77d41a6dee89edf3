// ManifestWriter: the document parses, holds every field, keeps odd names losslessly, appears
// only when finished, and streams many records. Each test works in its own temporary directory.
#include "pipeline/manifest_writer.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/temp_dir.hpp"

namespace piperun::pipeline {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string decode_base64(std::string_view text) {
  std::string bytes;
  std::uint32_t group = 0;
  int bits = 0;
  for (char c : text) {
    int value = -1;
    if (c >= 'A' && c <= 'Z') value = c - 'A';
    if (c >= 'a' && c <= 'z') value = c - 'a' + 26;
    if (c >= '0' && c <= '9') value = c - '0' + 52;
    if (c == '+') value = 62;
    if (c == '/') value = 63;
    if (value < 0) continue;  // padding
    group = group << 6 | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes += static_cast<char>(group >> bits & 0xFF);
    }
  }
  return bytes;
}

FileRecord regular_file(std::string rel_path) {
  FileRecord record;
  record.rel_path = std::move(rel_path);
  record.kind = "file";
  record.status = FileStatus::ok;
  record.size = 1234;
  record.mode = S_IFREG | 0644;
  record.mtime_ns = 1795860720123456789;  // 2026-11-28T10:12:00.123456789Z
  record.digests = {{"xxh3-128", "0123456789abcdef0123456789abcdef"}};
  return record;
}

class ManifestWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_.path();
    path_ = dir_ / "out" / "manifest.json";
  }

  static ManifestHeader header() {
    return {"0.1.0",
            "/etc/pipe-run/artifacts.toml",
            {"artifacts", "logs"},
            {"hash", "write"},
            {{"pipeline.stages", "hash,write"}, {"compress.level", "3"}}};
  }

  json read_manifest() const {
    std::ifstream in(path_, std::ios::binary);
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    return json::parse(text);  // throws, failing the test, on bad JSON or bad UTF-8
  }

  // Names in the manifest's directory other than the manifest itself.
  std::vector<std::string> leftovers() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(path_.parent_path())) {
      if (entry.path() != path_) names.push_back(entry.path().filename().string());
    }
    return names;
  }

  piperun::testing::TempDir temp_;  // removed with everything in it
  fs::path dir_;
  fs::path path_;
};

TEST_F(ManifestWriterTest, HoldsHeaderRecordsAndSummary) {
  ManifestWriter writer;
  const auto opened = writer.open(path_, header());
  ASSERT_TRUE(opened) << opened.error();

  FileRecord hashed = regular_file("dir/a.txt");
  hashed.digests.push_back({"sha256", std::string(64, 'e')});
  writer.add(hashed);

  FileRecord failed = regular_file("dir/unreadable.bin");
  failed.status = FileStatus::failed;
  failed.mode = S_IFREG | 04750;
  failed.digests.clear();
  failed.error = "open: Permission denied";
  writer.add(failed);

  FileRecord link;
  link.rel_path = "dir/link";
  link.kind = "symlink";
  link.status = FileStatus::skipped;
  link.mode = S_IFLNK | 0777;
  link.mtime_ns = -1;
  link.symlink_target = "../target";
  link.error = "symlink not followed";
  writer.add(link);

  RunStats stats;
  stats.files_ok = 1;
  stats.files_failed = 1;
  stats.files_skipped = 1;
  stats.bytes_in = 3'000'000;
  stats.bytes_out = 1'000'000;
  stats.duration = std::chrono::milliseconds(1500);
  const auto finished = writer.finish(stats, true);
  ASSERT_TRUE(finished) << finished.error();

  const json manifest = read_manifest();
  EXPECT_EQ(manifest["manifest_version"], 1);
  EXPECT_EQ(manifest["tool"], "pipe-run");
  EXPECT_EQ(manifest["tool_version"], "0.1.0");
  EXPECT_EQ(manifest["config_file"], "/etc/pipe-run/artifacts.toml");
  EXPECT_EQ(manifest["roots"], json({"artifacts", "logs"}));
  EXPECT_EQ(manifest["stages"], json({"hash", "write"}));
  EXPECT_EQ(manifest["settings"],
            json({{"pipeline.stages", "hash,write"}, {"compress.level", "3"}}));

  const json& files = manifest["files"];
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[0], json::parse(R"({
      "path": "dir/a.txt", "kind": "file", "status": "ok", "size": 1234, "mode": "0644",
      "mtime": "2026-11-28T10:12:00.123456789Z", "mtime_ns": 1795860720123456789,
      "digests": {"xxh3-128": "0123456789abcdef0123456789abcdef",
                  "sha256": "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"}})"));
  EXPECT_EQ(files[1], json::parse(R"({
      "path": "dir/unreadable.bin", "kind": "file", "status": "failed", "size": 1234,
      "mode": "4750", "mtime": "2026-11-28T10:12:00.123456789Z",
      "mtime_ns": 1795860720123456789, "error": "open: Permission denied"})"));
  EXPECT_EQ(files[2], json::parse(R"({
      "path": "dir/link", "kind": "symlink", "status": "skipped", "size": 0, "mode": "0777",
      "mtime": "1969-12-31T23:59:59.999999999Z", "mtime_ns": -1,
      "symlink_target": "../target", "error": "symlink not followed"})"));

  const json& summary = manifest["summary"];
  EXPECT_EQ(summary["files"],
            json::parse(R"({"total": 3, "ok": 1, "failed": 1, "skipped": 1, "resumed": 0})"));
  EXPECT_EQ(summary["bytes_in"], 3'000'000);
  EXPECT_EQ(summary["bytes_out"], 1'000'000);
  EXPECT_DOUBLE_EQ(summary["duration_s"].get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(summary["throughput_mb_s"].get<double>(), 2.0);
  EXPECT_EQ(summary["failures"],
            json::parse(R"([{"path": "dir/unreadable.bin", "error": "open: Permission denied"}])"));
  EXPECT_TRUE(leftovers().empty());
}

TEST_F(ManifestWriterTest, MtimeIsRfc3339UtcWithNanoseconds) {
  const std::vector<std::pair<std::int64_t, std::string>> cases = {
      {0, "1970-01-01T00:00:00.000000000Z"},
      {1, "1970-01-01T00:00:00.000000001Z"},
      {-1, "1969-12-31T23:59:59.999999999Z"},
      {-1'000'000'000, "1969-12-31T23:59:59.000000000Z"},
      {951'782'400'000'000'000, "2000-02-29T00:00:00.000000000Z"},
      {1795860720123456789, "2026-11-28T10:12:00.123456789Z"},
      {std::numeric_limits<std::int64_t>::max(), "2262-04-11T23:47:16.854775807Z"},
      {std::numeric_limits<std::int64_t>::min(), "1677-09-21T00:12:43.145224192Z"},
  };
  for (const auto& [mtime_ns, expected] : cases) {
    FileRecord record = regular_file("f");
    record.mtime_ns = mtime_ns;
    const json object = json::parse(ManifestWriter::serialize_record(record));
    EXPECT_EQ(object["mtime"], expected) << mtime_ns;
    EXPECT_EQ(object["mtime_ns"], mtime_ns);
  }
}

TEST_F(ManifestWriterTest, NonUtf8NamesRoundTripThroughBase64) {
  const std::vector<std::string> invalid_names = {
      "dir/bad\xff\xfe-\xe5\x90\x8d.bin",  // stray bytes beside a valid CJK character
      "overlong-\xc0\xaf",                 // overlong '/'
      "surrogate-\xed\xa0\x80",            // UTF-16 surrogate
      "truncated-\xe2\x82",                // sequence cut short
      "too-high-\xf4\x90\x80\x80",         // above U+10FFFF
      "latin1-caf\xe9",
  };
  ManifestWriter writer;
  ASSERT_TRUE(writer.open(path_, header()));
  for (const std::string& name : invalid_names) {
    FileRecord record = regular_file(name);
    record.status = FileStatus::failed;
    record.error = "cannot open " + name + ": No such file or directory";
    writer.add(record);
  }
  FileRecord link = regular_file("link-\x80");
  link.kind = "symlink";
  link.digests.clear();
  link.symlink_target = "target-\xff";
  writer.add(link);
  writer.add(regular_file("caf\xc3\xa9/\xe5\x90\x8d\xe5\x89\x8d.txt"));  // valid UTF-8
  ASSERT_TRUE(writer.finish(RunStats{}, false));

  const json manifest = read_manifest();
  const json& files = manifest["files"];
  ASSERT_EQ(files.size(), invalid_names.size() + 2);
  for (std::size_t i = 0; i < invalid_names.size(); ++i) {
    ASSERT_TRUE(files[i].contains("path_base64")) << files[i].dump();
    EXPECT_EQ(decode_base64(files[i]["path_base64"].get<std::string>()), invalid_names[i]);
    EXPECT_NE(files[i]["path"].get<std::string>().find("\xef\xbf\xbd"), std::string::npos);
    EXPECT_NE(files[i]["error"].get<std::string>().find("No such file"), std::string::npos);
  }
  EXPECT_EQ(files[0]["path"], "dir/bad\xef\xbf\xbd\xef\xbf\xbd-\xe5\x90\x8d.bin");
  EXPECT_EQ(files[0]["path_base64"], "ZGlyL2JhZP/+LeWQjS5iaW4=");
  EXPECT_EQ(files[1]["path"], "overlong-\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(files[5]["path"], "latin1-caf\xef\xbf\xbd");

  const json& link_json = files[invalid_names.size()];
  EXPECT_EQ(decode_base64(link_json["path_base64"].get<std::string>()), "link-\x80");
  EXPECT_EQ(link_json["symlink_target"], "target-\xef\xbf\xbd");
  EXPECT_EQ(decode_base64(link_json["symlink_target_base64"].get<std::string>()), "target-\xff");

  const json& valid = files[invalid_names.size() + 1];
  EXPECT_EQ(valid["path"], "caf\xc3\xa9/\xe5\x90\x8d\xe5\x89\x8d.txt");
  EXPECT_FALSE(valid.contains("path_base64"));

  const json& failures = manifest["summary"]["failures"];
  ASSERT_EQ(failures.size(), invalid_names.size());
  EXPECT_EQ(decode_base64(failures[0]["path_base64"].get<std::string>()), invalid_names[0]);
}

TEST_F(ManifestWriterTest, NothingUnderTheFinalNameBeforeFinish) {
  ManifestWriter writer;
  ASSERT_TRUE(writer.open(path_, header()));
  for (int i = 0; i < 10; ++i)
    writer.add(regular_file(fmt::format("f{}", i)));
  EXPECT_FALSE(fs::exists(path_));
  ASSERT_EQ(leftovers().size(), 1u);
  EXPECT_TRUE(leftovers()[0].starts_with(".manifest.json.pipe-run-tmp.")) << leftovers()[0];
  ASSERT_TRUE(writer.finish(RunStats{}, false));
  EXPECT_TRUE(fs::exists(path_));
  EXPECT_TRUE(leftovers().empty());
}

TEST_F(ManifestWriterTest, AbandonLeavesNoFile) {
  {
    ManifestWriter writer;
    ASSERT_TRUE(writer.open(path_, header()));
    writer.add(regular_file("a"));
    writer.abandon();
  }
  {
    ManifestWriter writer;  // dropped without finish(): the destructor abandons
    ASSERT_TRUE(writer.open(path_, header()));
    writer.add(regular_file("b"));
  }
  EXPECT_FALSE(fs::exists(path_));
  EXPECT_TRUE(leftovers().empty());
}

TEST_F(ManifestWriterTest, EmptyRunIsAValidDocument) {
  ManifestWriter writer;
  ASSERT_TRUE(writer.open(path_, ManifestHeader{}));
  ASSERT_TRUE(writer.finish(RunStats{}, false));
  const json manifest = read_manifest();
  EXPECT_EQ(manifest["files"], json::array());
  EXPECT_EQ(manifest["roots"], json::array());
  EXPECT_EQ(manifest["summary"]["files"]["total"], 0);
  EXPECT_EQ(manifest["summary"]["failures"], json::array());
  EXPECT_EQ(manifest["summary"]["throughput_mb_s"], 0.0);
}

TEST_F(ManifestWriterTest, SummaryListsTheFirstHundredFailures) {
  ManifestWriter writer;
  ASSERT_TRUE(writer.open(path_, header()));
  for (int i = 0; i < 150; ++i) {
    FileRecord record = regular_file(fmt::format("failed-{:03}", i));
    record.status = FileStatus::failed;
    record.error = fmt::format("error {}", i);
    writer.add(record);
    writer.add(regular_file(fmt::format("ok-{:03}", i)));
  }
  ASSERT_TRUE(writer.finish(RunStats{}, false));
  const json summary = read_manifest()["summary"];
  EXPECT_EQ(summary["files"]["total"], 300);
  EXPECT_EQ(summary["files"]["failed"], 150);
  EXPECT_EQ(summary["files"]["ok"], 150);
  const json& failures = summary["failures"];
  ASSERT_EQ(failures.size(), ManifestWriter::kMaxListedFailures);
  for (std::size_t i = 0; i < failures.size(); ++i) {
    EXPECT_EQ(failures[i]["path"], fmt::format("failed-{:03}", i));
    EXPECT_EQ(failures[i]["error"], fmt::format("error {}", i));
  }
}

TEST_F(ManifestWriterTest, RecordsAreOneLineEach) {
  FileRecord record = regular_file("name with \"quotes\", a tab\t and a\nnewline");
  const std::string line = ManifestWriter::serialize_record(record);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(json::parse(line)["path"], record.rel_path);

  ManifestWriter writer;
  ASSERT_TRUE(writer.open(path_, header()));
  writer.add(record);
  ASSERT_TRUE(writer.finish(RunStats{}, false));
  std::ifstream in(path_);
  std::string text;
  int matching_lines = 0;
  while (std::getline(in, text)) {
    if (text == "    " + line) ++matching_lines;
  }
  EXPECT_EQ(matching_lines, 1);
}

// 100,000 records: they reach the disk while the run goes on, and the document parses with
// every record in order.
TEST_F(ManifestWriterTest, StreamsManyRecords) {
  constexpr int kRecords = 100'000;
  ManifestWriter writer;
  ASSERT_TRUE(writer.open(path_, header()));
  for (int i = 0; i < kRecords; ++i) {
    FileRecord record = regular_file(fmt::format("tree/{:03}/file-{:06}.dat", i % 997, i));
    record.size = static_cast<std::uint64_t>(i);
    writer.add(record);
  }
  ASSERT_EQ(leftovers().size(), 1u);
  const fs::path temp = path_.parent_path() / leftovers()[0];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (fs::file_size(temp) == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GT(fs::file_size(temp), 0u) << "nothing written before finish()";
  EXPECT_FALSE(fs::exists(path_));

  const auto finished = writer.finish(RunStats{}, false);
  ASSERT_TRUE(finished) << finished.error();
  const json manifest = read_manifest();
  const json& files = manifest["files"];
  ASSERT_EQ(files.size(), static_cast<std::size_t>(kRecords));
  for (int i = 0; i < kRecords; ++i) {
    ASSERT_EQ(files[i]["size"], i);
    ASSERT_EQ(files[i]["path"], fmt::format("tree/{:03}/file-{:06}.dat", i % 997, i));
  }
  EXPECT_EQ(manifest["summary"]["files"]["total"], kRecords);
}

TEST_F(ManifestWriterTest, OpenErrorIsReported) {
  std::ofstream(dir_ / "blocker") << "x";
  ManifestWriter writer;
  const auto opened = writer.open(dir_ / "blocker" / "manifest.json", header());
  ASSERT_FALSE(opened);
  EXPECT_NE(opened.error().find("Not a directory"), std::string::npos) << opened.error();
  writer.add(regular_file("ignored"));
  EXPECT_FALSE(writer.finish(RunStats{}, false));
}

}  // namespace
}  // namespace piperun::pipeline
