// Reads a manifest back as ManifestWriter lays it out: a header of one `"key": value` a line,
// then "files" with one record a line, then the summary. Streaming: one line in memory at a
// time, so a manifest of millions of files costs no more than one of ten.
// Errors name the file and, where there is one, the line: "FILE:LINE: why".
#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "pipeline/file_record.hpp"

namespace piperun::stages::verify {

class ManifestScan {
 public:
  // Blocking. Opens the manifest and reads its header.
  static std::expected<ManifestScan, std::string> open(const std::filesystem::path& path);

  // The header's "settings" ("section.key" -> value): what decided each file's outputs.
  const std::map<std::string, std::string>& settings() const noexcept { return settings_; }
  const std::string& config_file() const noexcept { return config_file_; }

  // Blocking. The next record of "files"; nullopt after the last one. An error on a line that
  // is not a record, or when the manifest ends before its list does.
  std::expected<std::optional<pipeline::FileRecord>, std::string> next();

 private:
  ManifestScan() = default;
  std::string where() const;  // "FILE:LINE"

  std::filesystem::path path_;
  std::unique_ptr<std::ifstream> in_;
  std::uint64_t line_number_ = 0;
  bool files_done_ = false;
  std::map<std::string, std::string> settings_;
  std::string config_file_;
};

}  // namespace piperun::stages::verify
