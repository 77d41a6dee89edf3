// The checksum files beside the manifest, one per algorithm, in the format of the stock tools
// (`xxhsum -H2`, `xxhsum -H1`, `sha256sum`), so that `xxhsum -c` / `sha256sum -c` run from the
// input root verify the inputs:
//
//   <hex>  <path relative to the input root>\n
//
// A name holding '\n' or '\r' cannot be written as is: its line is written the GNU coreutils
// way, a leading '\' and then, in the name, "\\" for '\', "\n" for LF and "\r" for CR. GNU
// sha256sum reads that back; xxhsum 0.8.1 (Debian 12) does not know the escape and reports such
// a file as unreadable. Every other name, backslashes included, is written literally: a line
// that does not start with '\' is read literally by every version of both tools.
//
// Only records with status ok and a digest of the file's algorithm get a line, in add() order.
//
// Threads: as ManifestWriter: open() and finish() block; add() runs on the I/O thread and only
// serialises into memory.
#pragma once

#include <expected>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/file_record.hpp"
#include "pipeline/output_file.hpp"

namespace piperun::pipeline {

struct ChecksumFile {
  std::string algorithm;  // "xxh3-128", "xxh64" or "sha256"
  std::filesystem::path path;
};

class ChecksumWriter {
 public:
  // Creates every file's directories and temporary file. An unknown algorithm, or a file that
  // cannot be created, is an error naming it; then nothing stays open. Call once.
  std::expected<void, std::string> open(std::vector<ChecksumFile> files);

  // I/O thread. Never blocks on I/O. Ignored unless open() succeeded.
  void add(const FileRecord& record);

  // Publishes every file (with fsync: durably). Tries them all; the error lists each failure.
  std::expected<void, std::string> finish(bool fsync);

  // Drops every file: nothing appears under their paths. Also done by the destructor when
  // finish() did not run.
  void abandon() noexcept;
  // The final and the temporary path of every file, once open.
  std::vector<std::filesystem::path> paths() const;

  // The configured path with its extension replaced by the algorithm's own: ".xxh128" for
  // xxh3-128, ".xxh64", ".sha256" ("out/checksums.xxh128" stays as is for xxh3-128; a path
  // without extension gets one). An unknown algorithm gets "." and its name.
  static std::filesystem::path checksum_path_for(const std::filesystem::path& configured,
                                                 std::string_view algorithm);

  // One line, newline included, escaped as described above.
  static std::string format_line(std::string_view hex, std::string_view rel_path);

 private:
  struct Output {
    std::string algorithm;
    std::unique_ptr<OutputFile> file;  // OutputFile owns a mutex and a thread: it does not move
  };
  std::vector<Output> outputs_;
};

}  // namespace piperun::pipeline
