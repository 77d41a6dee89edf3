#include "stages/verify/manifest_scan.hpp"

#include <cerrno>
#include <cstring>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "pipeline/manifest_reader.hpp"

namespace piperun::stages::verify {
namespace {

using Json = nlohmann::json;

constexpr int kFormatVersion = 1;  // ManifestWriter::kFormatVersion, the one format we read
constexpr std::string_view kFilesOpen = "  \"files\": [";
constexpr std::string_view kFilesEmpty = "  \"files\": [],";
constexpr std::string_view kRecordIndent = "    {";

std::string_view without_trailing_comma(std::string_view line) {
  while (!line.empty() && (line.back() == ',' || line.back() == ' ' || line.back() == '\r'))
    line.remove_suffix(1);
  return line;
}

}  // namespace

std::string ManifestScan::where() const {
  return fmt::format("{}:{}", path_.string(), line_number_);
}

std::expected<ManifestScan, std::string> ManifestScan::open(const std::filesystem::path& path) {
  ManifestScan scan;
  scan.path_ = path;
  scan.in_ = std::make_unique<std::ifstream>(path, std::ios::binary);
  if (!*scan.in_)
    return std::unexpected(fmt::format("cannot read {}: {}", path.string(), std::strerror(errno)));
  std::string line;
  bool version_seen = false;
  bool settings_seen = false;
  while (std::getline(*scan.in_, line)) {
    ++scan.line_number_;
    if (scan.line_number_ == 1) {
      if (line != "{")
        return std::unexpected(scan.where() + ": not a pipe-run manifest (it must start with '{')");
      continue;
    }
    if (line == kFilesOpen || line == kFilesEmpty) {
      scan.files_done_ = line == kFilesEmpty;
      if (!version_seen) return std::unexpected(scan.where() + ": no manifest_version before it");
      if (!settings_seen) return std::unexpected(scan.where() + ": no settings before it");
      return scan;
    }
    // A header line is one member of the top-level object: `  "key": value,`.
    const Json member = Json::parse("{" + std::string(without_trailing_comma(line)) + "}", nullptr,
                                    /*allow_exceptions=*/false);
    if (!member.is_object() || member.size() != 1)
      return std::unexpected(scan.where() + ": not a manifest header line");
    // Not a structured binding of items(): its proxy is a temporary, gone before the names.
    const auto first = member.begin();
    const std::string& key = first.key();
    const Json& value = first.value();
    if (key == "manifest_version") {
      if (!value.is_number_integer() || value.get<int>() != kFormatVersion)
        return std::unexpected(fmt::format("{}: manifest_version {}: this pipe-run reads {}",
                                           scan.where(), value.dump(), kFormatVersion));
      version_seen = true;
    } else if (key == "config_file" && value.is_string()) {
      scan.config_file_ = value.get<std::string>();
    } else if (key == "settings") {
      if (!value.is_object()) return std::unexpected(scan.where() + ": settings is not an object");
      for (const auto& [name, setting] : value.items()) {
        if (!setting.is_string())
          return std::unexpected(fmt::format("{}: setting {} is not a string", scan.where(), name));
        scan.settings_[name] = setting.get<std::string>();
      }
      settings_seen = true;
    }
  }
  if (scan.line_number_ == 0) return std::unexpected(path.string() + ": empty file");
  return std::unexpected(path.string() + ": not a pipe-run manifest (no \"files\" list)");
}

std::expected<std::optional<pipeline::FileRecord>, std::string> ManifestScan::next() {
  if (files_done_) return std::nullopt;
  std::string line;
  if (!std::getline(*in_, line)) {
    ++line_number_;
    return std::unexpected(where() + ": the manifest ends inside its \"files\" list (truncated?)");
  }
  ++line_number_;
  if (without_trailing_comma(line) == "  ]") {
    files_done_ = true;
    return std::nullopt;
  }
  std::optional<pipeline::FileRecord> record;
  if (line.starts_with(kRecordIndent)) record = pipeline::parse_manifest_record(line);
  if (!record) return std::unexpected(where() + ": not a file record of a pipe-run manifest");
  return record;
}

}  // namespace piperun::stages::verify
