// ChecksumWriter: line format and escaping, file naming, and verification of real files with
// the stock tools (`xxhsum -c`, `sha256sum -c`), whose own output provides the digests. Each
// test works in its own temporary directory.
#include "pipeline/checksum_writer.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "support/temp_dir.hpp"

namespace piperun::pipeline {
namespace {

namespace fs = std::filesystem;

struct ToolDigest {
  std::string algorithm;  // our name
  std::string command;    // the stock tool printing "<hex>  <name>" for stdin
};

const std::vector<ToolDigest> kTools = {
    {"xxh3-128", "xxhsum -H2"},
    {"xxh64", "xxhsum -H1"},
    {"sha256", "sha256sum"},
};

struct TestFile {
  std::string rel_path;  // raw bytes
  std::string contents;
};

class ChecksumWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_.path();
    root_ = dir_ / "data";
    out_ = dir_ / "out";
    fs::create_directories(root_);
  }

  static std::string read_all(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  // The stock tool's digest of `contents`, fed on stdin so that no odd name meets a shell.
  std::string stock_digest(const std::string& command, const std::string& contents) const {
    const fs::path scratch = dir_ / "scratch";
    std::ofstream(scratch, std::ios::binary) << contents;
    FILE* pipe = ::popen(fmt::format("{} < '{}'", command, scratch.string()).c_str(), "r");
    if (pipe == nullptr) return {};
    char buffer[256] = {};
    const bool got_line = std::fgets(buffer, sizeof buffer, pipe) != nullptr;
    ::pclose(pipe);
    if (!got_line) return {};
    std::istringstream line(buffer);
    std::string hex;
    line >> hex;
    return hex;
  }

  // Creates the files under root_ and returns their records, digests from the stock tools.
  std::vector<FileRecord> create_files(const std::vector<TestFile>& files) const {
    std::vector<FileRecord> records;
    for (const TestFile& file : files) {
      const fs::path path = root_ / file.rel_path;
      fs::create_directories(path.parent_path());
      std::ofstream(path, std::ios::binary) << file.contents;
      FileRecord record;
      record.rel_path = file.rel_path;
      record.kind = "file";
      record.size = file.contents.size();
      for (const ToolDigest& tool : kTools) {
        record.digests.push_back({tool.algorithm, stock_digest(tool.command, file.contents)});
      }
      records.push_back(std::move(record));
    }
    return records;
  }

  // Runs `command` in root_ as `sh -c` would; returns its exit code, and its output in `log`.
  int run_in_root(const std::string& command, std::string& log) const {
    const fs::path log_path = dir_ / "tool.log";
    const int status = std::system(
        fmt::format("cd '{}' && {} > '{}' 2>&1", root_.string(), command, log_path.string())
            .c_str());
    log = read_all(log_path);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  static int count_ok_lines(const std::string& log) {
    int count = 0;
    std::istringstream lines(log);
    for (std::string line; std::getline(lines, line);) {
      if (line.ends_with(": OK")) ++count;
    }
    return count;
  }

  std::vector<ChecksumFile> all_checksum_files() const {
    const fs::path configured = out_ / "checksums.xxh128";
    std::vector<ChecksumFile> files;
    for (const ToolDigest& tool : kTools) {
      files.push_back(
          {tool.algorithm, ChecksumWriter::checksum_path_for(configured, tool.algorithm)});
    }
    return files;
  }

  piperun::testing::TempDir temp_;  // removed with everything in it
  fs::path dir_;
  fs::path root_;
  fs::path out_;
};

TEST(ChecksumPathFor, ReplacesTheExtensionByTheAlgorithms) {
  EXPECT_EQ(ChecksumWriter::checksum_path_for("out/checksums.xxh128", "xxh3-128"),
            "out/checksums.xxh128");
  EXPECT_EQ(ChecksumWriter::checksum_path_for("out/checksums.xxh128", "xxh64"),
            "out/checksums.xxh64");
  EXPECT_EQ(ChecksumWriter::checksum_path_for("out/checksums.xxh128", "sha256"),
            "out/checksums.sha256");
  EXPECT_EQ(ChecksumWriter::checksum_path_for("/abs/sums", "sha256"), "/abs/sums.sha256");
  EXPECT_EQ(ChecksumWriter::checksum_path_for("sums.txt", "xxh3-128"), "sums.xxh128");
  EXPECT_EQ(ChecksumWriter::checksum_path_for("out.d/.sums", "xxh64"), "out.d/.sums.xxh64");
}

TEST(ChecksumFormatLine, PlainNamesAreLiteral) {
  EXPECT_EQ(ChecksumWriter::format_line("abcd", "dir/a b.txt"), "abcd  dir/a b.txt\n");
  EXPECT_EQ(ChecksumWriter::format_line("abcd", "back\\slash"), "abcd  back\\slash\n");
  EXPECT_EQ(ChecksumWriter::format_line("abcd", "\\lead"), "abcd  \\lead\n");
  EXPECT_EQ(ChecksumWriter::format_line("abcd", "raw\xff"), "abcd  raw\xff\n");
}

TEST(ChecksumFormatLine, NewlineAndCarriageReturnAreEscapedTheGnuWay) {
  EXPECT_EQ(ChecksumWriter::format_line("abcd", "a\nb"), "\\abcd  a\\nb\n");
  EXPECT_EQ(ChecksumWriter::format_line("abcd", "a\rb"), "\\abcd  a\\rb\n");
  EXPECT_EQ(ChecksumWriter::format_line("abcd", "c:\\x\ny\r"), "\\abcd  c:\\\\x\\ny\\r\n");
}

TEST_F(ChecksumWriterTest, OnlyOkRecordsWithTheAlgorithmsDigestGetALine) {
  const fs::path path = out_ / "checksums.sha256";
  ChecksumWriter writer;
  ASSERT_TRUE(writer.open({{"sha256", path}}));

  FileRecord ok;
  ok.rel_path = "ok";
  ok.digests = {{"xxh3-128", "11"}, {"sha256", "22"}};
  FileRecord failed = ok;
  failed.rel_path = "failed";
  failed.status = FileStatus::failed;
  FileRecord skipped = ok;
  skipped.rel_path = "skipped";
  skipped.status = FileStatus::skipped;
  FileRecord other_algorithm = ok;
  other_algorithm.rel_path = "xxh-only";
  other_algorithm.digests = {{"xxh3-128", "33"}};
  FileRecord second = ok;
  second.rel_path = "second";
  for (const FileRecord* record : {&ok, &failed, &skipped, &other_algorithm, &second}) {
    writer.add(*record);
  }
  EXPECT_FALSE(fs::exists(path));
  const auto finished = writer.finish(false);
  ASSERT_TRUE(finished) << finished.error();
  EXPECT_EQ(read_all(path), "22  ok\n22  second\n");
  EXPECT_EQ(std::distance(fs::directory_iterator(out_), fs::directory_iterator()), 1);
}

TEST_F(ChecksumWriterTest, UnknownAlgorithmOpensNothing) {
  ChecksumWriter writer;
  const auto opened = writer.open({{"sha256", out_ / "sums.sha256"}, {"md5", out_ / "sums.md5"}});
  ASSERT_FALSE(opened);
  EXPECT_NE(opened.error().find("md5"), std::string::npos) << opened.error();
  EXPECT_FALSE(fs::exists(out_));
}

TEST_F(ChecksumWriterTest, AbandonLeavesNothing) {
  {
    ChecksumWriter writer;
    ASSERT_TRUE(writer.open(all_checksum_files()));
    FileRecord record;
    record.rel_path = "a";
    record.digests = {{"sha256", "00"}};
    writer.add(record);
    writer.abandon();
  }
  {
    ChecksumWriter writer;  // dropped without finish()
    ASSERT_TRUE(writer.open(all_checksum_files()));
  }
  EXPECT_TRUE(fs::is_empty(out_));
}

TEST_F(ChecksumWriterTest, StockToolsVerifyOddNames) {
  const std::vector<TestFile> files = {
      {"plain.txt", "hello\n"},
      {"with space.txt", "spaces"},
      {"two  spaces  inside", "double"},
      {" leading space", "lead"},
      {"sub dir/nested/deep.txt", "nested"},
      {"\xc3\xbcn\xc3\xaf"
       "c\xc3\xb8"
       "d\xc3\xa9/\xe5\x90\x8d\xe5\x89\x8d.txt",
       "utf-8 name"},
      {"raw-\xff\xfe-latin1-caf\xe9.bin", "not utf-8"},
      {"back\\slash.txt", "one backslash"},
      {"\\leading-backslash", "starts with one"},
      {"tab\tname", "tab"},
      {"empty", ""},
      {"big.bin", std::string(300 * 1024, '\x5a') + "end"},
  };
  const std::vector<FileRecord> records = create_files(files);
  for (const FileRecord& record : records) {
    for (const Digest& digest : record.digests) {
      ASSERT_FALSE(digest.hex.empty()) << digest.algorithm << " of " << record.rel_path;
    }
  }

  ChecksumWriter writer;
  const auto opened = writer.open(all_checksum_files());
  ASSERT_TRUE(opened) << opened.error();
  for (const FileRecord& record : records)
    writer.add(record);
  const auto finished = writer.finish(true);
  ASSERT_TRUE(finished) << finished.error();

  const fs::path configured = out_ / "checksums.xxh128";
  for (const ToolDigest& tool : kTools) {
    const fs::path checksums = ChecksumWriter::checksum_path_for(configured, tool.algorithm);
    const std::string program = tool.algorithm == "sha256" ? "sha256sum" : "xxhsum";
    std::string log;
    EXPECT_EQ(run_in_root(fmt::format("{} --strict -c '{}'", program, checksums.string()), log), 0)
        << tool.algorithm << ":\n"
        << log << "\nchecksum file:\n"
        << read_all(checksums);
    EXPECT_EQ(count_ok_lines(log), static_cast<int>(files.size())) << log;
  }

  // The check is not vacuous: a changed file fails it.
  std::ofstream(root_ / "back\\slash.txt", std::ios::binary) << "changed";
  for (const std::string_view command : {"xxhsum -c '{}'", "sha256sum -c '{}'"}) {
    const std::string algorithm = command.starts_with("sha") ? "sha256" : "xxh3-128";
    const fs::path checksums = ChecksumWriter::checksum_path_for(configured, algorithm);
    std::string log;
    EXPECT_NE(run_in_root(fmt::format(fmt::runtime(command), checksums.string()), log), 0) << log;
  }
}

// GNU sha256sum reads the escaped lines back; xxhsum 0.8.1 cannot (it has no escapes), so only
// the line text is checked for the xxhsum format.
TEST_F(ChecksumWriterTest, GnuToolVerifiesNamesWithNewlines) {
  const std::vector<TestFile> files = {
      {"line\nbreak.txt", "newline"},
      {"carriage\rreturn.txt", "cr"},
      {"back\\slash\nand newline", "both"},
      {"trailing newline\n", "trailing"},
      {"plain.txt", "plain"},
  };
  const std::vector<FileRecord> records = create_files(files);
  ChecksumWriter writer;
  ASSERT_TRUE(writer.open(all_checksum_files()));
  for (const FileRecord& record : records)
    writer.add(record);
  ASSERT_TRUE(writer.finish(false));

  const fs::path sha256_file = out_ / "checksums.sha256";
  std::string log;
  EXPECT_EQ(run_in_root(fmt::format("sha256sum --strict -c '{}'", sha256_file.string()), log), 0)
      << log << "\nchecksum file:\n"
      << read_all(sha256_file);
  EXPECT_EQ(count_ok_lines(log), static_cast<int>(files.size())) << log;

  const auto digest = [&](std::size_t index, const std::string& algorithm) {
    for (const Digest& d : records[index].digests) {
      if (d.algorithm == algorithm) return d.hex;
    }
    return std::string();
  };
  const std::string expected_sha256 = "\\" + digest(0, "sha256") + "  line\\nbreak.txt\n" +       //
                                      "\\" + digest(1, "sha256") + "  carriage\\rreturn.txt\n" +  //
                                      "\\" + digest(2, "sha256") +
                                      "  back\\\\slash\\nand newline\n" + "\\" +
                                      digest(3, "sha256") + "  trailing newline\\n\n" +  //
                                      digest(4, "sha256") + "  plain.txt\n";
  EXPECT_EQ(read_all(sha256_file), expected_sha256);

  const std::string xxh128 = read_all(out_ / "checksums.xxh128");
  EXPECT_TRUE(xxh128.starts_with("\\" + digest(0, "xxh3-128") + "  line\\nbreak.txt\n")) << xxh128;
  EXPECT_TRUE(xxh128.ends_with("\n" + digest(4, "xxh3-128") + "  plain.txt\n")) << xxh128;
}

}  // namespace
}  // namespace piperun::pipeline
