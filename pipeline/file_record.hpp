// What the run knows about one file once it is done: the manifest's and checksum file's input.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace piperun::pipeline {

enum class FileStatus { ok, failed, skipped };

struct Digest {
  std::string algorithm;  // "xxh3-128", "xxh64", "sha256" (the config's names)
  std::string hex;        // lowercase, in the byte order the stock tool prints
};

// What the upload stage did with the file.
struct UploadRecord {
  bool skipped = false;     // the store already held the same content
  std::string url;          // never with credentials
  std::string etag;         // as the store sent it; may be empty
  std::string checksum;     // "<algorithm>:<base64>" the store verified; empty: none
  unsigned attempts = 0;    // requests sent, retries included
  std::uint64_t bytes = 0;  // sent (0 when skipped)
};

struct FileRecord {
  std::string rel_path;  // as FileEntry::rel_path: raw bytes, maybe not UTF-8
  std::string kind;      // "file", "symlink", "fifo", "socket", "char-device", "block-device"...
  FileStatus status = FileStatus::ok;
  std::uint64_t size = 0;
  mode_t mode = 0;
  std::int64_t mtime_ns = 0;
  std::string symlink_target;
  std::vector<Digest> digests;
  std::optional<std::uint64_t> compressed_size;  // set by compress
  std::string output_path;  // set by write: relative to output.dir, raw bytes like rel_path
  std::optional<UploadRecord> upload;  // set by upload
  std::string error;                   // failed: why; skipped: the reason
  // Not read in this run: unchanged since the earlier run whose record (and outputs) it keeps.
  bool resumed = false;
};

}  // namespace piperun::pipeline
