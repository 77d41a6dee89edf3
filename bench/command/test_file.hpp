// The benchmark's test file, DIR/pipe-run-bench.dat: laid out once, then reused by every run
// that asks for the same size and compressibility (recorded in the extended attribute
// user.pipe-run.bench), as fio reuses the files it lays out.
#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <string>

namespace piperun::bench {

struct TestFile {
  std::filesystem::path path;
  std::uint64_t size = 0;
  bool reused = false;
};

// Written under a temporary name (a leftover of an interrupted run is removed first), flushed
// to the disk and renamed when complete. `progress` gets the fraction written. Errors name the
// file and what failed.
std::expected<TestFile, std::string> lay_out_test_file(const std::filesystem::path& dir,
                                                       std::uint64_t size, double compressibility,
                                                       const std::function<void(double)>& progress);

}  // namespace piperun::bench
