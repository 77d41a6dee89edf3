// A stage row of `pipe-run bench`: one run of the engine itself, with a prefix of the stage
// chain (none, hash, hash+compress, ...), over the test file, writing into a scratch
// directory that is removed afterwards.
#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <string>
#include <vector>

#include "io/ring_setup.hpp"
#include "pipeline/run_stats.hpp"

namespace piperun::bench {

struct StageRowSpec {
  std::filesystem::path input;      // the test file
  std::filesystem::path scratch;    // outputs, manifest, checksums: removed after the row
  std::vector<std::string> stages;  // e.g. {"hash", "compress"}; empty: read only
  int level = 3;
  unsigned queue_depth = 64;
  bool direct = false;
  unsigned cpu_threads = 1;
  io::RingSetup ring_setup = io::RingSetup::automatic;
};

std::expected<pipeline::RunStats, std::string> run_stage_row(const StageRowSpec& spec);

}  // namespace piperun::bench
