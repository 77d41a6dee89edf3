// load_config: TOML file + --set overrides -> validated option structs.
//
// Order of work, and why:
//   1. read and parse the file (a syntax error stops everything);
//   2. apply the overrides onto the parsed table, so they go through the same checks as the
//      file's own keys;
//   3. check the shape (known sections and keys) and every key's type and range, collecting the
//      problems and reporting the first one: --set problems first, then the file's by line;
//   4. only when all of that passed: checks against the filesystem and the environment
//      (inputs exist and do not overlap, output outside the inputs, S3 credentials).
// Every message is one line: "FILE:LINE: section.key: what" ("--set section.key: what" for an
// overridden key, "FILE: section.key: what" for a default with no line).
#include "cli/config.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <fcntl.h>
#include <limits>
#include <optional>
#include <set>
#include <string_view>
#include <sys/stat.h>
#include <system_error>
#include <tuple>
#include <unistd.h>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

#include "cli/size_parse.hpp"
#include "pipeline/glob.hpp"

namespace piperun::cli {
namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// The contract of DESIGN.md, "Configuration".

struct SectionSchema {
  std::string_view name;
  std::span<const std::string_view> keys;
};

constexpr std::string_view kInputKeys[] = {"paths",  "include",         "exclude",
                                           "hidden", "follow_symlinks", "if_no_files"};
constexpr std::string_view kPipelineKeys[] = {
    "stages", "memory_limit", "chunk_size", "queue_depth", "threads", "direct_io", "sqpoll"};
constexpr std::string_view kHashKeys[] = {"algorithms"};
constexpr std::string_view kCompressKeys[] = {"level"};
constexpr std::string_view kOutputKeys[] = {"dir", "manifest", "checksums", "fsync", "resume"};
constexpr std::string_view kUploadKeys[] = {"url",         "endpoint",      "region",
                                            "layout",      "skip_existing", "checksum",
                                            "concurrency", "part_size",     "multipart_threshold",
                                            "retries",     "timeout",       "bandwidth_limit"};
constexpr std::string_view kReportKeys[] = {"progress_interval", "events", "prometheus"};

constexpr std::array<SectionSchema, 7> kSchema{{
    {"input", kInputKeys},
    {"pipeline", kPipelineKeys},
    {"hash", kHashKeys},
    {"compress", kCompressKeys},
    {"output", kOutputKeys},
    {"upload", kUploadKeys},
    {"report", kReportKeys},
}};

// In the order they run.
constexpr std::string_view kStageNames[] = {"hash", "compress", "write", "upload"};

std::size_t stage_rank(std::string_view stage) {
  return static_cast<std::size_t>(std::find(std::begin(kStageNames), std::end(kStageNames), stage) -
                                  std::begin(kStageNames));
}

constexpr std::uint64_t kKiB = 1024;
constexpr std::uint64_t kMiB = 1024 * kKiB;
constexpr std::uint64_t kGiB = 1024 * kMiB;
constexpr std::uint64_t kTiB = 1024 * kGiB;

constexpr std::uint64_t kMinChunk = 64 * kKiB;
constexpr std::uint64_t kMaxChunk = 256 * kMiB;
constexpr std::uint64_t kChunkAlign = 4096;  // O_DIRECT and page alignment
constexpr std::uint64_t kMaxMemory = kTiB;
constexpr std::uint64_t kMinPart = 5 * kMiB;  // S3's multipart limits
constexpr std::uint64_t kMaxPart = 5 * kGiB;
constexpr int kDefaultLevel = 3;  // what zstd means by level 0
constexpr std::chrono::milliseconds kMinProgressInterval{100};

template <typename E>
using Choices = std::span<const std::pair<std::string_view, E>>;

constexpr std::pair<std::string_view, pipeline::IfNoFiles> kIfNoFiles[] = {
    {"error", pipeline::IfNoFiles::error},
    {"warn", pipeline::IfNoFiles::warn},
    {"ignore", pipeline::IfNoFiles::ignore},
};
constexpr std::pair<std::string_view, stages::HashAlgorithm> kHashAlgorithms[] = {
    {"xxh3-128", stages::HashAlgorithm::xxh3_128},
    {"xxh64", stages::HashAlgorithm::xxh64},
    {"sha256", stages::HashAlgorithm::sha256},
};
constexpr std::pair<std::string_view, stages::UploadLayout> kLayouts[] = {
    {"mirror", stages::UploadLayout::mirror},
    {"content", stages::UploadLayout::content},
};
constexpr std::pair<std::string_view, stages::TransportChecksum> kChecksums[] = {
    {"md5", stages::TransportChecksum::md5},
    {"crc32c", stages::TransportChecksum::crc32c},
    {"crc64nvme", stages::TransportChecksum::crc64nvme},
    {"sha256", stages::TransportChecksum::sha256},
    {"xxhash128", stages::TransportChecksum::xxhash128},
    {"none", stages::TransportChecksum::none},
};

// ---------------------------------------------------------------------------------------------
// Small helpers.

bool contains(std::span<const std::string_view> names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

const SectionSchema* find_section(std::string_view name) {
  for (const SectionSchema& section : kSchema) {
    if (section.name == name) return &section;
  }
  return nullptr;
}

std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// "a, b, c or d"
std::string join_or(std::span<const std::string_view> names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
    out += names[i];
  }
  return out;
}

template <typename E>
std::string join_or(Choices<E> choices) {
  std::vector<std::string_view> names;
  for (const auto& choice : choices)
    names.push_back(choice.first);
  return join_or(names);
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The candidate a typo most likely meant, if any is close: one edit for short words, two else.
std::optional<std::string_view> closest(std::string_view word,
                                        std::span<const std::string_view> candidates) {
  std::optional<std::string_view> best;
  std::size_t best_distance = std::numeric_limits<std::size_t>::max();
  for (std::string_view candidate : candidates) {
    const std::size_t distance = edit_distance(word, candidate);
    const std::size_t allowed = std::min(word.size(), candidate.size()) <= 4 ? 1 : 2;
    if (distance <= allowed && distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

std::string did_you_mean(std::optional<std::string_view> suggestion) {
  return suggestion ? fmt::format(" (did you mean '{}'?)", *suggestion) : std::string();
}

// A key that some other section has, e.g. `level` written under [pipeline].
std::optional<std::string> section_holding(std::string_view key) {
  for (const SectionSchema& section : kSchema) {
    if (contains(section.keys, key)) return fmt::format("{}.{}", section.name, key);
  }
  return std::nullopt;
}

std::string unknown_key_message(const SectionSchema& section, std::string_view key) {
  std::string message = fmt::format("unknown key '{}'", key);
  if (auto near = closest(key, section.keys)) return message + did_you_mean(near);
  if (auto elsewhere = section_holding(key)) return message + did_you_mean(*elsewhere);
  const std::string lower = ascii_lower(key);
  for (std::string_view secret : {"secret", "access_key", "password", "token", "credential"}) {
    if (lower.find(secret) != std::string::npos) {
      return message +
             " (secrets come from the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, "
             "AWS_SESSION_TOKEN; never from the file)";
    }
  }
  return message;
}

std::string unknown_section_message(std::string_view name) {
  std::vector<std::string_view> names;
  for (const SectionSchema& section : kSchema)
    names.push_back(section.name);
  std::string message = fmt::format("unknown section '{}'", name);
  if (auto near = closest(name, names)) return message + did_you_mean(near);
  // A key written above every [section] header lands at the top level.
  if (auto holder = section_holding(name)) return message + did_you_mean(*holder);
  return message;
}

std::string_view type_name(toml::node_type type) {
  switch (type) {
    case toml::node_type::none:
      return "nothing";
    case toml::node_type::table:
      return "table";
    case toml::node_type::array:
      return "array";
    case toml::node_type::string:
      return "string";
    case toml::node_type::integer:
      return "integer";
    case toml::node_type::floating_point:
      return "float";
    case toml::node_type::boolean:
      return "boolean";
    case toml::node_type::date:
      return "date";
    case toml::node_type::time:
      return "time";
    case toml::node_type::date_time:
      return "date-time";
  }
  return "unknown";
}

// Messages quote what the user wrote, which may hold a newline; the message must stay one line.
std::string one_line(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  return out;
}

std::string errno_message(int error) {
  return std::error_code(error, std::generic_category()).message();
}

std::expected<std::string, std::string> read_whole_file(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::unexpected(fmt::format("cannot open: {}", errno_message(errno)));
  struct stat info {};
  if (::fstat(fd, &info) == 0 && S_ISDIR(info.st_mode)) {
    ::close(fd);
    return std::unexpected(std::string("is a directory, not a TOML file"));
  }
  std::string content;
  char buffer[16384];
  for (;;) {
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;  // a signal arrived mid-read: nothing was lost
    if (got < 0) {
      const int error = errno;
      ::close(fd);
      return std::unexpected(fmt::format("cannot read: {}", errno_message(error)));
    }
    if (got == 0) break;
    content.append(buffer, static_cast<std::size_t>(got));
  }
  ::close(fd);
  return content;
}

// Absolute and lexically normal, without a trailing '/' (so filename() names the last part).
fs::path tidy(const fs::path& path) {
  fs::path out = path.lexically_normal();
  if (!out.has_filename() && out != out.root_path()) out = out.parent_path();
  return out;
}

// Whether `inner` is `outer` or lies below it, both absolute and tidy.
bool lies_within(const fs::path& inner, const fs::path& outer) {
  auto [outer_end, inner_end] =
      std::mismatch(outer.begin(), outer.end(), inner.begin(), inner.end());
  (void)inner_end;
  return outer_end == outer.end();
}

// Also through symlinks, as far as the paths exist.
bool lies_within_physically(const fs::path& inner, const fs::path& outer) {
  if (lies_within(inner, outer)) return true;
  std::error_code error;
  const fs::path real_inner = fs::weakly_canonical(inner, error);
  if (error) return false;
  const fs::path real_outer = fs::weakly_canonical(outer, error);
  if (error) return false;
  return lies_within(tidy(real_inner), tidy(real_outer));
}

// host[:port], host a name, an IPv4 address or a bracketed IPv6 address.
std::optional<std::string> check_authority(std::string_view authority) {
  if (authority.empty()) return "has no host";
  if (authority.find('@') != std::string_view::npos) {
    return "must not hold credentials (user@host): secrets come from the environment "
           "(PIPE_RUN_HTTP_AUTH=user:password, or ~/.netrc)";
  }
  std::string_view host = authority;
  std::string_view port;
  if (host.front() == '[') {
    const std::size_t close = host.find(']');
    if (close == std::string_view::npos) return "has an unclosed '[' in its host";
    port = host.substr(close + 1);
    host = host.substr(1, close - 1);
    if (!port.empty() && port.front() != ':') return "has junk after its IPv6 host";
    if (!port.empty()) port.remove_prefix(1);
    for (char c : host) {
      if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.')) {
        return "has a bad IPv6 host";
      }
    }
  } else if (const std::size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
    if (port.empty()) return "has an empty port";
  }
  if (host.empty()) return "has no host";
  for (char c : host) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' ||
                    c == '_' || (authority.front() == '[' && c == ':');
    if (!ok) return fmt::format("has a bad character '{}' in its host", c);
  }
  if (!port.empty() || authority.back() == ':') {
    unsigned long value = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || value > 65535) return fmt::format("has a bad port '{}'", port);
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) return fmt::format("has a bad port '{}'", port);
  }
  return std::nullopt;
}

std::optional<std::string> check_bucket(std::string_view bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) {
    return fmt::format("bucket name '{}' must be 3 to 63 characters long", bucket);
  }
  for (char c : bucket) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) {
      return fmt::format("bucket name '{}' may hold only lowercase letters, digits, '.' and '-'",
                         bucket);
    }
  }
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(bucket.front()) || !alnum(bucket.back())) {
    return fmt::format("bucket name '{}' must begin and end with a letter or digit", bucket);
  }
  if (bucket.find("..") != std::string_view::npos) {
    return fmt::format("bucket name '{}' must not hold '..'", bucket);
  }
  return std::nullopt;
}

