#include "stages/verify/content_hasher.hpp"

#include <zstd.h>

namespace piperun::stages::verify {

ContentHasher::ContentHasher(std::optional<HashAlgorithm> algorithm) : algorithm_(algorithm) {
  std::vector<HashAlgorithm> algorithms;
  if (algorithm_) algorithms.push_back(*algorithm_);
  digests_ = std::make_unique<Digests>(algorithms);
}

ContentHasher::~ContentHasher() {
  ZSTD_freeDCtx(dctx_);
}

void ContentHasher::start(bool compressed) {
  compressed_ = compressed;
  inside_frame_ = false;
  content_ = Content{};
  error_.clear();
  digests_->reset();
  if (!compressed_) return;
  if (dctx_ == nullptr) {
    dctx_ = ZSTD_createDCtx();
    out_.resize(ZSTD_DStreamOutSize());
  } else {
    ZSTD_DCtx_reset(dctx_, ZSTD_reset_session_only);
  }
}

void ContentHasher::update(std::span<const std::byte> bytes) {
  content_.stored_bytes += bytes.size();
  if (!error_.empty() || bytes.empty()) return;
  if (compressed_) {
    decompress(bytes);
    return;
  }
  content_.size += bytes.size();
  digests_->update(bytes);
}

void ContentHasher::decompress(std::span<const std::byte> bytes) {
  if (dctx_ == nullptr) {
    error_ = "zstd: out of memory";
    return;
  }
  ZSTD_inBuffer in{bytes.data(), bytes.size(), 0};
  // Until the input is used up and zstd has nothing more to give (an output buffer it did not
  // fill): a full buffer may leave decoded bytes behind.
  for (;;) {
    ZSTD_outBuffer out{out_.data(), out_.size(), 0};
    const std::size_t hint = ZSTD_decompressStream(dctx_, &out, &in);
    if (ZSTD_isError(hint)) {
      error_ = std::string("not a valid zstd stream: ") + ZSTD_getErrorName(hint);
      return;
    }
    content_.size += out.pos;
    digests_->update(std::span(out_).first(out.pos));
    inside_frame_ = hint != 0;
    if (in.pos == in.size && out.pos < out.size) return;
  }
}

std::expected<Content, std::string> ContentHasher::finish() {
  if (!error_.empty()) return std::unexpected(error_);
  if (compressed_ && inside_frame_)
    return std::unexpected(std::string("truncated zstd stream (it ends inside a frame)"));
  std::vector<pipeline::Digest> digests;
  digests_->append_to(digests);
  if (!digests.empty()) content_.digest_hex = std::move(digests.front().hex);
  return content_;
}

}  // namespace piperun::stages::verify
