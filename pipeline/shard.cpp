#include "pipeline/shard.hpp"

// pipeline/ does not link libxxhash (the hash stage does, above it): XXH64 of a short path is
// compiled in here from the header, which defines the same function.
#define XXH_INLINE_ALL
#include <xxhash.h>

namespace piperun::pipeline {

std::uint64_t shard_hash(std::string_view rel_path) {
  return XXH64(rel_path.data(), rel_path.size(), 0);
}

}  // namespace piperun::pipeline
