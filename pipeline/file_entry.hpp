// One path found by the walker, handed to the I/O thread through the walk queue.
#pragma once

#include <cstdint>
#include <string>
#include <sys/types.h>

namespace piperun::pipeline {

enum class EntryKind {
  regular,  // to be opened and processed
  symlink,  // recorded with its target, not followed (follow_symlinks = false)
  special,  // FIFO, socket or device: skipped and reported, never opened
  error,    // could not be examined (stat or directory read failed, symlink loop)
};

struct FileEntry {
  // Bytes as the filesystem has them, '/'-separated, relative to the input root; with several
  // roots, prefixed by the root's own folder name. Not necessarily UTF-8.
  std::string rel_path;
  std::string abs_path;  // what open(2) gets
  EntryKind kind = EntryKind::regular;
  std::uint64_t size = 0;  // from the walker's stat: a hint, the file flow stats again
  mode_t mode = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;  // the walker's: a file read in one go is checked against it
  // On a local disk filesystem (ext4, xfs, btrfs, tmpfs...), where the stat of an open file
  // never waits for a device or a server.
  bool local_disk = false;
  std::string symlink_target;  // kind == symlink
  std::string message;         // kind == special: what it is; kind == error: what went wrong
};

}  // namespace piperun::pipeline
