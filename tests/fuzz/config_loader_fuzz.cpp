// libFuzzer target: cli/config.hpp's load_config, the TOML job file and its --set overrides.
//
// Input: the file's content. Its lines that begin with "#--set " (TOML comments, so the file
// reads the same) also give an override each, the rest of the line, as `--set` would.
// The content goes to one file in a private scratch folder (on /dev/shm when there is one),
// written again for every input; the folder also holds "artifacts" and "sample" (the default
// input and the examples'), so that valid configs get through to the end. It is removed at exit.
//
// Input paths in a fuzzed config may name anything on this machine. That is harmless: the loader
// only stat()s them and resolves them with weakly_canonical (which stats each prefix); it lists
// no directory, so no input can make it walk a tree.
//
// Properties, besides no crash and no sanitizer report:
//   - an error is one line ready for stderr, starting "FILE:LINE: " with LINE within the file,
//     "FILE: " or "--set ";
//   - a config that loads holds every bound the loader promises (README.md, "Configuration"),
//     with every path absolute and every glob compiled;
//   - its sizes and durations, spelled as messages spell them (format_size, format_duration),
//     read back as the same values.
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include "cli/config.hpp"
#include "cli/size_parse.hpp"
#include "pipeline/glob.hpp"
#include "property.hpp"

namespace piperun::fuzz {
namespace {

namespace fs = std::filesystem;

constexpr std::uint64_t kMiB = 1024 * 1024;
constexpr std::string_view kOverridePrefix = "#--set ";
constexpr std::string_view kStageOrder[] = {"hash", "compress", "write", "upload"};

struct Scratch {
  fs::path dir;
  fs::path config;
  std::string display;  // the config path as messages start with it
};

Scratch* scratch = nullptr;

void remove_scratch() {
  if (scratch == nullptr) return;
  std::error_code ignored;
  fs::remove_all(scratch->dir, ignored);
}

fs::path scratch_base() {
  struct stat info {};
  if (::stat("/dev/shm", &info) == 0 && S_ISDIR(info.st_mode) && ::access("/dev/shm", W_OK) == 0) {
    return "/dev/shm";
  }
  const char* tmpdir = std::getenv("TMPDIR");
  return tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp";
}

void write_config(std::string_view content) {
  const int fd = ::open(scratch->config.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) property_broken("the scratch config cannot be written", std::strerror(errno));
  while (!content.empty()) {
    const ssize_t wrote = ::write(fd, content.data(), content.size());
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote <= 0) property_broken("the scratch config cannot be written", std::strerror(errno));
    content.remove_prefix(static_cast<std::size_t>(wrote));
  }
  ::close(fd);
}

std::vector<std::string> overrides_in(std::string_view content) {
  std::vector<std::string> overrides;
  std::size_t begin = 0;
  while (begin < content.size()) {
    const std::size_t end = std::min(content.find('\n', begin), content.size());
    const std::string_view line = content.substr(begin, end - begin);
    if (line.starts_with(kOverridePrefix))
      overrides.emplace_back(line.substr(kOverridePrefix.size()));
    begin = end + 1;
  }
  return overrides;
}

void check_error(const std::string& message, std::string_view content) {
  require(!message.empty(), "an error has a message");
  for (char c : message) {
    const auto byte = static_cast<unsigned char>(c);
    require(byte >= 0x20 && byte != 0x7f, "an error is one line without control characters",
            message);
  }
  if (message.starts_with("--set ")) return;
  const std::string& file = scratch->display;
  require(message.starts_with(file + ":"), "an error starts with the file's name and a colon",
          message);
  std::string_view rest = std::string_view(message).substr(file.size() + 1);
  if (rest.starts_with(' ')) return;  // "FILE: what": no line
  std::uint64_t line = 0;
  const auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), line);
  const std::string_view after(end, static_cast<std::size_t>(rest.data() + rest.size() - end));
  require(error == std::errc{} && after.starts_with(": "),
          "an error is \"FILE:LINE: what\" or \"FILE: what\"", message);
  const auto lines = static_cast<std::uint64_t>(std::count(content.begin(), content.end(), '\n'));
  require(line >= 1 && line <= lines + 1, "an error's line is within the file", message);
}

