#include "pipeline/manifest_writer.hpp"

#include <chrono>
#include <string_view>
#include <sys/stat.h>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace piperun::pipeline {
namespace {

using Json = nlohmann::ordered_json;

// Length of the well-formed UTF-8 sequence starting at text[at] (Unicode 15, table 3-7: no
// overlong forms, no surrogates, nothing above U+10FFFF), or 0 if there is none.
std::size_t utf8_sequence_length(std::string_view text, std::size_t at) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[at + i]); };
  const auto continuation = [&](std::size_t i, unsigned char low = 0x80,
                                unsigned char high = 0xBF) {
    return at + i < text.size() && byte(i) >= low && byte(i) <= high;
  };
  const unsigned char lead = byte(0);
  if (lead <= 0x7F) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return continuation(1) ? 2 : 0;
  if (lead == 0xE0) return continuation(1, 0xA0) && continuation(2) ? 3 : 0;
  if ((lead >= 0xE1 && lead <= 0xEC) || lead == 0xEE || lead == 0xEF) {
    return continuation(1) && continuation(2) ? 3 : 0;
  }
  if (lead == 0xED) return continuation(1, 0x80, 0x9F) && continuation(2) ? 3 : 0;
  if (lead == 0xF0) return continuation(1, 0x90) && continuation(2) && continuation(3) ? 4 : 0;
  if (lead >= 0xF1 && lead <= 0xF3) {
    return continuation(1) && continuation(2) && continuation(3) ? 4 : 0;
  }
  if (lead == 0xF4)
    return continuation(1, 0x80, 0x8F) && continuation(2) && continuation(3) ? 4 : 0;
  return 0;
}

bool is_valid_utf8(std::string_view text) {
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t length = utf8_sequence_length(text, at);
    if (length == 0) return false;
    at += length;
  }
  return true;
}

// Each byte that does not start a well-formed sequence becomes U+FFFD.
std::string replace_invalid_utf8(std::string_view text) {
  std::string result;
  result.reserve(text.size() + 8);
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t length = utf8_sequence_length(text, at);
    if (length == 0) {
      result += "\xEF\xBF\xBD";
      ++at;
    } else {
      result.append(text.substr(at, length));
      at += length;
    }
  }
  return result;
}

std::string to_utf8(std::string_view text) {
  return is_valid_utf8(text) ? std::string(text) : replace_invalid_utf8(text);
}

std::string base64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string result;
  result.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t at = 0;
  for (; at + 3 <= bytes.size(); at += 3) {
    const std::uint32_t group = static_cast<unsigned char>(bytes[at]) << 16 |
                                static_cast<unsigned char>(bytes[at + 1]) << 8 |
                                static_cast<unsigned char>(bytes[at + 2]);
    result += kAlphabet[group >> 18 & 63];
    result += kAlphabet[group >> 12 & 63];
    result += kAlphabet[group >> 6 & 63];
    result += kAlphabet[group & 63];
  }
  if (const std::size_t rest = bytes.size() - at; rest > 0) {
    std::uint32_t group = static_cast<unsigned char>(bytes[at]) << 16;
    if (rest == 2) group |= static_cast<unsigned char>(bytes[at + 1]) << 8;
    result += kAlphabet[group >> 18 & 63];
    result += kAlphabet[group >> 12 & 63];
    result += rest == 2 ? kAlphabet[group >> 6 & 63] : '=';
    result += '=';
  }
  return result;
}

// Sets `key` (and `key`_base64 when the bytes are not UTF-8) so the name survives exactly.
void set_name(Json& object, const char* key, std::string_view name) {
  if (is_valid_utf8(name)) {
    object[key] = name;
  } else {
    object[key] = replace_invalid_utf8(name);
    object[std::string(key) + "_base64"] = base64(name);
  }
}

// RFC 3339 in UTC with nanoseconds: "2026-11-28T10:12:00.123456789Z". Splits seconds first so
// that no step overflows, even at the ends of the int64 range (years 1677 and 2262).
std::string format_utc(std::int64_t time_ns) {
  using namespace std::chrono;
  constexpr std::int64_t kNsPerSecond = 1'000'000'000;
  std::int64_t subsecond_ns = time_ns % kNsPerSecond;
  std::int64_t whole_seconds = time_ns / kNsPerSecond;
  if (subsecond_ns < 0) {
    subsecond_ns += kNsPerSecond;
    whole_seconds -= 1;
  }
  const sys_seconds time{seconds{whole_seconds}};
  const sys_days day = floor<days>(time);
  const year_month_day date{day};
  const hh_mm_ss<seconds> time_of_day{time - day};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", static_cast<int>(date.year()),
                     static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                     time_of_day.hours().count(), time_of_day.minutes().count(),
                     time_of_day.seconds().count(), subsecond_ns);
}

