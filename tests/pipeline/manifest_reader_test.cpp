// Records read back from the manifest are the records that were written, names byte for byte.
#include "pipeline/manifest_reader.hpp"

#include <gtest/gtest.h>

#include "pipeline/manifest_writer.hpp"

namespace piperun::pipeline {
namespace {

FileRecord full_record() {
  FileRecord record;
  record.rel_path = "dir/caf\xe9 \"quoted\"\n.txt";  // not UTF-8, with a quote and a newline
  record.kind = "file";
  record.status = FileStatus::ok;
  record.size = 5'000'000'000;
  record.mode = 0640;
  record.mtime_ns = 1'700'000'000'123'456'789;
  record.digests = {{"xxh3-128", "0123456789abcdef0123456789abcdef"}, {"sha256", "ab"}};
  record.compressed_size = 1'234'567;
  record.output_path = record.rel_path + ".zst";
  record.upload = UploadRecord{false, "s3://bucket/p/x.zst", "\"etag\"", "md5:AAAA", 2, 1'234'567};
  record.resumed = true;
  return record;
}

TEST(ManifestReader, ARecordReadsBackAsWritten) {
  const FileRecord written = full_record();
  const auto read = parse_manifest_record(ManifestWriter::serialize_record(written) + ",");
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->rel_path, written.rel_path);
  EXPECT_EQ(read->kind, written.kind);
  EXPECT_EQ(read->status, written.status);
  EXPECT_EQ(read->size, written.size);
  EXPECT_EQ(read->mode, written.mode);
  EXPECT_EQ(read->mtime_ns, written.mtime_ns);
  ASSERT_EQ(read->digests.size(), 2u);
  for (const Digest& digest : written.digests) {
    bool found = false;
    for (const Digest& back : read->digests)
      found = found || (back.algorithm == digest.algorithm && back.hex == digest.hex);
    EXPECT_TRUE(found) << digest.algorithm;
  }
  EXPECT_EQ(read->compressed_size, written.compressed_size);
  EXPECT_EQ(read->output_path, written.output_path);
  ASSERT_TRUE(read->upload.has_value());
  EXPECT_EQ(read->upload->url, written.upload->url);
  EXPECT_EQ(read->upload->etag, written.upload->etag);
  EXPECT_EQ(read->upload->checksum, written.upload->checksum);
  EXPECT_EQ(read->upload->attempts, 2u);
  EXPECT_EQ(read->upload->bytes, 1'234'567u);
  EXPECT_TRUE(read->resumed);
}

TEST(ManifestReader, FailedAndSymlinkRecordsKeepTheirReasonAndTarget) {
  FileRecord link;
  link.rel_path = "latest";
  link.kind = "symlink";
  link.status = FileStatus::skipped;
  link.symlink_target = "logs/\xff";
  link.error = "symlink not followed";
  const auto read = parse_manifest_record(ManifestWriter::serialize_record(link));
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->status, FileStatus::skipped);
  EXPECT_EQ(read->symlink_target, link.symlink_target);
  EXPECT_EQ(read->error, link.error);
  EXPECT_FALSE(read->resumed);
}

TEST(ManifestReader, WhatIsNotARecordGivesNothing) {
  for (
      const char* text :
      {"", "{", "[]", "{\"path\":\"a\"}", "{\"path\":1,\"kind\":\"file\",\"status\":\"ok\"}",
       R"({"path":"a","kind":"file","status":"ok","size":-1,"mode":"0644","mtime_ns":0})",
       R"({"path":"a","kind":"file","status":"gone","size":1,"mode":"0644","mtime_ns":0})",
       R"({"path":"a","kind":"file","status":"ok","size":1,"mode":"9","mtime_ns":0})",
       R"({"path":"a","path_base64":"!!","kind":"file","status":"ok","size":1,"mode":"0644","mtime_ns":0})"}) {
    EXPECT_FALSE(parse_manifest_record(text).has_value()) << text;
  }
}

}  // namespace
}  // namespace piperun::pipeline
