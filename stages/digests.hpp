// Whole-file digests, fed in file order: XXH3-128 (what `xxhsum -H2` prints), XXH64, SHA-256
// (OpenSSL), as the stock tools print them. The hash stage computes them on the way in; verify
// computes them again from the outputs.
//
// Alignment: XXH3_state_t wants 64 bytes, which a coroutine frame does not promise. Keep a
// Digests on the heap or in a worker's state, never as a local of a coroutine that suspends.
#pragma once

#define XXH_STATIC_LINKING_ONLY  // XXH3_state_t by value: no malloc per file
#include <optional>
#include <span>
#include <vector>

#include <openssl/evp.h>
#include <xxhash.h>

#include "pipeline/file_record.hpp"
#include "stages/options.hpp"

namespace piperun::stages {

class Digests {
 public:
  explicit Digests(const std::vector<HashAlgorithm>& algorithms);
  ~Digests();
  Digests(const Digests&) = delete;
  Digests& operator=(const Digests&) = delete;

  void update(std::span<const std::byte> bytes);
  // Appends one digest per algorithm, in the order given, and ends this round: call reset()
  // before the next file.
  void append_to(std::vector<pipeline::Digest>& out);
  // Starts over for another file, with the same algorithms.
  void reset();

 private:
  std::vector<HashAlgorithm> algorithms_;
  std::optional<XXH3_state_t> xxh3_;
  std::optional<XXH64_state_t> xxh64_;
  EVP_MD_CTX* sha256_ = nullptr;
};

}  // namespace piperun::stages