const char* status_name(FileStatus status) {
  switch (status) {
    case FileStatus::ok:
      return "ok";
    case FileStatus::failed:
      return "failed";
    case FileStatus::skipped:
      return "skipped";
  }
  return "failed";
}

// Every text is made UTF-8 before it gets here; `replace` only guards against a slip, so that
// dump() can never throw on the I/O thread.
std::string dump(const Json& value, int indent = -1) {
  return value.dump(indent, ' ', false, Json::error_handler_t::replace);
}

// Indents every line after the first by `spaces`, to nest a dump(2) inside the document.
// JSON strings hold no raw newline, so every '\n' in a dump separates lines.
std::string indent_nested(std::string text, std::string_view spaces) {
  std::string result;
  result.reserve(text.size() + text.size() / 8);
  for (char c : text) {
    result += c;
    if (c == '\n') result += spaces;
  }
  return result;
}

std::string string_array(const std::vector<std::string>& items) {
  Json array = Json::array();
  for (const std::string& item : items)
    array.push_back(to_utf8(item));
  return dump(array);
}

// Appends `text`, which must be valid UTF-8, as a JSON string literal.
void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  std::size_t plain_from = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(text.substr(plain_from, i - plain_from));
    plain_from = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
    }
  }
  out.append(text.substr(plain_from));
  out += '"';
}

// `"key":"name"`, plus `,"key_base64":"..."` when the bytes are not UTF-8, so the name
// survives exactly.
void append_name(std::string& out, std::string_view key, std::string_view name) {
  fmt::format_to(std::back_inserter(out), "\"{}\":", key);
  if (is_valid_utf8(name)) {
    append_json_string(out, name);
    return;
  }
  append_json_string(out, replace_invalid_utf8(name));
  fmt::format_to(std::back_inserter(out), ",\"{}_base64\":\"{}\"", key, base64(name));
}

// Written by hand rather than through nlohmann::json: this runs on the I/O thread for every
// file, and building a json object cost 5-6 us a record against about 1 us here.
void append_record(std::string& out, const FileRecord& record) {
  out += '{';
  append_name(out, "path", record.rel_path);
  out += ",\"kind\":";
  append_json_string(out, to_utf8(record.kind));
  fmt::format_to(
      std::back_inserter(out),
      ",\"status\":\"{}\",\"size\":{},\"mode\":\"{:04o}\",\"mtime\":\"{}\",\"mtime_ns\":{}",
      status_name(record.status), record.size, record.mode & 07777, format_utc(record.mtime_ns),
      record.mtime_ns);
  if (!record.digests.empty()) {
    out += ",\"digests\":{";
    bool first = true;
    for (const Digest& digest : record.digests) {
      if (!first) out += ',';
      first = false;
      append_json_string(out, to_utf8(digest.algorithm));
      out += ':';
      append_json_string(out, to_utf8(digest.hex));
    }
    out += '}';
  }
  if (record.compressed_size) {
    const std::uint64_t compressed = *record.compressed_size;
    fmt::format_to(std::back_inserter(out), ",\"compressed_size\":{},\"ratio\":{:.4f}", compressed,
                   compressed > 0 ? static_cast<double>(record.size) / compressed : 0.0);
  }
  if (!record.output_path.empty()) {
    out += ',';
    append_name(out, "output", record.output_path);
  }
  if (record.upload) {
    const UploadRecord& upload = *record.upload;
    fmt::format_to(std::back_inserter(out), ",\"upload\":{{\"status\":\"{}\",\"url\":",
                   upload.skipped ? "unchanged" : "uploaded");
    append_json_string(out, to_utf8(upload.url));
    out += ",\"etag\":";
    append_json_string(out, to_utf8(upload.etag));
    out += ",\"checksum\":";
    append_json_string(out, upload.checksum);
    fmt::format_to(std::back_inserter(out), ",\"attempts\":{},\"bytes\":{},\"skipped\":{}}}",
                   upload.attempts, upload.bytes, upload.skipped);
  }
  if (record.kind == "symlink" || !record.symlink_target.empty()) {
    out += ',';
    append_name(out, "symlink_target", record.symlink_target);
  }
  if (record.resumed) out += ",\"resumed\":true";
  if (!record.error.empty()) {
    out += ",\"error\":";
    append_json_string(out, to_utf8(record.error));
  }
  out += '}';
}

}  // namespace