// Returns the URL with its scheme in lower case, or what is wrong with it.
std::expected<std::string, std::string> check_upload_url(std::string_view url) {
  constexpr std::string_view kExpected =
      "(expected s3://bucket/prefix, http(s)://host/path or file:///dir)";
  if (url.empty()) return std::unexpected(fmt::format("empty URL {}", kExpected));
  const std::size_t separator = url.find("://");
  if (separator == std::string_view::npos || separator == 0) {
    return std::unexpected(fmt::format("'{}' is not a URL {}", url, kExpected));
  }
  const std::string scheme = ascii_lower(url.substr(0, separator));
  const std::string_view rest = url.substr(separator + 3);
  const std::string normalized = scheme + "://" + std::string(rest);
  if (scheme == "s3") {
    const std::string_view bucket = rest.substr(0, rest.find('/'));
    if (bucket.empty()) return std::unexpected(fmt::format("URL '{}' has no bucket", url));
    if (auto problem = check_bucket(bucket)) return std::unexpected(*problem);
    return normalized;
  }
  if (scheme == "http" || scheme == "https") {
    const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
    if (auto problem = check_authority(authority)) {
      // Never echo what may be a password.
      const std::size_t at = authority.rfind('@');
      const std::string shown = at == std::string_view::npos
                                    ? std::string(url)
                                    : scheme + "://***@" + std::string(rest.substr(at + 1));
      return std::unexpected(fmt::format("URL '{}' {}", shown, *problem));
    }
    return normalized;
  }
  if (scheme == "file") {
    if (rest.empty() || rest.front() != '/') {
      return std::unexpected(
          fmt::format("URL '{}' needs an absolute path: file:///dir (three slashes)", url));
    }
    return normalized;
  }
  return std::unexpected(
      fmt::format("unsupported URL scheme '{}' {}", url.substr(0, separator), kExpected));
}