// Messages quote sizes and durations as format_size and format_duration spell them: the spelling
// must read back as the same value.
void check_size_spelling(std::uint64_t bytes) {
  const std::string text = cli::format_size(bytes);
  const auto back = cli::parse_size(text);
  require(back.has_value() && *back == bytes, "format_size reads back with parse_size", text);
}

void check_duration_spelling(std::chrono::milliseconds duration) {
  const std::string text = cli::format_duration(duration);
  const auto back = cli::parse_duration(text);
  require(back.has_value() && *back == duration, "format_duration reads back with parse_duration",
          text);
}

bool has_stage(const cli::Config& config, std::string_view stage) {
  const auto& stages = config.pipeline.stages;
  return std::find(stages.begin(), stages.end(), stage) != stages.end();
}

// Lexically: `inner` is `outer` or below it, "." and ".." and a trailing '/' aside.
bool lies_within(const fs::path& inner, const fs::path& outer) {
  const auto tidy = [](const fs::path& path) {
    fs::path out = path.lexically_normal();
    if (!out.has_filename() && out != out.root_path()) out = out.parent_path();
    return out;
  };
  const fs::path tidy_inner = tidy(inner);
  const fs::path tidy_outer = tidy(outer);
  auto [outer_end, inner_end] =
      std::mismatch(tidy_outer.begin(), tidy_outer.end(), tidy_inner.begin(), tidy_inner.end());
  (void)inner_end;
  return outer_end == tidy_outer.end();
}

