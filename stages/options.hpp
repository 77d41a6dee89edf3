// Options of the stages. Filled by cli/ from the TOML file.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace piperun::stages {

enum class HashAlgorithm { xxh3_128, xxh64, sha256 };

struct HashOptions {
  std::vector<HashAlgorithm> algorithms{HashAlgorithm::xxh3_128};
};

struct CompressOptions {
  // The levels pipe-run accepts: zstd's fast levels down to -100, and 1 through 19 (20-22,
  // --ultra in the zstd command, need windows larger than a frame).
  static constexpr int kMinLevel = -100;
  static constexpr int kMaxLevel = 19;
  int level = 3;  // zstd level: negative (fast) through 19
};

struct WriteOptions {
  std::filesystem::path dir = "out";  // absolute once cli/ is done with it
  bool fsync = false;                 // flush files and their directories before success
};

enum class UploadLayout { mirror, content };
enum class TransportChecksum { md5, crc32c, crc64nvme, sha256, xxhash128, none };

struct UploadOptions {
  std::string url =
      "file:///srv/artifacts";  // s3://bucket/prefix, http(s)://host/path, file:///dir
  std::string endpoint;         // S3-compatible endpoint
  std::string region = "us-east-1";
  UploadLayout layout = UploadLayout::mirror;
  bool skip_existing = true;
  TransportChecksum checksum = TransportChecksum::md5;
  unsigned concurrency = 16;
  std::uint64_t part_size = 16ull << 20;
  std::uint64_t multipart_threshold = 64ull << 20;
  unsigned retries = 5;
  std::chrono::milliseconds timeout{60000};
  std::uint64_t bandwidth_limit = 0;  // bytes per second; 0 = none
};

}  // namespace piperun::stages
