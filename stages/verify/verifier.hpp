// `pipe-run verify MANIFEST`: every output a run recorded, checked against its manifest. See
// verifier.cpp for how the work is spread.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <string>

#include "stages/upload/store_access.hpp"

namespace piperun::stages::verify {

struct VerifyOptions {
  std::filesystem::path manifest;
  // Objects in a network store: download and hash them even where a HEAD could tell from the
  // digest pipe-run stored as metadata ("verify the bytes, not the metadata").
  bool download = false;
  unsigned cpu_threads = 1;  // workers that read, decompress and hash local outputs
  unsigned concurrency = 8;  // objects checked at once (each download holds a zstd window)
  // Network stores, as the main command has them: S3 endpoint and region (the manifest does not
  // record them), credentials from the environment.
  std::string endpoint;
  std::string region = "us-east-1";
  upload::StoreAccess access;  // credentials, from the environment
  unsigned retries = 5;
  std::chrono::milliseconds timeout{60000};
};

// One output that does not hold what the manifest says.
struct Problem {
  std::string location;  // the output's path, or the object's URL (never with credentials)
  std::string what;      // "missing", "size 10 != recorded 12", "xxh3-128 mismatch: ..."
};

struct VerifyCounts {
  std::uint64_t files = 0;    // records checked (status ok, kind file)
  std::uint64_t outputs = 0;  // files of the output tree and of a file:// store
  std::uint64_t objects = 0;  // objects of a network store
  std::uint64_t problems = 0;
};

struct VerifyError {
  enum class Kind { bad_manifest, fatal } kind = Kind::fatal;
  std::string message;
};

// Blocking: runs its own ring and CPU workers. `on_problem` is called on the calling thread,
// once per problem, as each is found.
std::expected<VerifyCounts, VerifyError> verify_manifest(
    const VerifyOptions& options, const std::function<void(const Problem&)>& on_problem);

}  // namespace piperun::stages::verify
