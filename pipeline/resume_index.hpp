// Resume: what a re-run may take over from the manifest of the earlier run at the same path.
//
// A file is resumed, not read again, when the earlier run (with the same settings) recorded it
// as done and its size, mtime and mode are still those of the record, and every stage confirms
// that its outputs are still in place (Stage::outputs_hold). Its record, digests included, is
// then carried over into the new manifest and checksum files.
//
// Memory: the index keeps ~40 bytes a file (a hash of the path, what the quick check compares,
// and where the record lies); the record itself is read back from the old manifest, through the
// ring, only for a file that passes the quick check. The old manifest stays open, so the new
// one can replace it.
#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "io/ring.hpp"
#include "pipeline/file_entry.hpp"
#include "pipeline/file_record.hpp"
#include "pipeline/task.hpp"

namespace piperun::pipeline {

class ResumeIndex {
 public:
  using Settings = std::vector<std::pair<std::string, std::string>>;

  // Blocking: before the loop. No earlier manifest: an empty index. One that cannot serve
  // (unreadable, another format, other settings): an error that says why, for -v; the run then
  // processes every file.
  static std::expected<ResumeIndex, std::string> open(const std::filesystem::path& manifest,
                                                      const Settings& settings);

  ResumeIndex() = default;
  ResumeIndex(ResumeIndex&& other) noexcept;
  ResumeIndex& operator=(ResumeIndex&& other) noexcept;
  ~ResumeIndex();

  std::size_t size() const noexcept { return entries_.size(); }

  // Where the record of `entry` lies, when the earlier run did it and its size, mtime and mode
  // are unchanged.
  struct Location {
    std::uint64_t offset = 0;
    std::uint32_t length = 0;
  };
  std::optional<Location> find(const FileEntry& entry) const;

  // I/O thread. The record at `where`, when it is still the record of `rel_path`.
  task<std::optional<FileRecord>> read(io::Ring& ring, Location where,
                                       const std::string& rel_path) const;

 private:
  struct Entry {
    std::uint64_t path_hash = 0;
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;
    std::uint64_t offset = 0;
    std::uint32_t length = 0;
    std::uint32_t mode = 0;  // permission bits, as the manifest has them
  };
  static std::uint64_t hash_path(std::string_view rel_path) noexcept;

  std::vector<Entry> entries_;  // sorted by path_hash
  int fd_ = -1;
};

}  // namespace piperun::pipeline
