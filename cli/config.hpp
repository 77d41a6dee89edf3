// The TOML configuration: parsed, validated and turned into the engine's and stages' options.
// Only cli/ knows TOML; everything below sees plain option structs.
#pragma once

#include <expected>
#include <filesystem>
#include <map>
#include <span>
#include <string>

#include "pipeline/options.hpp"
#include "stages/options.hpp"

namespace piperun::cli {

struct Config {
  std::filesystem::path file;  // the config file itself (absolute)
  pipeline::InputOptions input;
  pipeline::PipelineOptions pipeline;
  stages::HashOptions hash;
  stages::CompressOptions compress;
  pipeline::OutputOptions output;
  stages::UploadOptions upload;
  pipeline::ReportOptions report;

  // "section.key" -> where its value came from, as error messages start: "FILE:LINE:
  // section.key", "--set section.key". For checks made after loading.
  std::map<std::string, std::string, std::less<>> origins;
  std::string origin_of(std::string_view key) const {
    if (auto it = origins.find(key); it != origins.end()) return it->second;
    return file.string() + ": " + std::string(key);
  }
};

struct ConfigError {
  // One line, ready for stderr: "FILE:LINE: section.key: what is wrong" (":LINE" omitted when
  // the culprit has no line, e.g. a --set override or a missing file).
  std::string message;
};

// Loads `file`, applies `overrides` ("section.key=value", value in TOML syntax, a bare word taken
// as a string), validates every key and resolves relative paths against the file's folder.
std::expected<Config, ConfigError> load_config(const std::filesystem::path& file,
                                               std::span<const std::string> overrides);

}  // namespace piperun::cli
