// ManifestScan reads back what ManifestWriter wrote, record by record, and names the file and
// line of whatever is not a manifest.
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <vector>

#include <gtest/gtest.h>

#include "pipeline/manifest_writer.hpp"
#include "stages/verify/manifest_scan.hpp"
#include "support/temp_dir.hpp"

namespace piperun::stages::verify {
namespace {

namespace fs = std::filesystem;

pipeline::FileRecord regular_file(std::string rel_path, std::uint64_t size) {
  pipeline::FileRecord record;
  record.rel_path = std::move(rel_path);
  record.kind = "file";
  record.size = size;
  record.mode = S_IFREG | 0644;
  record.mtime_ns = 1795860720123456789;
  record.digests = {{"xxh3-128", "0123456789abcdef0123456789abcdef"}};
  record.output_path = record.rel_path;
  return record;
}

// A manifest as a run writes it, with `records`.
fs::path write_manifest(const testing::TempDir& dir,
                        const std::vector<pipeline::FileRecord>& records) {
  const fs::path path = dir / "manifest.json";
  pipeline::ManifestHeader header;
  header.tool_version = "pipe-run test";
  header.config_file = "/jobs/job.toml";
  header.stages = {"hash", "write"};
  header.settings = {{"pipeline.stages", "hash,write"}, {"output.dir", "/data/out"}};
  pipeline::ManifestWriter writer;
  EXPECT_TRUE(writer.open(path, header));
  for (const auto& record : records)
    writer.add(record);
  EXPECT_TRUE(writer.finish(pipeline::RunStats{}, false));
  return path;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_text(const fs::path& path, std::string_view text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

TEST(VerifyManifestScan, ReadsTheSettingsAndEveryRecordInOrder) {
  testing::TempDir dir;
  const std::string odd_name = std::string("bad\xff name\nwith newline", 23);
  const auto path = write_manifest(
      dir, {regular_file("a.txt", 1), regular_file(odd_name, 2), regular_file("c/d", 3)});
  auto scan = ManifestScan::open(path);
  ASSERT_TRUE(scan) << scan.error();
  EXPECT_EQ(scan->settings().at("pipeline.stages"), "hash,write");
  EXPECT_EQ(scan->settings().at("output.dir"), "/data/out");
  EXPECT_EQ(scan->config_file(), "/jobs/job.toml");
  std::vector<std::string> paths;
  for (;;) {
    auto record = scan->next();
    ASSERT_TRUE(record) << record.error();
    if (!*record) break;
    paths.push_back((*record)->rel_path);
    EXPECT_EQ((*record)->size, paths.size());
  }
  EXPECT_EQ(paths, (std::vector<std::string>{"a.txt", odd_name, "c/d"}));  // exact bytes
  EXPECT_FALSE(*scan->next());                                             // and stays at the end
}

TEST(VerifyManifestScan, AManifestWithoutFilesHasNoRecords) {
  testing::TempDir dir;
  auto scan = ManifestScan::open(write_manifest(dir, {}));
  ASSERT_TRUE(scan) << scan.error();
  auto record = scan->next();
  ASSERT_TRUE(record) << record.error();
  EXPECT_FALSE(*record);
}

TEST(VerifyManifestScan, ABrokenRecordIsNamedByFileAndLine) {
  testing::TempDir dir;
  const auto path = write_manifest(dir, {regular_file("a", 1), regular_file("b", 2)});
  std::string text = read_text(path);
  const std::size_t second = text.find("{\"path\":\"b\"");
  ASSERT_NE(second, std::string::npos);
  text.replace(second, 12, "{\"path\":17,");  // a path that is not a string
  write_text(path, text);
  auto scan = ManifestScan::open(path);
  ASSERT_TRUE(scan) << scan.error();
  ASSERT_TRUE(scan->next());
  auto broken = scan->next();
  ASSERT_FALSE(broken);
  const std::size_t line = 1 + std::count(text.begin(), text.begin() + second, '\n');
  EXPECT_EQ(broken.error().rfind(path.string() + ":" + std::to_string(line) + ": ", 0), 0u)
      << broken.error();
}

TEST(VerifyManifestScan, ATruncatedManifestIsAnError) {
  testing::TempDir dir;
  const auto path = write_manifest(dir, {regular_file("a", 1), regular_file("b", 2)});
  const std::string text = read_text(path);
  write_text(path, text.substr(0, text.find("{\"path\":\"b\"")));
  auto scan = ManifestScan::open(path);
  ASSERT_TRUE(scan) << scan.error();
  ASSERT_TRUE(scan->next());
  auto cut = scan->next();  // a line cut short is not a record
  ASSERT_FALSE(cut);
  EXPECT_NE(cut.error().find(path.string()), std::string::npos) << cut.error();

  write_text(path, text.substr(0, text.find("  ],")));
  auto ended = ManifestScan::open(path);
  ASSERT_TRUE(ended);
  ASSERT_TRUE(ended->next());
  ASSERT_TRUE(ended->next());
  auto after = ended->next();  // the list never closes
  ASSERT_FALSE(after);
  EXPECT_NE(after.error().find("truncated"), std::string::npos) << after.error();
}

TEST(VerifyManifestScan, WhatIsNotAManifestIsRefusedAtOnce) {
  testing::TempDir dir;
  const fs::path path = dir / "other.json";
  for (const std::string text :
       {"", "not json\n", "{\n  \"files\": [],\n}\n", "{\"a\": 1}\n",
        "{\n  \"manifest_version\": 2,\n  \"settings\": {},\n  \"files\": [],\n}\n",
        "{\n  \"manifest_version\": 1,\n  \"files\": [],\n}\n"}) {
    write_text(path, text);
    auto scan = ManifestScan::open(path);
    ASSERT_FALSE(scan) << text;
    EXPECT_NE(scan.error().find(path.string()), std::string::npos) << scan.error();
  }
  auto missing = ManifestScan::open(dir / "nowhere.json");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("No such file"), std::string::npos) << missing.error();
}

}  // namespace
}  // namespace piperun::stages::verify
