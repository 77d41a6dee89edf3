// --shard K/N: a deterministic partition of the inputs by path, so that N runs of the same job
// (N CI jobs) together record every entry exactly once.
//
// The function, so that users can predict it: an entry belongs to shard K of N when
//
//   XXH64(path, seed 0) mod N == K - 1
//
// where `path` is the entry's path as the manifest records it (FileEntry::rel_path: the bytes
// relative to its input root, '/'-separated; with several roots, prefixed by the root's folder
// name), hashed as raw bytes, without a trailing newline. `printf %s PATH | xxhsum -H1` prints
// the same XXH64. The shard depends on nothing else (not on sizes, contents or the other
// entries), so files keep their shard from run to run while the tree grows.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace piperun::pipeline {

// XXH64 of the bytes of `rel_path` with seed 0.
std::uint64_t shard_hash(std::string_view rel_path);

struct Shard {
  std::uint64_t index = 1;  // K, 1-based: 1 <= index <= count
  std::uint64_t count = 1;  // N >= 1; 1/1 is the whole input, the same as no --shard

  bool whole() const { return count == 1; }
  bool contains(std::string_view rel_path) const {
    return whole() || shard_hash(rel_path) % count == index - 1;
  }
  // "K/N", as --shard takes it.
  std::string to_string() const { return std::to_string(index) + "/" + std::to_string(count); }

  bool operator==(const Shard&) const = default;
};

}  // namespace piperun::pipeline
