#include "pipeline/manifest_reader.hpp"

#include <array>
#include <charconv>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace piperun::pipeline {
namespace {

using Json = nlohmann::json;

// Standard, padded base64, as ManifestWriter writes it; nullopt on anything else.
std::optional<std::string> base64_decode(std::string_view text) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  if (text.size() % 4 != 0) return std::nullopt;
  std::string bytes;
  bytes.reserve(text.size() / 4 * 3);
  std::uint32_t bits = 0;
  int count = 0;
  std::size_t padding = 0;
  for (char c : text) {
    if (c == '=') {
      ++padding;
      bits <<= 6;
    } else {
      if (padding > 0) return std::nullopt;
      const std::size_t value = kAlphabet.find(c);
      if (value == std::string_view::npos) return std::nullopt;
      bits = (bits << 6) | static_cast<std::uint32_t>(value);
    }
    if (++count == 4) {
      bytes += static_cast<char>((bits >> 16) & 0xff);
      bytes += static_cast<char>((bits >> 8) & 0xff);
      bytes += static_cast<char>(bits & 0xff);
      bits = 0;
      count = 0;
    }
  }
  if (padding > 2) return std::nullopt;
  bytes.resize(bytes.size() - padding);
  return bytes;
}

// A name: the exact bytes of "<key>_base64" when present, else the UTF-8 text of "<key>".
std::optional<std::string> name_of(const Json& record, const std::string& key) {
  if (const auto exact = record.find(key + "_base64"); exact != record.end()) {
    if (!exact->is_string()) return std::nullopt;
    return base64_decode(exact->get_ref<const std::string&>());
  }
  const auto text = record.find(key);
  if (text == record.end() || !text->is_string()) return std::nullopt;
  return text->get<std::string>();
}

std::optional<FileStatus> status_of(std::string_view name) {
  if (name == "ok") return FileStatus::ok;
  if (name == "failed") return FileStatus::failed;
  if (name == "skipped") return FileStatus::skipped;
  return std::nullopt;
}

std::optional<mode_t> mode_of(std::string_view octal) {
  unsigned mode = 0;
  const auto [end, error] = std::from_chars(octal.data(), octal.data() + octal.size(), mode, 8);
  if (error != std::errc{} || end != octal.data() + octal.size() || mode > 07777)
    return std::nullopt;
  return static_cast<mode_t>(mode);
}

// Json's get<std::uint64_t>() would turn -1 into 2^64-1.
std::uint64_t unsigned_of(const Json& value) {
  if (!value.is_number_unsigned()) throw Json::type_error::create(302, "not a size", &value);
  return value.get<std::uint64_t>();
}

// The record, or nullopt where a field is missing or of the wrong type (Json::at and get throw
// on those: the caller turns that into nullopt).
std::optional<FileRecord> to_record(const Json& json) {
  FileRecord record;
  auto path = name_of(json, "path");
  auto status = status_of(json.at("status").get_ref<const std::string&>());
  auto mode = mode_of(json.at("mode").get_ref<const std::string&>());
  if (!path || !status || !mode) return std::nullopt;
  record.rel_path = std::move(*path);
  record.status = *status;
  record.mode = *mode;
  record.kind = json.at("kind").get<std::string>();
  record.size = unsigned_of(json.at("size"));
  record.mtime_ns = json.at("mtime_ns").get<std::int64_t>();
  if (const auto digests = json.find("digests"); digests != json.end()) {
    for (const auto& [algorithm, hex] : digests->items())
      record.digests.push_back(Digest{algorithm, hex.get<std::string>()});
  }
  if (const auto compressed = json.find("compressed_size"); compressed != json.end())
    record.compressed_size = unsigned_of(*compressed);
  if (json.contains("output")) {
    auto output = name_of(json, "output");
    if (!output) return std::nullopt;
    record.output_path = std::move(*output);
  }
  if (const auto upload = json.find("upload"); upload != json.end()) {
    UploadRecord& sent = record.upload.emplace();
    sent.skipped = upload->at("skipped").get<bool>();
    sent.url = upload->at("url").get<std::string>();
    sent.etag = upload->at("etag").get<std::string>();
    sent.checksum = upload->at("checksum").get<std::string>();
    sent.attempts = upload->at("attempts").get<unsigned>();
    sent.bytes = unsigned_of(upload->at("bytes"));
  }
  if (json.contains("symlink_target")) {
    auto target = name_of(json, "symlink_target");
    if (!target) return std::nullopt;
    record.symlink_target = std::move(*target);
  }
  if (const auto error = json.find("error"); error != json.end())
    record.error = error->get<std::string>();
  record.resumed = json.value("resumed", false);
  return record;
}

}  // namespace

std::optional<FileRecord> parse_manifest_record(std::string_view text) {
  while (!text.empty() && (text.back() == ',' || text.back() == '\n' || text.back() == ' '))
    text.remove_suffix(1);
  const Json json = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return std::nullopt;
  try {
    return to_record(json);
  } catch (const Json::exception&) {
    return std::nullopt;  // a field of the wrong type or missing
  }
}

}  // namespace piperun::pipeline