void check_config(const cli::Config& config) {
  require(config.file == scratch->config, "Config::file is the file loaded", config.file.string());

  // [input]
  const auto& input = config.input;
  require(!input.paths.empty(), "there is at least one input");
  std::vector<fs::path> input_dirs;
  for (const fs::path& path : input.paths) {
    require(path.is_absolute(), "input paths are absolute", path.string());
    struct stat info {};
    require(::stat(path.c_str(), &info) == 0 && (S_ISDIR(info.st_mode) || S_ISREG(info.st_mode)),
            "inputs are files or directories", path.string());
    if (S_ISDIR(info.st_mode)) input_dirs.push_back(path);
  }
  for (std::size_t i = 0; i < input.paths.size(); ++i) {
    for (std::size_t j = 0; j < input.paths.size(); ++j) {
      if (i == j) continue;
      require(input.paths[i] != input.paths[j], "no input is listed twice",
              input.paths[i].string());
      for (const fs::path& dir : input_dirs) {
        if (dir == input.paths[j]) {
          require(!lies_within(input.paths[i], dir), "no input lies inside another",
                  input.paths[i].string());
        }
      }
    }
  }
  for (const auto* patterns : {&input.include, &input.exclude}) {
    for (const std::string& pattern : *patterns) {
      require(pipeline::GlobPattern::compile(pattern).has_value(), "every glob compiles", pattern);
    }
  }

  // [pipeline]
  const auto& stages = config.pipeline.stages;
  for (std::size_t i = 0; i < stages.size(); ++i) {
    const auto* rank = std::find(std::begin(kStageOrder), std::end(kStageOrder), stages[i]);
    require(rank != std::end(kStageOrder), "stages are known", stages[i]);
    if (i > 0) {
      const auto* previous =
          std::find(std::begin(kStageOrder), std::end(kStageOrder), stages[i - 1]);
      require(previous < rank, "stages are listed once each, in running order", stages[i]);
    }
  }
  const auto& pipeline = config.pipeline;
  require(pipeline.chunk_size >= 64 * 1024 && pipeline.chunk_size <= 256 * kMiB &&
              pipeline.chunk_size % 4096 == 0,
          "chunk_size is 64KiB..256MiB, a multiple of 4KiB");
  require(pipeline.memory_limit <= 1024 * 1024 * kMiB, "memory_limit is at most 1TiB");
  require(pipeline.memory_limit >= 2 * pipeline.chunk_size,
          "memory_limit holds at least two chunks");
  require(pipeline.queue_depth >= 1 && pipeline.queue_depth <= pipeline::kMaxQueueDepth,
          "queue_depth is 1..kMaxQueueDepth");
  require(pipeline.threads <= 1024, "threads is at most 1024");

  // [hash], [compress]
  const auto& algorithms = config.hash.algorithms;
  require(!algorithms.empty(), "there is at least one hash algorithm");
  for (std::size_t i = 0; i < algorithms.size(); ++i) {
    require(std::find(algorithms.begin(), algorithms.begin() + static_cast<std::ptrdiff_t>(i),
                      algorithms[i]) == algorithms.begin() + static_cast<std::ptrdiff_t>(i),
            "no hash algorithm is listed twice");
  }
  const int level = config.compress.level;
  require(level >= stages::CompressOptions::kMinLevel &&
              level <= stages::CompressOptions::kMaxLevel && level != 0,
          "the zstd level is within bounds and 0 means 3", std::to_string(level));

  // [output], [report]
  const auto& output = config.output;
  require(
      output.dir.is_absolute() && output.manifest.is_absolute() && output.checksums.is_absolute(),
      "output paths are absolute");
  if (has_stage(config, "write")) {
    for (const fs::path& dir : input_dirs) {
      require(!lies_within(output.dir, dir), "output.dir is not inside an input",
              output.dir.string());
    }
  }
  const auto& report = config.report;
  require(report.events.empty() || report.events.is_absolute(), "report.events is absolute");
  require(report.prometheus.empty() || report.prometheus.is_absolute(),
          "report.prometheus is absolute");
  require(report.progress_interval.count() >= 100, "progress_interval is at least 100ms");

  // [upload]
  const auto& upload = config.upload;
  const std::string_view url = upload.url;
  require(url.starts_with("s3://") || url.starts_with("http://") || url.starts_with("https://") ||
              url.starts_with("file:///"),
          "upload.url has a known scheme, in lower case", upload.url);
  require(!upload.region.empty(), "upload.region is not empty");
  require(upload.concurrency >= 1 && upload.concurrency <= 1024, "concurrency is 1..1024");
  require(upload.part_size >= 5 * kMiB && upload.part_size <= 5 * 1024 * kMiB,
          "part_size is within S3's limits");
  require(upload.multipart_threshold >= 5 * kMiB, "multipart_threshold is at least 5MiB");
  require(upload.retries <= 100, "retries is at most 100");
  require(upload.timeout.count() > 0, "the upload timeout is positive");
  if (has_stage(config, "upload") && url.starts_with("file://")) {
    for (const fs::path& dir : input_dirs) {
      require(!lies_within(fs::path(url.substr(7)), dir), "a file:// store is not inside an input",
              upload.url);
    }
  }
  if (has_stage(config, "upload") && upload.layout == stages::UploadLayout::content) {
    require(has_stage(config, "hash"), "the content layout comes with the hash stage");
  }

  for (std::uint64_t bytes : {pipeline.memory_limit, pipeline.chunk_size, upload.part_size,
                              upload.multipart_threshold, upload.bandwidth_limit}) {
    check_size_spelling(bytes);
  }
  check_duration_spelling(upload.timeout);
  check_duration_spelling(report.progress_interval);

  for (const auto& [key, origin] : config.origins) {
    require(origin.starts_with(scratch->display + ":") || origin.starts_with("--set "),
            "an origin names the file or --set", origin);
  }
}

}  // namespace
}  // namespace piperun::fuzz

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  using namespace piperun::fuzz;
  std::string pattern = (scratch_base() / "pipe-run-fuzz-config.XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    property_broken("no scratch folder", std::strerror(errno));
  }
  scratch = new Scratch{pattern, fs::path(pattern) / "pipe.toml", {}};
  scratch->display = scratch->config.string();
  std::atexit(remove_scratch);
  fs::create_directory(scratch->dir / "artifacts");
  fs::create_directory(scratch->dir / "sample");
  write_config("");
  // s3:// uploads need credentials in the environment; fake ones let such configs load.
  ::setenv("AWS_ACCESS_KEY_ID", "AKIAFUZZFUZZFUZZFUZZ", 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", "fuzz", 1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace piperun::fuzz;
  const std::string_view content = as_text(data, size);
  write_config(content);
  const std::vector<std::string> overrides = overrides_in(content);
  const auto config = piperun::cli::load_config(scratch->config, overrides);
  if (config) {
    check_config(*config);
  } else {
    check_error(config.error().message, content);
  }
  return 0;
}
