// The GitHub Actions step summary: when GITHUB_STEP_SUMMARY names a file, a Markdown section is
// appended to it at exit (GitHub shows the file on the run's page): a heading with the config's
// name and how the run ended, a table of the figures, and the first failures.
#pragma once

#include <expected>
#include <filesystem>
#include <string>

#include "cli/report/run_outcome.hpp"

namespace piperun::cli::report {

// The variable GitHub Actions sets to the step's summary file.
inline constexpr const char* kStepSummaryVariable = "GITHUB_STEP_SUMMARY";

std::string format_step_summary(const RunOutcome& outcome);

// `text` made safe inside a Markdown table cell: UTF-8, punctuation that Markdown would read
// as markup (the cell separator `|` among it) backslash-escaped, line breaks as <br>.
std::string markdown_cell(std::string_view text);

// Appends the section to `path` (created when missing), keeping what is there. Blocks: call
// at exit. The error names the path and the reason.
std::expected<void, std::string> append_step_summary(const std::filesystem::path& path,
                                                     const RunOutcome& outcome);

}  // namespace piperun::cli::report
