#include "pipeline/checksum_writer.hpp"

#include <array>
#include <utility>

#include <fmt/format.h>

namespace piperun::pipeline {
namespace {

struct AlgorithmFormat {
  std::string_view algorithm;
  std::string_view extension;
};

// The extensions are the ones the stock tools' users expect; xxhsum itself tells the
// algorithm by the digest's length (32 hex digits: XXH128, 16: XXH64).
constexpr std::array<AlgorithmFormat, 3> kFormats{{
    {"xxh3-128", ".xxh128"},
    {"xxh64", ".xxh64"},
    {"sha256", ".sha256"},
}};

const AlgorithmFormat* find_format(std::string_view algorithm) {
  for (const AlgorithmFormat& format : kFormats) {
    if (format.algorithm == algorithm) return &format;
  }
  return nullptr;
}

}  // namespace

std::filesystem::path ChecksumWriter::checksum_path_for(const std::filesystem::path& configured,
                                                        std::string_view algorithm) {
  const AlgorithmFormat* format = find_format(algorithm);
  std::filesystem::path path = configured;
  path.replace_extension(format != nullptr ? std::string(format->extension)
                                           : "." + std::string(algorithm));
  return path;
}

std::string ChecksumWriter::format_line(std::string_view hex, std::string_view rel_path) {
  const bool escaped = rel_path.find_first_of("\n\r") != std::string_view::npos;
  std::string line;
  line.reserve(hex.size() + rel_path.size() + 8);
  if (escaped) line += '\\';
  line += hex;
  line += "  ";
  if (!escaped) {
    line += rel_path;
  } else {
    for (char c : rel_path) {
      switch (c) {
        case '\\':
          line += "\\\\";
          break;
        case '\n':
          line += "\\n";
          break;
        case '\r':
          line += "\\r";
          break;
        default:
          line += c;
      }
    }
  }
  line += '\n';
  return line;
}

std::expected<void, std::string> ChecksumWriter::open(std::vector<ChecksumFile> files) {
  for (const ChecksumFile& file : files) {
    if (find_format(file.algorithm) == nullptr) {
      return std::unexpected(fmt::format("checksum file '{}': unknown algorithm '{}'",
                                         file.path.string(), file.algorithm));
    }
  }
  for (ChecksumFile& file : files) {
    auto output = std::make_unique<OutputFile>();
    if (auto opened = output->open(file.path); !opened) {
      abandon();
      return opened;
    }
    outputs_.push_back({std::move(file.algorithm), std::move(output)});
  }
  return {};
}

void ChecksumWriter::add(const FileRecord& record) {
  if (record.status != FileStatus::ok) return;
  for (Output& output : outputs_) {
    for (const Digest& digest : record.digests) {
      if (digest.algorithm != output.algorithm || digest.hex.empty()) continue;
      output.file->append(format_line(digest.hex, record.rel_path));
      break;
    }
  }
}

std::expected<void, std::string> ChecksumWriter::finish(bool fsync) {
  std::string errors;
  for (Output& output : outputs_) {
    if (auto committed = output.file->commit(fsync); !committed) {
      if (!errors.empty()) errors += "; ";
      errors += committed.error();
    }
  }
  outputs_.clear();
  if (!errors.empty()) return std::unexpected(std::move(errors));
  return {};
}

void ChecksumWriter::abandon() noexcept {
  for (Output& output : outputs_)
    output.file->abandon();
  outputs_.clear();
}

std::vector<std::filesystem::path> ChecksumWriter::paths() const {
  std::vector<std::filesystem::path> all;
  for (const Output& output : outputs_) {
    all.push_back(output.file->final_path());
    all.push_back(output.file->temp_path());
  }
  return all;
}

}  // namespace piperun::pipeline
