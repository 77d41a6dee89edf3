// What a manifest record promises (where each output is, what it holds) and how a finding is
// judged against it: the rules verify applies, without any I/O.
#include <gtest/gtest.h>

#include "stages/verify/expected_output.hpp"

namespace piperun::stages::verify {
namespace {

std::map<std::string, std::string> settings_of(std::string stages, std::string url = "",
                                               std::string layout = "mirror") {
  return {{"pipeline.stages", std::move(stages)},
          {"hash.algorithms", "xxh64,xxh3-128"},
          {"output.dir", "/data/out"},
          {"upload.url", std::move(url)},
          {"upload.layout", std::move(layout)}};
}

pipeline::FileRecord compressed_record() {
  pipeline::FileRecord record;
  record.rel_path = "logs/app.log";
  record.kind = "file";
  record.size = 1000;
  record.compressed_size = 120;
  record.digests = {{"xxh3-128", "00112233445566778899aabbccddeeff"},
                    {"xxh64", "0123456789abcdef"}};
  record.output_path = "logs/app.log.zst";
  record.upload.emplace();
  return record;
}

TEST(VerifyExpectedOutput, SettingsSayWhereOutputsAreAndWhichDigestCounts) {
  auto settings = output_settings(settings_of("hash,compress,write,upload", "s3://b/p"));
  ASSERT_TRUE(settings) << settings.error();
  EXPECT_EQ(settings->output_dir, "/data/out");
  EXPECT_EQ(settings->upload_url, "s3://b/p");
  EXPECT_EQ(settings->suffix, ".zst");
  EXPECT_FALSE(settings->content_layout);
  EXPECT_EQ(settings->algorithm, HashAlgorithm::xxh64);  // the first one configured
  EXPECT_EQ(settings->algorithm_name, "xxh64");

  auto copy_only = output_settings(settings_of("write"));
  ASSERT_TRUE(copy_only) << copy_only.error();
  EXPECT_EQ(copy_only->suffix, "");
  EXPECT_TRUE(copy_only->upload_url.empty());
  EXPECT_FALSE(copy_only->algorithm);  // no hash stage: sizes only

  auto odd = settings_of("hash,write");
  odd["hash.algorithms"] = "md5";
  EXPECT_FALSE(output_settings(odd));
  EXPECT_FALSE(output_settings(settings_of("upload", "s3://b", "flat")));
}

TEST(VerifyExpectedOutput, ARecordPromisesItsTreeFileAndItsStoredObject) {
  const auto settings =
      output_settings(settings_of("hash,compress,write,upload", "file:///srv/store/"));
  ASSERT_TRUE(settings);
  const auto outputs = expected_outputs(compressed_record(), *settings);
  ASSERT_TRUE(outputs) << outputs.error();
  ASSERT_EQ(outputs->size(), 2u);
  EXPECT_EQ((*outputs)[0].kind, OutputKind::tree_file);
  EXPECT_EQ((*outputs)[0].location, "/data/out/logs/app.log.zst");
  EXPECT_EQ((*outputs)[1].kind, OutputKind::store_file);
  EXPECT_EQ((*outputs)[1].location, "/srv/store/logs/app.log.zst");
  for (const ExpectedOutput& output : *outputs) {
    EXPECT_TRUE(output.content.compressed);
    EXPECT_EQ(output.content.stored_bytes, 120u);
    EXPECT_EQ(output.content.size, 1000u);
    EXPECT_EQ(output.content.digest_hex, "0123456789abcdef");  // xxh64: the first algorithm
  }
}

TEST(VerifyExpectedOutput, ObjectsAreNamedAsTheUploadStageNamesThem) {
  auto record = compressed_record();
  const auto mirror = expected_outputs(
      record, *output_settings(settings_of("hash,compress,upload", "s3://bucket/prefix")));
  ASSERT_TRUE(mirror);
  ASSERT_EQ(mirror->size(), 1u);  // no write stage: no tree file
  EXPECT_EQ((*mirror)[0].kind, OutputKind::object);
  EXPECT_EQ((*mirror)[0].location, "logs/app.log.zst");

  const auto content_settings =
      *output_settings(settings_of("hash,compress,upload", "s3://bucket", "content"));
  const auto content = expected_outputs(record, content_settings);
  ASSERT_TRUE(content);
  EXPECT_EQ((*content)[0].location, "0123456789abcdef.zst");

  record.digests.clear();  // nothing to name it after
  EXPECT_FALSE(expected_outputs(record, content_settings));
}

TEST(VerifyExpectedOutput, OnlyOkRegularFilesPromiseOutputs) {
  const auto settings = *output_settings(settings_of("hash,compress,write"));
  auto failed = compressed_record();
  failed.status = pipeline::FileStatus::failed;
  EXPECT_TRUE(expected_outputs(failed, settings)->empty());
  auto symlink = compressed_record();
  symlink.kind = "symlink";
  EXPECT_TRUE(expected_outputs(symlink, settings)->empty());

  auto plain = compressed_record();
  plain.compressed_size.reset();
  plain.output_path = "logs/app.log";
  const auto outputs = expected_outputs(plain, settings);
  ASSERT_EQ(outputs->size(), 1u);
  EXPECT_FALSE((*outputs)[0].content.compressed);
  EXPECT_EQ((*outputs)[0].content.stored_bytes, 1000u);
}

// What reading an output found (`stored` bytes known), or what a HEAD found (not known).
FoundContent found(std::optional<std::uint64_t> stored, std::uint64_t size, std::string digest,
                   std::string error = "") {
  FoundContent content;
  content.stored_bytes = stored;
  content.size = size;
  content.digest_hex = std::move(digest);
  content.error = std::move(error);
  return content;
}

TEST(VerifyExpectedOutput, TheFirstDifferenceFoundIsTheProblemReported) {
  const ExpectedContent expected{true, 120, 1000, "00ff"};
  FoundContent gone;
  gone.exists = false;
  EXPECT_EQ(compare(expected, gone, "xxh64"), "missing");
  EXPECT_EQ(compare(expected, found(100, 0, "", "truncated"), "xxh64"),
            "compressed size 100 != recorded 120");
  EXPECT_EQ(compare(expected, found(120, 0, "", "bad frame"), "xxh64"), "bad frame");
  EXPECT_EQ(compare(expected, found(120, 999, "00ff"), "xxh64"), "size 999 != recorded 1000");
  EXPECT_EQ(compare(expected, found(120, 1000, "11ee"), "xxh64"),
            "xxh64 mismatch: 11ee != recorded 00ff");
  EXPECT_EQ(compare(expected, found(120, 1000, "00ff"), "xxh64"), std::nullopt);
  // A HEAD knows the original's size and digest, not the stored bytes.
  EXPECT_EQ(compare(expected, found(std::nullopt, 1000, "00ff"), "xxh64"), std::nullopt);
  EXPECT_EQ(compare(expected, found(std::nullopt, 1000, "11ee"), "xxh64"),
            "xxh64 mismatch: 11ee != recorded 00ff");
  const ExpectedContent plain{false, 1000, 1000, ""};
  EXPECT_EQ(compare(plain, found(10, 10, ""), ""), "size 10 != recorded 1000");
  EXPECT_EQ(compare(plain, found(1000, 1000, "aa"), ""), std::nullopt);  // no digest recorded
}

}  // namespace
}  // namespace piperun::stages::verify
