// Digests of files already uploaded, kept on this machine between runs and keyed by what statx
// says of the file (device, inode, size, mtime, ctime): any change to the file changes the key.
// layout = "content" names objects after their digest, which a large file only has once it has
// been read, after its parts have left; with the digest from here, a re-run looks the object up
// before it sends a byte, and uploads a new one straight under its name.
//
// File: $XDG_CACHE_HOME/pipe-run/digests.tsv (or ~/.cache/...), one "device inode size
// mtime_ns ctime_ns algorithm digest" line per file, rewritten whole (temporary + rename).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <unordered_map>

namespace piperun::stages::upload {

struct FileIdentity {
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;

  bool known() const { return inode != 0; }
  bool operator==(const FileIdentity&) const = default;
};

class DigestCache {
 public:
  // The default file; empty when there is no home to keep it in.
  static std::filesystem::path default_path();

  explicit DigestCache(std::filesystem::path file) : file_(std::move(file)) {}

  // Reads the file; a missing or unreadable one is an empty cache.
  void load();
  // Writes the file if anything was added (errors are ignored: it is only a cache).
  void save() const;

  std::optional<std::string> find(const FileIdentity& file, std::string_view algorithm) const;
  void add(const FileIdentity& file, std::string_view algorithm, std::string digest);

 private:
  static std::string key_of(const FileIdentity& file, std::string_view algorithm);

  std::filesystem::path file_;
  std::unordered_map<std::string, std::string> digests_;
  bool changed_ = false;
};

}  // namespace piperun::stages::upload