// "" or http(s)://host[:port][/]
std::optional<std::string> check_endpoint(std::string_view endpoint) {
  if (endpoint.empty()) return std::nullopt;
  const std::size_t separator = endpoint.find("://");
  const std::string scheme = separator == std::string_view::npos
                                 ? std::string()
                                 : ascii_lower(endpoint.substr(0, separator));
  if (scheme != "http" && scheme != "https") {
    return fmt::format("endpoint '{}' must be http://host[:port] or https://host[:port]", endpoint);
  }
  std::string_view authority = endpoint.substr(separator + 3);
  if (!authority.empty() && authority.back() == '/') authority.remove_suffix(1);
  if (authority.find_first_of("/?#") != std::string_view::npos) {
    return fmt::format("endpoint '{}' must not have a path (the bucket goes in upload.url)",
                       endpoint);
  }
  if (auto problem = check_authority(authority)) {
    return fmt::format("endpoint '{}' {}", endpoint, *problem);
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------

// A string element of an array, with its node for the line number.
struct StringItem {
  std::string value;
  const toml::node* node;
};

class Loader {
 public:
  Loader(const fs::path& file, std::span<const std::string> overrides)
      : file_(file), display_(file.string()), overrides_(overrides) {}

  std::expected<Config, ConfigError> run();

 private:
  struct Issue {
    int rank;            // 0: --set, 1: a file line, 2: no line (a default)
    std::uint32_t line;  // rank 1 only
    std::size_t sequence;
    std::string message;
  };

  // --- reporting -----------------------------------------------------------------------------
  void report(std::string_view name, std::uint32_t line, std::string_view what) {
    if (overridden_.contains(name)) {
      add_issue(0, 0, fmt::format("--set {}: {}", name, what));
    } else if (line > 0) {
      add_issue(1, line, fmt::format("{}:{}: {}: {}", display_, line, name, what));
    } else {
      add_issue(2, 0, fmt::format("{}: {}: {}", display_, name, what));
    }
  }
  void report(std::string_view name, const toml::node* at, std::string_view what) {
    report(name, at ? at->source().begin.line : 0, what);
  }
  void add_issue(int rank, std::uint32_t line, std::string message) {
    issues_.push_back({rank, line, issues_.size(), one_line(message)});
  }
  void wrong_type(std::string_view name, const toml::node* node, std::string_view expected) {
    report(name, node, fmt::format("expected {}, got {}", expected, type_name(node->type())));
  }

  // --- steps ---------------------------------------------------------------------------------
  bool parse_file();
  void apply_override(std::string_view text);
  void check_shape();
  void read_values();
  void check_semantics();
  void record_origins();

  // --- typed readers: each leaves `out` at its default when the key is absent ----------------
  const toml::node* find(std::string_view section, std::string_view key) const {
    const toml::table* table = root_[section].as_table();
    return table ? table->get(key) : nullptr;
  }
  static std::string name_of(std::string_view section, std::string_view key) {
    return fmt::format("{}.{}", section, key);
  }

  void read_bool(std::string_view section, std::string_view key, bool& out);
  bool read_string(std::string_view section, std::string_view key, std::string& out);
  template <typename T>
  void read_int(std::string_view section, std::string_view key, std::int64_t low, std::int64_t high,
                T& out);
  bool read_size(std::string_view section, std::string_view key, std::uint64_t& out);
  bool read_duration(std::string_view section, std::string_view key,
                     std::chrono::milliseconds& out);
  template <typename E>
  void read_choice(std::string_view section, std::string_view key, Choices<E> choices, E& out);
  // Absent: nullopt. Present but not an array of strings: reported, nullopt.
  std::optional<std::vector<StringItem>> read_strings(std::string_view section,
                                                      std::string_view key);
  // A path resolved against the config file's folder; `allow_empty`: "" stays empty (= none).
  void read_path(std::string_view section, std::string_view key, fs::path& out, bool allow_empty);
  void read_patterns(std::string_view key, std::vector<std::string>& out);

  fs::path resolve(const fs::path& path) const {
    return tidy(path.is_absolute() ? path : base_dir_ / path);
  }
  bool stage_on(std::string_view stage) const {
    const auto& list = config_.pipeline.stages;
    return std::find(list.begin(), list.end(), stage) != list.end();
  }

  fs::path file_;
  std::string display_;  // the path as the user gave it
  std::span<const std::string> overrides_;
  fs::path base_dir_;
  toml::table root_;
  std::set<std::string, std::less<>> overridden_;  // "section.key" set by --set
  std::vector<Issue> issues_;
  Config config_;
  std::vector<StringItem> input_paths_;  // as written, for the semantic checks
};

bool Loader::parse_file() {
  auto content = read_whole_file(file_);
  if (!content) {
    add_issue(2, 0, fmt::format("{}: {}", display_, content.error()));
    return false;
  }
  try {
    root_ = toml::parse(*content, display_);
  } catch (const toml::parse_error& error) {
    add_issue(1, error.source().begin.line,
              fmt::format("{}:{}: syntax error: {}", display_, error.source().begin.line,
                          error.description()));
    return false;
  }
  return true;
}

void Loader::apply_override(std::string_view text) {
  const std::size_t equals = text.find('=');
  std::string_view name = equals == std::string_view::npos ? text : text.substr(0, equals);
  while (!name.empty() && (name.front() == ' ' || name.front() == '\t'))
    name.remove_prefix(1);
  while (!name.empty() && (name.back() == ' ' || name.back() == '\t'))
    name.remove_suffix(1);
  const std::size_t dot = name.find('.');
  if (equals == std::string_view::npos || dot == std::string_view::npos || dot == 0 ||
      dot + 1 == name.size()) {
    add_issue(0, 0, fmt::format("--set '{}': expected section.key=value", text));
    return;
  }
  const std::string_view section = name.substr(0, dot);
  const std::string_view key = name.substr(dot + 1);
  const SectionSchema* schema = find_section(section);
  if (!schema) {
    add_issue(0, 0, fmt::format("--set {}: {}", name, unknown_section_message(section)));
    return;
  }
  if (!contains(schema->keys, key)) {
    add_issue(0, 0, fmt::format("--set {}: {}", name, unknown_key_message(*schema, key)));
    return;
  }

  // The value in TOML syntax; what TOML does not read (a bare word) is taken as a string.
  const std::string_view value = text.substr(equals + 1);
  std::optional<toml::table> parsed;
  try {
    const std::string document = fmt::format("value = {}", value);
    parsed = toml::parse(document, std::string_view("--set"));
  } catch (const toml::parse_error&) {
    parsed.reset();
  }
  toml::node* node = parsed && parsed->size() == 1 ? parsed->get("value") : nullptr;

  toml::node* existing = root_.get(section);
  if (!existing) existing = root_.insert(section, toml::table{}).first->second.as_table();
  toml::table* table = existing->as_table();
  if (!table) return;  // the file's own [section] is not a table: check_shape reports it
  if (node) {
    table->insert_or_assign(key, std::move(*node));
  } else {
    table->insert_or_assign(key, std::string(value));
  }
  overridden_.insert(std::string(name));
}

void Loader::check_shape() {
  for (auto&& [key, node] : root_) {
    const std::string_view name = key.str();
    const std::uint32_t line =
        key.source().begin.line > 0 ? key.source().begin.line : node.source().begin.line;
    const SectionSchema* schema = find_section(name);
    if (!schema) {
      report(name, line, unknown_section_message(name));
      continue;
    }
    const toml::table* table = node.as_table();
    if (!table) {
      report(name, line, fmt::format("expected a table, got {}", type_name(node.type())));
      continue;
    }
    for (auto&& [inner_key, inner_node] : *table) {
      if (contains(schema->keys, inner_key.str())) continue;
      const std::uint32_t inner_line = inner_key.source().begin.line > 0
                                           ? inner_key.source().begin.line
                                           : inner_node.source().begin.line;
      report(name_of(name, inner_key.str()), inner_line,
             unknown_key_message(*schema, inner_key.str()));
    }
  }
}

void Loader::read_bool(std::string_view section, std::string_view key, bool& out) {
  const toml::node* node = find(section, key);
  if (!node) return;
  if (const auto* value = node->as_boolean()) {
    out = value->get();
  } else {
    wrong_type(name_of(section, key), node, "a boolean (true or false)");
  }
}

bool Loader::read_string(std::string_view section, std::string_view key, std::string& out) {
  const toml::node* node = find(section, key);
  if (!node) return true;
  if (const auto* value = node->as_string()) {
    out = value->get();
    return true;
  }
  wrong_type(name_of(section, key), node, "a string");
  return false;
}

template <typename T>
void Loader::read_int(std::string_view section, std::string_view key, std::int64_t low,
                      std::int64_t high, T& out) {
  const toml::node* node = find(section, key);
  if (!node) return;
  const auto* value = node->as_integer();
  if (!value) {
    wrong_type(name_of(section, key), node, "an integer");
    return;
  }
  const std::int64_t number = value->get();
  if (number < low || number > high) {
    report(name_of(section, key), node,
           fmt::format("must be between {} and {}, got {}", low, high, number));
    return;
  }
  out = static_cast<T>(number);
}

bool Loader::read_size(std::string_view section, std::string_view key, std::uint64_t& out) {
  const toml::node* node = find(section, key);
  if (!node) return true;
  const std::string name = name_of(section, key);
  if (const auto* value = node->as_integer()) {
    if (value->get() < 0) {
      report(name, node, fmt::format("a size cannot be negative, got {}", value->get()));
      return false;
    }
    out = static_cast<std::uint64_t>(value->get());
    return true;
  }
  if (const auto* value = node->as_string()) {
    auto bytes = parse_size(value->get());
    if (!bytes) {
      report(name, node, bytes.error());
      return false;
    }
    out = *bytes;
    return true;
  }
  wrong_type(name, node, R"(a size (bytes, or a string such as "4MiB"))");
  return false;
}

bool Loader::read_duration(std::string_view section, std::string_view key,
                           std::chrono::milliseconds& out) {
  const toml::node* node = find(section, key);
  if (!node) return true;
  const std::string name = name_of(section, key);
  if (const auto* value = node->as_integer()) {
    constexpr std::int64_t kMaxSeconds = std::numeric_limits<std::int64_t>::max() / 1000;
    if (value->get() < 0) {
      report(name, node, fmt::format("a duration cannot be negative, got {}", value->get()));
      return false;
    }
    if (value->get() > kMaxSeconds) {
      report(name, node, fmt::format("duration {}s is too large", value->get()));
      return false;
    }
    out = std::chrono::seconds{value->get()};
    return true;
  }
  if (const auto* value = node->as_string()) {
    auto duration = parse_duration(value->get());
    if (!duration) {
      report(name, node, duration.error());
      return false;
    }
    out = *duration;
    return true;
  }
  wrong_type(name, node, R"(a duration (a string such as "30s", or whole seconds))");
  return false;
}

template <typename E>
void Loader::read_choice(std::string_view section, std::string_view key, Choices<E> choices,
                         E& out) {
  const toml::node* node = find(section, key);
  if (!node) return;
  const auto* value = node->as_string();
  if (!value) {
    wrong_type(name_of(section, key), node, "a string");
    return;
  }
  for (const auto& [choice_name, choice] : choices) {
    if (value->get() == choice_name) {
      out = choice;
      return;
    }
  }
  report(name_of(section, key), node,
         fmt::format("'{}' is not one of {}", value->get(), join_or(choices)));
}

std::optional<std::vector<StringItem>> Loader::read_strings(std::string_view section,
                                                            std::string_view key) {
  const toml::node* node = find(section, key);
  if (!node) return std::nullopt;
  const std::string name = name_of(section, key);
  const toml::array* array = node->as_array();
  if (!array) {
    wrong_type(name, node, "an array of strings");
    return std::nullopt;
  }
  std::vector<StringItem> items;
  bool ok = true;
  for (std::size_t i = 0; i < array->size(); ++i) {
    const toml::node* element = array->get(i);
    if (const auto* value = element->as_string()) {
      items.push_back({value->get(), element});
    } else {
      // An element without a line of its own (rare) takes the array's.
      const toml::node* at = element->source().begin.line > 0 ? element : node;
      report(
          name, at,
          fmt::format("element {}: expected a string, got {}", i + 1, type_name(element->type())));
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return items;
}

void Loader::read_path(std::string_view section, std::string_view key, fs::path& out,
                       bool allow_empty) {
  std::string text;
  if (const toml::node* node = find(section, key)) {
    if (!read_string(section, key, text)) return;
    if (text.empty() && !allow_empty) {
      report(name_of(section, key), node, "must not be empty");
      return;
    }
    if (text.empty()) {
      out.clear();
      return;
    }
    out = resolve(text);
    return;
  }
  if (!out.empty()) out = resolve(out);  // the default, relative to the file too
}

void Loader::read_patterns(std::string_view key, std::vector<std::string>& out) {
  auto items = read_strings("input", key);
  if (!items) return;
  std::vector<std::string> patterns;
  for (const StringItem& item : *items) {
    auto compiled = pipeline::GlobPattern::compile(item.value);
    if (!compiled) {
      // The glob's own message usually quotes the pattern already; name it when it does not.
      const bool named =
          !item.value.empty() && compiled.error().find(item.value) != std::string::npos;
      report(
          name_of("input", key), item.node,
          named ? compiled.error() : fmt::format("pattern '{}': {}", item.value, compiled.error()));
      continue;
    }
    patterns.push_back(item.value);
  }
  out = std::move(patterns);
}

void Loader::read_values() {
  Config& c = config_;

  // [input]
  if (auto items = read_strings("input", "paths")) {
    if (items->empty()) {
      report("input.paths", find("input", "paths"), "must list at least one file or directory");
    }
    for (const StringItem& item : *items) {
      if (item.value.empty()) report("input.paths", item.node, "empty path");
    }
    input_paths_ = std::move(*items);
  } else if (!find("input", "paths")) {
    input_paths_.push_back({"artifacts", nullptr});  // DESIGN.md's default
  }
  for (const StringItem& item : input_paths_)
    c.input.paths.push_back(resolve(item.value));
  read_patterns("include", c.input.include);
  read_patterns("exclude", c.input.exclude);
  read_bool("input", "hidden", c.input.hidden);
  read_bool("input", "follow_symlinks", c.input.follow_symlinks);
  read_choice<pipeline::IfNoFiles>("input", "if_no_files", kIfNoFiles, c.input.if_no_files);

  // [pipeline]
  if (auto items = read_strings("pipeline", "stages")) {
    std::vector<std::string> stages;
    for (const StringItem& item : *items) {
      if (!contains(kStageNames, item.value)) {
        report("pipeline.stages", item.node,
               fmt::format("unknown stage '{}'{} (expected {})", item.value,
                           did_you_mean(closest(item.value, kStageNames)), join_or(kStageNames)));
      } else if (std::find(stages.begin(), stages.end(), item.value) != stages.end()) {
        report("pipeline.stages", item.node, fmt::format("stage '{}' is listed twice", item.value));
      } else if (!stages.empty() && stage_rank(item.value) < stage_rank(stages.back())) {
        // The bytes flow one way: hash sees the original, write and upload the compressed.
        report("pipeline.stages", item.node,
               fmt::format("stage '{}' must come before '{}' (stages run in the order {})",
                           item.value, stages.back(), fmt::join(kStageNames, ", ")));
      } else {
        stages.push_back(item.value);
      }
    }
    c.pipeline.stages = std::move(stages);
  }
  const bool memory_ok = read_size("pipeline", "memory_limit", c.pipeline.memory_limit);
  bool chunk_ok = read_size("pipeline", "chunk_size", c.pipeline.chunk_size);
  if (memory_ok && c.pipeline.memory_limit > kMaxMemory) {
    report("pipeline.memory_limit", find("pipeline", "memory_limit"),
           fmt::format("must be at most {}, got {}", format_size(kMaxMemory),
                       format_size(c.pipeline.memory_limit)));
  }
  if (chunk_ok) {
    const std::uint64_t chunk = c.pipeline.chunk_size;
    const toml::node* node = find("pipeline", "chunk_size");
    if (chunk < kMinChunk || chunk > kMaxChunk) {
      report("pipeline.chunk_size", node,
             fmt::format("must be between {} and {}, got {}", format_size(kMinChunk),
                         format_size(kMaxChunk), format_size(chunk)));
      chunk_ok = false;
    } else if (chunk % kChunkAlign != 0) {
      report("pipeline.chunk_size", node,
             fmt::format("must be a multiple of {} (4KiB), got {}", kChunkAlign, chunk));
      chunk_ok = false;
    }
  }
  if (memory_ok && chunk_ok && c.pipeline.memory_limit < 2 * c.pipeline.chunk_size) {
    // Blame the key the user wrote; memory_limit when both or neither are written.
    const toml::node* memory_node = find("pipeline", "memory_limit");
    const toml::node* chunk_node = find("pipeline", "chunk_size");
    const bool blame_chunk = !memory_node && chunk_node;
    report(blame_chunk ? "pipeline.chunk_size" : "pipeline.memory_limit",
           blame_chunk ? chunk_node : memory_node,
           fmt::format("memory_limit ({}) must be at least twice chunk_size ({})",
                       format_size(c.pipeline.memory_limit), format_size(c.pipeline.chunk_size)));
  }
  read_int("pipeline", "queue_depth", 1, pipeline::kMaxQueueDepth, c.pipeline.queue_depth);
  read_int("pipeline", "threads", 0, 1024, c.pipeline.threads);
  read_bool("pipeline", "direct_io", c.pipeline.direct_io);
  bool sqpoll = false;
  read_bool("pipeline", "sqpoll", sqpoll);
  if (sqpoll) c.pipeline.ring_setup = io::RingSetup::sqpoll;

  // [hash]
  if (auto items = read_strings("hash", "algorithms")) {
    std::vector<stages::HashAlgorithm> algorithms;
    std::vector<std::string_view> seen;
    if (items->empty()) {
      report("hash.algorithms", find("hash", "algorithms"),
             fmt::format("must list at least one of {}",
                         join_or(Choices<stages::HashAlgorithm>(kHashAlgorithms))));
    }
    for (const StringItem& item : *items) {
      const auto* match =
          std::find_if(std::begin(kHashAlgorithms), std::end(kHashAlgorithms),
                       [&](const auto& choice) { return choice.first == item.value; });
      if (match == std::end(kHashAlgorithms)) {
        report("hash.algorithms", item.node,
               fmt::format("unknown algorithm '{}' (expected {})", item.value,
                           join_or(Choices<stages::HashAlgorithm>(kHashAlgorithms))));
      } else if (contains(seen, match->first)) {
        report("hash.algorithms", item.node,
               fmt::format("algorithm '{}' is listed twice", item.value));
      } else {
        seen.push_back(match->first);
        algorithms.push_back(match->second);
      }
    }
    c.hash.algorithms = std::move(algorithms);
  }

  // [compress]
  read_int("compress", "level", stages::CompressOptions::kMinLevel,
           stages::CompressOptions::kMaxLevel, c.compress.level);
  if (c.compress.level == 0) c.compress.level = kDefaultLevel;  // zstd: 0 means the default

  // [output]
  read_path("output", "dir", c.output.dir, false);
  read_path("output", "manifest", c.output.manifest, false);
  read_path("output", "checksums", c.output.checksums, false);
  read_bool("output", "fsync", c.output.fsync);
  read_bool("output", "resume", c.output.resume);

  // [upload]
  std::string url = c.upload.url;
  if (read_string("upload", "url", url)) {
    auto checked = check_upload_url(url);
    if (checked) {
      c.upload.url = *checked;
    } else {
      report("upload.url", find("upload", "url"), checked.error());
    }
  }
  if (read_string("upload", "endpoint", c.upload.endpoint)) {
    if (auto problem = check_endpoint(c.upload.endpoint)) {
      report("upload.endpoint", find("upload", "endpoint"), *problem);
    }
  }
  if (read_string("upload", "region", c.upload.region) && c.upload.region.empty()) {
    report("upload.region", find("upload", "region"), "must not be empty");
  }
  read_choice<stages::UploadLayout>("upload", "layout", kLayouts, c.upload.layout);
  read_bool("upload", "skip_existing", c.upload.skip_existing);
  read_choice<stages::TransportChecksum>("upload", "checksum", kChecksums, c.upload.checksum);
  read_int("upload", "concurrency", 1, 1024, c.upload.concurrency);
  if (read_size("upload", "part_size", c.upload.part_size) &&
      (c.upload.part_size < kMinPart || c.upload.part_size > kMaxPart)) {
    report("upload.part_size", find("upload", "part_size"),
           fmt::format("must be between {} and {}, got {}", format_size(kMinPart),
                       format_size(kMaxPart), format_size(c.upload.part_size)));
  }
  if (read_size("upload", "multipart_threshold", c.upload.multipart_threshold) &&
      c.upload.multipart_threshold < kMinPart) {
    report("upload.multipart_threshold", find("upload", "multipart_threshold"),
           fmt::format("must be at least {}, got {}", format_size(kMinPart),
                       format_size(c.upload.multipart_threshold)));
  }
  read_int("upload", "retries", 0, 100, c.upload.retries);
  if (read_duration("upload", "timeout", c.upload.timeout) && c.upload.timeout.count() <= 0) {
    report("upload.timeout", find("upload", "timeout"), "must be greater than 0");
  }
  if (const toml::node* node = find("upload", "bandwidth_limit")) {
    const auto* text = node->as_string();
    if (text && text->get().empty()) {
      c.upload.bandwidth_limit = 0;
    } else if (read_size("upload", "bandwidth_limit", c.upload.bandwidth_limit) &&
               c.upload.bandwidth_limit == 0) {
      report("upload.bandwidth_limit", node, R"(must be greater than 0 (use "" for no limit))");
    }
  }

  // [report]
  if (read_duration("report", "progress_interval", c.report.progress_interval) &&
      c.report.progress_interval < kMinProgressInterval) {
    report("report.progress_interval", find("report", "progress_interval"),
           fmt::format("must be at least {}, got {}", format_duration(kMinProgressInterval),
                       format_duration(c.report.progress_interval)));
  }
  read_path("report", "events", c.report.events, true);
  read_path("report", "prometheus", c.report.prometheus, true);
}

void Loader::check_semantics() {
  const Config& c = config_;

  // Inputs exist, are files or directories, and do not overlap.
  std::vector<bool> is_dir(input_paths_.size(), false);
  for (std::size_t i = 0; i < input_paths_.size(); ++i) {
    const StringItem& item = input_paths_[i];
    struct stat info {};
    if (::stat(c.input.paths[i].c_str(), &info) != 0) {
      const int error = errno;
      if (error == ENOENT || error == ENOTDIR) {
        report("input.paths", item.node, fmt::format("'{}' does not exist", item.value));
      } else {
        report("input.paths", item.node,
               fmt::format("'{}' cannot be examined: {}", item.value, errno_message(error)));
      }
      continue;
    }
    if (S_ISDIR(info.st_mode)) {
      is_dir[i] = true;
    } else if (!S_ISREG(info.st_mode)) {
      report("input.paths", item.node, fmt::format("'{}' is not a file or directory", item.value));
    }
  }
  for (std::size_t i = 0; i < input_paths_.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      const fs::path& a = c.input.paths[j];
      const fs::path& b = c.input.paths[i];
      const StringItem& item = input_paths_[i];
      if (a == b) {
        report("input.paths", item.node, fmt::format("'{}' is listed twice", item.value));
      } else if (is_dir[j] && lies_within(b, a)) {
        report("input.paths", item.node,
               fmt::format("'{}' lies inside input '{}'", item.value, input_paths_[j].value));
      } else if (is_dir[i] && lies_within(a, b)) {
        report("input.paths", item.node,
               fmt::format("'{}' holds input '{}'", item.value, input_paths_[j].value));
      } else if (!a.filename().empty() && a.filename() == b.filename()) {
        // With several roots, manifest paths start with the root's own name.
        report("input.paths", item.node,
               fmt::format("'{}' and '{}' have the same name '{}', which prefixes their paths "
                           "in the manifest",
                           item.value, input_paths_[j].value, b.filename().string()));
      }
    }
  }

  if (stage_on("write")) {
    const toml::node* node = find("output", "dir");
    // As the user wrote it, or the default as DESIGN.md spells it.
    std::string written = pipeline::OutputOptions{}.dir.string();
    if (const auto* text = node ? node->as_string() : nullptr) written = text->get();
    for (std::size_t i = 0; i < input_paths_.size(); ++i) {
      if (is_dir[i] && lies_within_physically(c.output.dir, c.input.paths[i])) {
        report("output.dir", node,
               fmt::format("'{}' lies inside input '{}'", written, input_paths_[i].value));
        break;
      }
    }
  }

  if (stage_on("upload") && c.upload.url.starts_with("file://")) {
    const fs::path store = c.upload.url.substr(7);
    for (std::size_t i = 0; i < input_paths_.size(); ++i) {
      if (is_dir[i] && lies_within_physically(store, c.input.paths[i])) {
        report("upload.url", find("upload", "url"),
               fmt::format("the store '{}' lies inside input '{}'", store.string(),
                           input_paths_[i].value));
        break;
      }
    }
  }
  if (stage_on("upload") && c.upload.layout == stages::UploadLayout::content && !stage_on("hash")) {
    report("upload.layout", find("upload", "layout"),
           "\"content\" names objects after their digest: add \"hash\" to pipeline.stages");
  }

  if (stage_on("upload") && c.upload.url.starts_with("s3://")) {
    auto set = [](const char* variable) {
      const char* value = std::getenv(variable);
      return value != nullptr && *value != '\0';
    };
    if (!set("AWS_ACCESS_KEY_ID") || !set("AWS_SECRET_ACCESS_KEY")) {
      report("upload.url", find("upload", "url"),
             "s3 needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment");
    }
  }
}

std::expected<Config, ConfigError> Loader::run() {
  std::error_code error;
  const fs::path absolute = fs::absolute(file_, error);
  if (error) {
    return std::unexpected(ConfigError{fmt::format("{}: {}", display_, error.message())});
  }
  config_.file = tidy(absolute);
  base_dir_ = config_.file.parent_path();

  auto first_issue = [this]() {
    auto it = std::min_element(issues_.begin(), issues_.end(), [](const Issue& a, const Issue& b) {
      return std::tie(a.rank, a.line, a.sequence) < std::tie(b.rank, b.line, b.sequence);
    });
    return std::unexpected(ConfigError{it->message});
  };

  if (!parse_file()) return first_issue();
  for (const std::string& text : overrides_)
    apply_override(text);
  check_shape();
  read_values();
  if (!issues_.empty()) return first_issue();
  check_semantics();
  if (!issues_.empty()) return first_issue();
  record_origins();
  return std::move(config_);
}

void Loader::record_origins() {
  for (const auto& [section_name, section] : root_) {
    const toml::table* table = section.as_table();
    if (table == nullptr) continue;
    for (const auto& [key, node] : *table) {
      const std::string name = fmt::format("{}.{}", section_name.str(), key.str());
      std::string origin;
      if (overridden_.contains(name)) {
        origin = fmt::format("--set {}", name);
      } else if (node.source().begin.line > 0) {
        origin = fmt::format("{}:{}: {}", display_, node.source().begin.line, name);
      } else {
        origin = fmt::format("{}: {}", display_, name);
      }
      config_.origins.emplace(name, std::move(origin));
    }
  }
}

}  // namespace

std::expected<Config, ConfigError> load_config(const std::filesystem::path& file,
                                               std::span<const std::string> overrides) {
  return Loader(file, overrides).run();
}

}  // namespace piperun::cli
