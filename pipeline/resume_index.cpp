#include "pipeline/resume_index.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <functional>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "io/ops.hpp"
#include "pipeline/manifest_reader.hpp"

namespace piperun::pipeline {
namespace {

// ManifestWriter puts the settings on one line of the header and every record on a line of its
// own, indented by four spaces; that layout is what lets a record be found again by offset.
constexpr std::string_view kSettingsLine = "  \"settings\": ";
constexpr std::string_view kRecordIndent = "    {";

bool same_settings(std::string_view line, const ResumeIndex::Settings& settings) {
  std::string_view value = line.substr(kSettingsLine.size());
  while (!value.empty() && value.back() == ',')
    value.remove_suffix(1);
  const auto earlier = nlohmann::json::parse(value, nullptr, false);
  if (!earlier.is_object() || earlier.size() != settings.size()) return false;
  for (const auto& [key, wanted] : settings) {
    const auto found = earlier.find(key);
    if (found == earlier.end() || !found->is_string() || found->get<std::string>() != wanted)
      return false;
  }
  return true;
}

}  // namespace

std::uint64_t ResumeIndex::hash_path(std::string_view rel_path) noexcept {
  return std::hash<std::string_view>{}(rel_path);
}

std::expected<ResumeIndex, std::string> ResumeIndex::open(const std::filesystem::path& manifest,
                                                          const Settings& settings) {
  ResumeIndex index;
  index.fd_ = ::open(manifest.c_str(), O_RDONLY | O_CLOEXEC);
  if (index.fd_ < 0) {
    if (errno == ENOENT) return index;
    return std::unexpected("cannot read the earlier manifest " + manifest.string() + ": " +
                           std::strerror(errno));
  }
  std::ifstream in(manifest, std::ios::binary);
  std::string line;
  std::uint64_t offset = 0;
  bool settings_match = false;
  while (std::getline(in, line)) {
    const std::uint64_t line_offset = offset;
    offset += line.size() + 1;
    if (line.starts_with(kSettingsLine)) {
      settings_match = same_settings(line, settings);
      if (!settings_match) break;
      continue;
    }
    if (!settings_match || !line.starts_with(kRecordIndent)) continue;
    const std::optional<FileRecord> record = parse_manifest_record(line);
    if (!record || record->status != FileStatus::ok || record->kind != "file") continue;
    index.entries_.push_back(Entry{hash_path(record->rel_path), record->size, record->mtime_ns,
                                   line_offset, static_cast<std::uint32_t>(line.size()),
                                   static_cast<std::uint32_t>(record->mode)});
  }
  if (!settings_match) {
    return std::unexpected("the earlier manifest " + manifest.string() +
                           " was made with other settings: every file is processed");
  }
  std::sort(index.entries_.begin(), index.entries_.end(),
            [](const Entry& a, const Entry& b) { return a.path_hash < b.path_hash; });
  return index;
}

ResumeIndex::ResumeIndex(ResumeIndex&& other) noexcept
    : entries_(std::move(other.entries_)), fd_(std::exchange(other.fd_, -1)) {}

ResumeIndex& ResumeIndex::operator=(ResumeIndex&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    entries_ = std::move(other.entries_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

ResumeIndex::~ResumeIndex() {
  if (fd_ >= 0) ::close(fd_);
}

std::optional<ResumeIndex::Location> ResumeIndex::find(const FileEntry& entry) const {
  if (entry.kind != EntryKind::regular) return std::nullopt;
  const std::uint64_t hash = hash_path(entry.rel_path);
  auto it = std::lower_bound(entries_.begin(), entries_.end(), hash,
                             [](const Entry& e, std::uint64_t h) { return e.path_hash < h; });
  for (; it != entries_.end() && it->path_hash == hash; ++it) {
    if (it->size == entry.size && it->mtime_ns == entry.mtime_ns &&
        it->mode == (entry.mode & 07777))
      return Location{it->offset, it->length};
  }
  return std::nullopt;
}

task<std::optional<FileRecord>> ResumeIndex::read(io::Ring& ring, Location where,
                                                  const std::string& rel_path) const {
  std::string text(where.length, '\0');
  io::TransferOp op;
  op.start(ring, io::TransferOp::Direction::read, fd_,
           std::as_writable_bytes(std::span(text.data(), text.size())), where.offset, -1);
  auto read = co_await op;
  if (!read || *read != text.size()) co_return std::nullopt;
  std::optional<FileRecord> record = parse_manifest_record(text);
  // Another path with the same hash: not this file's record.
  if (!record || record->rel_path != rel_path) co_return std::nullopt;
  co_return record;
}

}  // namespace piperun::pipeline
