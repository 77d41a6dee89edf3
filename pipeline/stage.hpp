// The stage interface: how pipeline/ sees hash, compress, write and upload without knowing them.
//
// For every file the engine asks each stage for a FileStage, feeds it the file's chunks in file
// order, then asks it to finish (or aborts it when the file failed). Everything here runs on the
// I/O thread; a stage that needs CPU time co_awaits runtime.cpu.offload(...).
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <sys/types.h>

#include "io/buffer_pool.hpp"
#include "io/ring.hpp"
#include "pipeline/file_record.hpp"
#include "pipeline/offload.hpp"
#include "pipeline/task.hpp"

namespace piperun::pipeline {

// Why a file failed, for the manifest and stderr ("read: Input/output error").
struct Failure {
  std::string message;
};
using Status = std::expected<void, Failure>;

struct Runtime {
  io::Ring& ring;
  CpuPool& cpu;
  io::BufferPool& buffers;
};

struct FileInfo {
  const std::string& rel_path;
  std::uint64_t size;
  mode_t mode;
  std::int64_t mtime_ns;
};

struct Chunk {
  std::uint64_t offset;
  std::span<const std::byte> bytes;
  // The buffer holding `bytes`. A stage that must keep the bytes after on_chunk returns (a
  // parallel compressor) moves the lease out; otherwise the file flow reuses it.
  io::BufferLease* lease;
};

class FileStage {
 public:
  virtual ~FileStage() = default;
  // Called once per chunk, in file order; the next call comes only after this one is done.
  virtual task<Status> on_chunk(Chunk chunk) = 0;
  // Every chunk was delivered: complete the work and add results to `record`.
  virtual task<Status> finish(FileRecord& record) = 0;
};

class Stage {
 public:
  virtual ~Stage() = default;
  virtual std::string_view name() const noexcept = 0;
  virtual std::unique_ptr<FileStage> begin(const FileInfo& file, Runtime& runtime) = 0;
};

}  // namespace piperun::pipeline
