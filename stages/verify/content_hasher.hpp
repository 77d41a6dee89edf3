// What an output holds, from its bytes as the run stored them: the original's size and digest,
// decompressing a .zst on the way (any number of frames, as compress writes them: zstd checks
// each frame's content checksum too), hashing a plain copy as it is. Fed in order, in pieces of
// any size. Memory: zstd's window (at most one frame, a chunk) and one output buffer, whatever
// the output's size.
//
// One output at a time, reused from one to the next (start()). Holds a Digests: keep it on the
// heap, never in a coroutine frame.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "stages/digests.hpp"
#include "stages/options.hpp"

typedef struct ZSTD_DCtx_s ZSTD_DCtx;  // NOLINT: as zstd.h declares it

namespace piperun::stages::verify {

struct Content {
  std::uint64_t stored_bytes = 0;  // as stored: the .zst's bytes, or the copy's
  std::uint64_t size = 0;          // of the original (decompressed)
  std::string digest_hex;          // of the original; empty without an algorithm
};

class ContentHasher {
 public:
  // `algorithm`: the digest to compute; none: sizes only.
  explicit ContentHasher(std::optional<HashAlgorithm> algorithm);
  ~ContentHasher();
  ContentHasher(const ContentHasher&) = delete;
  ContentHasher& operator=(const ContentHasher&) = delete;

  // Starts a new output: `compressed` when it is a .zst.
  void start(bool compressed);
  void update(std::span<const std::byte> bytes);
  // The content, or why the bytes are not a whole zstd stream (corrupt, truncated).
  std::expected<Content, std::string> finish();
  // Bytes fed since start(), also when they did not decode.
  std::uint64_t stored_bytes() const noexcept { return content_.stored_bytes; }

 private:
  void decompress(std::span<const std::byte> bytes);

  std::optional<HashAlgorithm> algorithm_;
  std::unique_ptr<Digests> digests_;
  ZSTD_DCtx* dctx_ = nullptr;
  std::vector<std::byte> out_;  // ZSTD_DStreamOutSize(): one decompressed block
  bool compressed_ = false;
  bool inside_frame_ = false;  // the last byte fed did not end a frame
  Content content_;
  std::string error_;  // the first decoding error; the rest of the output is ignored
};

}  // namespace piperun::stages::verify
