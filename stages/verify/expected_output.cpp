#include "stages/verify/expected_output.hpp"

#include <fmt/core.h>

#include "stages/hash.hpp"

namespace piperun::stages::verify {
namespace {

bool lists(std::string_view list, std::string_view item) {
  std::size_t start = 0;
  while (start <= list.size()) {
    const std::size_t comma = std::min(list.find(',', start), list.size());
    if (list.substr(start, comma - start) == item) return true;
    start = comma + 1;
  }
  return false;
}

std::string_view first_of(std::string_view list) {
  return list.substr(0, list.find(','));
}

std::string setting(const std::map<std::string, std::string>& settings, const std::string& key) {
  const auto found = settings.find(key);
  return found == settings.end() ? std::string() : found->second;
}

}  // namespace

std::optional<HashAlgorithm> algorithm_named(std::string_view name) {
  for (HashAlgorithm algorithm :
       {HashAlgorithm::xxh3_128, HashAlgorithm::xxh64, HashAlgorithm::sha256}) {
    if (algorithm_name(algorithm) == name) return algorithm;
  }
  return std::nullopt;
}

std::expected<OutputSettings, std::string> output_settings(
    const std::map<std::string, std::string>& settings) {
  OutputSettings out;
  const std::string stages = setting(settings, "pipeline.stages");
  if (lists(stages, "write")) out.output_dir = setting(settings, "output.dir");
  if (lists(stages, "upload")) out.upload_url = setting(settings, "upload.url");
  if (lists(stages, "compress")) out.suffix = ".zst";
  const std::string layout = setting(settings, "upload.layout");
  if (!out.upload_url.empty() && layout != "mirror" && layout != "content")
    return std::unexpected(fmt::format("upload.layout '{}' is neither mirror nor content", layout));
  out.content_layout = layout == "content";
  if (lists(stages, "hash")) {
    const std::string algorithms = setting(settings, "hash.algorithms");
    const std::string_view first = first_of(algorithms);
    out.algorithm = algorithm_named(first);
    if (!out.algorithm) return std::unexpected(fmt::format("unknown hash algorithm '{}'", first));
    out.algorithm_name = std::string(first);
  }
  return out;
}

std::expected<std::vector<ExpectedOutput>, std::string> expected_outputs(
    const pipeline::FileRecord& record, const OutputSettings& settings) {
  std::vector<ExpectedOutput> outputs;
  if (record.status != pipeline::FileStatus::ok || record.kind != "file") return outputs;
  ExpectedContent content;
  content.compressed = record.compressed_size.has_value();
  content.stored_bytes = record.compressed_size.value_or(record.size);
  content.size = record.size;
  for (const pipeline::Digest& digest : record.digests) {
    if (digest.algorithm == settings.algorithm_name) content.digest_hex = digest.hex;
  }
  if (!record.output_path.empty() && !settings.output_dir.empty()) {
    outputs.push_back(ExpectedOutput{OutputKind::tree_file,
                                     (settings.output_dir / record.output_path).string(), content});
  }
  if (record.upload && !settings.upload_url.empty()) {
    std::string key;
    if (!settings.content_layout) {
      key = record.rel_path + settings.suffix;
    } else if (!content.digest_hex.empty()) {
      key = content.digest_hex + settings.suffix;
    } else {
      return std::unexpected(fmt::format(
          "no {} digest recorded to name its object (layout content)", settings.algorithm_name));
    }
    if (settings.upload_url.starts_with("file://")) {
      std::string dir = settings.upload_url.substr(7);
      while (dir.size() > 1 && dir.back() == '/')
        dir.pop_back();
      outputs.push_back(ExpectedOutput{OutputKind::store_file, dir + "/" + key, content});
    } else {
      outputs.push_back(ExpectedOutput{OutputKind::object, std::move(key), content});
    }
  }
  return outputs;
}

std::optional<std::string> compare(const ExpectedContent& expected, const FoundContent& found,
                                   std::string_view algorithm_name) {
  if (!found.exists) return "missing";
  if (found.stored_bytes && *found.stored_bytes != expected.stored_bytes) {
    return fmt::format("{}size {} != recorded {}", expected.compressed ? "compressed " : "",
                       *found.stored_bytes, expected.stored_bytes);
  }
  if (!found.error.empty()) return found.error;
  if (found.size != expected.size)
    return fmt::format("size {} != recorded {}", found.size, expected.size);
  if (!expected.digest_hex.empty() && !found.digest_hex.empty() &&
      found.digest_hex != expected.digest_hex) {
    return fmt::format("{} mismatch: {} != recorded {}", algorithm_name, found.digest_hex,
                       expected.digest_hex);
  }
  return std::nullopt;
}

}  // namespace piperun::stages::verify