std::string ManifestWriter::serialize_record(const FileRecord& record) {
  std::string out;
  append_record(out, record);
  return out;
}

std::string ManifestWriter::valid_utf8(std::string_view text) {
  return to_utf8(text);
}

std::expected<void, std::string> ManifestWriter::open(const std::filesystem::path& path,
                                                      const ManifestHeader& header) {
  if (auto opened = file_.open(path); !opened) return opened;
  open_ = true;
  std::string text = "{\n";
  text += fmt::format("  \"manifest_version\": {},\n", kFormatVersion);
  text += "  \"tool\": \"pipe-run\",\n";
  text += fmt::format("  \"tool_version\": {},\n", dump(Json(to_utf8(header.tool_version))));
  text += fmt::format("  \"config_file\": {},\n", dump(Json(to_utf8(header.config_file))));
  text += fmt::format("  \"roots\": {},\n", string_array(header.roots));
  text += fmt::format("  \"stages\": {},\n", string_array(header.stages));
  if (!header.shard.empty()) text += fmt::format("  \"shard\": {},\n", dump(Json(header.shard)));
  Json settings = Json::object();
  for (const auto& [key, value] : header.settings)
    settings[to_utf8(key)] = to_utf8(value);
  text += fmt::format("  \"settings\": {},\n", dump(settings));
  text += "  \"files\": [";
  file_.append(std::move(text));
  return {};
}

void ManifestWriter::add(const FileRecord& record) {
  if (!open_) return;
  std::string& out = file_.staging();
  out += records_ == 0 ? "\n    " : ",\n    ";
  append_record(out, record);
  file_.staged();

  ++records_;
  switch (record.status) {
    case FileStatus::ok:
      ++ok_;
      if (record.resumed) ++resumed_;
      break;
    case FileStatus::skipped:
      ++skipped_;
      break;
    case FileStatus::failed:
      ++failed_;
      if (listed_failures_.size() < kMaxListedFailures) {
        listed_failures_.push_back({record.rel_path, record.error});
      }
      break;
  }
}

std::expected<void, std::string> ManifestWriter::finish(const RunStats& stats, bool fsync) {
  if (!open_) return std::unexpected(std::string("manifest: finish() without a successful open()"));
  Json summary = Json::object();
  summary["files"] = Json{{"total", records_},
                          {"ok", ok_},
                          {"failed", failed_},
                          {"skipped", skipped_},
                          {"resumed", resumed_}};
  summary["bytes_in"] = stats.bytes_in;
  summary["bytes_out"] = stats.bytes_out;
  if (stats.compressed_out > 0) summary["ratio"] = stats.compression_ratio();
  if (stats.objects_uploaded + stats.objects_unchanged > 0) {
    summary["upload"] = Json{{"objects_uploaded", stats.objects_uploaded},
                             {"objects_unchanged", stats.objects_unchanged},
                             {"bytes_uploaded", stats.bytes_uploaded}};
  }
  summary["duration_s"] = std::chrono::duration<double>(stats.duration).count();
  summary["throughput_mb_s"] = stats.throughput_mb_s();
  summary["interrupted"] = stats.interrupted;
  Json failures = Json::array();
  for (const ListedFailure& listed : listed_failures_) {
    Json failure = Json::object();
    set_name(failure, "path", listed.rel_path);
    failure["error"] = to_utf8(listed.error);
    failures.push_back(std::move(failure));
  }
  summary["failures"] = std::move(failures);
  const std::string summary_text = indent_nested(dump(summary, 2), "  ");

  std::string text = records_ == 0 ? "],\n" : "\n  ],\n";
  text += "  \"summary\": ";
  text += summary_text;
  text += "\n}\n";
  file_.append(std::move(text));
  open_ = false;
  return file_.commit(fsync);
}

}  // namespace piperun::pipeline
