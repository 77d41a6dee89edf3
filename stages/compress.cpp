#include "stages/compress.hpp"

#include <cassert>
#include <vector>

#include <tbb/enumerable_thread_specific.h>
#include <zstd.h>

#include "pipeline/in_order.hpp"

namespace piperun::stages {

// One zstd context per CPU worker, made on its first frame and reused for every later one.
class CompressStage::Contexts {
 public:
  explicit Contexts(int level) : level_(level) {}

  // Worker thread. Compresses `input` as one frame into `output`: its size, or zstd's error.
  std::expected<std::size_t, std::string> compress(std::span<const std::byte> input,
                                                   std::span<std::byte> output) {
    auto& context = per_thread_.local();
    if (!context) {
      context.reset(ZSTD_createCCtx());
      if (!context) return std::unexpected(std::string("out of memory for a zstd context"));
      ZSTD_CCtx_setParameter(context.get(), ZSTD_c_compressionLevel, level_);
      // As the zstd command does: a checksum in every frame, so `zstd -t` checks the content.
      ZSTD_CCtx_setParameter(context.get(), ZSTD_c_checksumFlag, 1);
    }
    const std::size_t result =
        ZSTD_compress2(context.get(), output.data(), output.size(), input.data(), input.size());
    if (ZSTD_isError(result)) return std::unexpected(std::string(ZSTD_getErrorName(result)));
    return result;
  }

 private:
  struct FreeContext {
    void operator()(ZSTD_CCtx* context) const { ZSTD_freeCCtx(context); }
  };
  int level_;
  tbb::enumerable_thread_specific<std::unique_ptr<ZSTD_CCtx, FreeContext>> per_thread_;
};

namespace {

// One chunk being compressed: owns its input and output buffers until the frame is passed on.
class FrameJob final : public pipeline::BackgroundJob {
 public:
  void start(pipeline::CpuPool& cpu, CompressStage::Contexts& contexts, io::BufferLease input,
             std::span<const std::byte> bytes, io::BufferLease output) {
    contexts_ = &contexts;
    input_ = std::move(input);
    bytes_ = bytes;
    output_ = std::move(output);
    output_bytes_ = output_.bytes();
    result_ = 0;
    BackgroundJob::start(cpu);
  }

  // After the job is done: the frame, or why there is none.
  std::expected<std::size_t, std::string>& result() { return result_; }
  io::BufferLease& output() { return output_; }
  std::span<const std::byte> frame() const { return output_bytes_.first(*result_); }
  std::size_t source_bytes() const { return bytes_.size(); }
  void release() {
    input_.release();
    output_.release();
  }

 private:
  void execute() noexcept override { result_ = contexts_->compress(bytes_, output_bytes_); }

  CompressStage::Contexts* contexts_ = nullptr;
  io::BufferLease input_;
  std::span<const std::byte> bytes_;
  io::BufferLease output_;
  std::span<std::byte> output_bytes_;
  std::expected<std::size_t, std::string> result_;
};

// Chunks are compressed in parallel and passed on in file order as their frames finish
// (pipeline::InOrder), so each frame's buffers are freed as soon as the stages after this one
// took it.
class CompressFileStage final : public pipeline::FileStage {
 public:
  CompressFileStage(CompressStage::Contexts& contexts, pipeline::Runtime& runtime,
                    std::unique_ptr<pipeline::FileStage> downstream, std::size_t frames)
      : contexts_(contexts),
        runtime_(runtime),
        downstream_(std::move(downstream)),
        frames_(*this, runtime.ring, frames) {}

  pipeline::task<pipeline::Status> on_chunk(pipeline::Chunk chunk) override {
    // The chain gives the last stage the lease, and a transforming stage is always its last.
    assert(chunk.lease != nullptr);
    co_return co_await start_frame(std::move(*chunk.lease), chunk.bytes);
  }

  pipeline::task<pipeline::Status> prepare() override { return downstream_->prepare(); }

  pipeline::task<pipeline::Status> finish(pipeline::FileRecord& record) override {
    // No chunk at all: an empty input still makes a valid (empty) frame.
    if (!started_any_) {
      if (auto started = co_await start_frame({}, {}); !started) co_return started;
    }
    co_await frames_.drain();
    if (!passed_on_) co_return passed_on_;
    record.compressed_size = out_offset_;
    co_return co_await downstream_->finish(record);
  }

  pipeline::task<void> abort() override {
    discard_ = true;
    co_await frames_.drain();
    co_await downstream_->abort();
  }

  // pipeline::InOrder: the oldest frame is done or about to be; pass it on.
  pipeline::task<void> complete(FrameJob& job) {
    co_await job;
    if (passed_on_ && !discard_) passed_on_ = co_await pass_on(job);
    job.release();
  }

 private:
  pipeline::task<pipeline::Status> start_frame(io::BufferLease input,
                                               std::span<const std::byte> bytes) {
    FrameJob* job = co_await frames_.reserve();
    if (!passed_on_) co_return passed_on_;
    io::BufferPool& outputs = *runtime_.output_buffers;
    const bool small = ZSTD_compressBound(bytes.size()) <= outputs.small_slot_bytes();
    io::BufferLease output =
        co_await outputs.acquire(small ? io::BufferSize::small : io::BufferSize::chunk);
    job->start(runtime_.cpu, contexts_, std::move(input), bytes, std::move(output));
    frames_.started();
    started_any_ = true;
    co_return pipeline::Status{};
  }

  pipeline::task<pipeline::Status> pass_on(FrameJob& job) {
    if (!job.result()) {
      co_return std::unexpected(pipeline::Failure{"compress: " + job.result().error()});
    }
    const pipeline::Chunk frame{out_offset_, job.frame(), &job.output(), job.source_bytes()};
    out_offset_ += frame.bytes.size();
    co_return co_await downstream_->on_chunk(frame);
  }

  CompressStage::Contexts& contexts_;
  pipeline::Runtime& runtime_;
  std::unique_ptr<pipeline::FileStage> downstream_;
  pipeline::InOrder<FrameJob, CompressFileStage> frames_;
  std::uint64_t out_offset_ = 0;
  pipeline::Status passed_on_;  // the first failure of a frame or of the stages after this one
  bool started_any_ = false;
  bool discard_ = false;  // aborted: frames are no longer passed on
};

std::size_t round_up_to_page(std::size_t bytes) {
  constexpr std::size_t kPage = 4096;
  return (bytes + kPage - 1) / kPage * kPage;
}

}  // namespace

CompressStage::CompressStage(CompressOptions options, unsigned threads)
    : contexts_(std::make_unique<Contexts>(options.level)),
      frames_in_flight_(std::max(2u, 2 * threads)) {}

CompressStage::~CompressStage() = default;

std::unique_ptr<pipeline::FileStage> CompressStage::begin(
    const pipeline::FileInfo& file, pipeline::Runtime& runtime,
    std::unique_ptr<pipeline::FileStage> downstream) {
  // A file of n chunks never has more than n frames in flight.
  const std::size_t chunk = runtime.buffers.buffer_bytes();
  const std::uint64_t chunks = std::max<std::uint64_t>(1, (file.size + chunk - 1) / chunk);
  const auto frames = static_cast<std::size_t>(std::min<std::uint64_t>(frames_in_flight_, chunks));
  return std::make_unique<CompressFileStage>(*contexts_, runtime, std::move(downstream), frames);
}

std::size_t CompressStage::output_buffer_bytes(std::size_t chunk_bytes) const noexcept {
  return round_up_to_page(ZSTD_compressBound(chunk_bytes));
}

}  // namespace piperun::stages
