// The human summary printed at the end of a run.
#pragma once

#include <string>

#include "pipeline/run_stats.hpp"

namespace piperun::cli {

std::string format_summary(const pipeline::RunStats& stats);

}  // namespace piperun::cli
