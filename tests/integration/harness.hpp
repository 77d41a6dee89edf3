// Helpers for the integration tests: they run the real pipe-run binary on trees they generate
// and check its outputs with stock tools (xxhsum, sha256sum, strace, ...).
#pragma once

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <signal.h>
#include <spawn.h>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/temp_dir.hpp"

extern char** environ;

namespace piperun::itest {

namespace fs = std::filesystem;

// The binary under test: PIPE_RUN_IT_BINARY overrides the one built beside the tests (to run
// the suite against another build, or to check that the tests catch a broken binary).
inline const fs::path kBinary{std::getenv("PIPE_RUN_IT_BINARY") != nullptr
                                  ? std::getenv("PIPE_RUN_IT_BINARY")
                                  : PIPE_RUN_BINARY};

using TempDir = piperun::testing::TempDir;

// For `env`, before a binary run under strace: LeakSanitizer stops the world through ptrace,
// which strace already holds, so a binary built with ASan is traced with leak checking off
// (every other test keeps it on). Harmless for a build without ASan.
inline const std::string kTracedAsanOptions = "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1";

inline constexpr std::size_t kKiB = 1024;
inline constexpr std::size_t kMiB = 1024 * kKiB;
// A file name that is not UTF-8 (Latin-1 "café.txt"): the manifest carries it as base64.
inline const std::string kNonUtf8Name = "caf\xe9.txt";

inline void write_file(const fs::path& file, std::string_view contents) {
  fs::create_directories(file.parent_path());
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  if (!out) throw std::runtime_error("cannot write " + file.string());
}

inline std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Deterministic pseudo-random bytes (fast enough for tens of MiB).
inline std::string random_bytes(std::size_t size, std::uint64_t seed) {
  std::mt19937_64 engine(seed);
  std::string bytes(size, '\0');
  std::size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    const std::uint64_t word = engine();
    std::memcpy(bytes.data() + i, &word, 8);
  }
  for (; i < size; ++i)
    bytes[i] = static_cast<char>(engine());
  return bytes;
}

inline void write_random_file(const fs::path& file, std::size_t size, std::uint64_t seed) {
  write_file(file, random_bytes(size, seed));
}

// A sparse file of `size` bytes (reads back as zeros).
inline void write_sparse_file(const fs::path& file, std::uintmax_t size) {
  write_file(file, "");
  fs::resize_file(file, size);
}

inline bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// The executable `name` as found on PATH (or in the usual system folders), if any.
inline std::optional<fs::path> find_program(std::string_view name) {
  std::string dirs = std::getenv("PATH") != nullptr ? std::getenv("PATH") : "";
  dirs += ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  std::stringstream stream(dirs);
  std::string dir;
  while (std::getline(stream, dir, ':')) {
    if (dir.empty()) continue;
    const fs::path candidate = fs::path(dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

struct RunResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  bool timed_out = false;
  std::string out;
  std::string err;
  long max_rss_kib = 0;  // from wait4's rusage
  double seconds = 0;
  std::string command;

  // For assertion messages.
  std::string describe() const {
    std::string text = "command: " + command + "\nexit code: " + std::to_string(exit_code);
    if (signal != 0) text += " (signal " + std::to_string(signal) + ")";
    if (timed_out) text += " (TIMED OUT, killed)";
    text += "\n--- stdout ---\n" + out.substr(0, 4000) + "\n--- stderr ---\n" + err.substr(0, 4000);
    return text;
  }
};

struct RunOptions {
  fs::path cwd{};  // empty: inherit
  std::chrono::milliseconds timeout{60'000};
  int send_signal = 0;  // sent to the child (not its group) after signal_after
  std::chrono::milliseconds signal_after{0};
  int signal_count = 1;  // how many times, 20 ms apart
  // When set, signal_after counts from the first moment this holds (checked every 5 ms), so a
  // signal meant for the middle of a run does not come before it started on a loaded machine.
  std::function<bool()> signal_when{};
};

// For RunOptions::signal_when: `dir` exists and holds something (a run has opened its outputs).
inline bool has_entries(const fs::path& dir) {
  std::error_code error;
  return fs::directory_iterator(dir, error) != fs::directory_iterator();
}

// Runs argv[0] (searched on PATH) with stdin from /dev/null and stdout/stderr captured, in its
// own process group; on timeout the whole group is killed.
inline RunResult run(const std::vector<std::string>& argv, const RunOptions& options = {}) {
  RunResult result;
  for (const auto& arg : argv)
    result.command += (result.command.empty() ? "" : " ") + arg;

  TempDir capture;
  const fs::path out_file = capture / "stdout";
  const fs::path err_file = capture / "stderr";

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  if (!options.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, options.cwd.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t empty_mask;
  sigemptyset(&empty_mask);
  posix_spawnattr_setsigmask(&attr, &empty_mask);

  std::vector<char*> args;
  for (const auto& arg : argv)
    args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);

  const auto started = std::chrono::steady_clock::now();
  pid_t pid = -1;
  const int spawned = posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (spawned != 0) {
    result.err = "posix_spawnp failed: " + std::string(std::strerror(spawned));
    return result;
  }

  int status = 0;
  rusage usage{};
  int signals_sent = 0;
  std::optional<std::chrono::steady_clock::time_point> armed;
  for (;;) {
    const pid_t done = ::wait4(pid, &status, WNOHANG, &usage);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) break;
    if (options.send_signal != 0 && !armed && (!options.signal_when || options.signal_when()))
      armed = options.signal_when ? std::chrono::steady_clock::now() : started;
    if (armed && signals_sent < options.signal_count &&
        std::chrono::steady_clock::now() - *armed >=
            options.signal_after + signals_sent * std::chrono::milliseconds(20)) {
      ::kill(pid, options.send_signal);
      ++signals_sent;
    }
    if (std::chrono::steady_clock::now() - started > options.timeout) {
      result.timed_out = true;
      ::kill(-pid, SIGKILL);  // the group we created for this child
      ::wait4(pid, &status, 0, &usage);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  result.max_rss_kib = usage.ru_maxrss;
  result.out = read_file(out_file);
  result.err = read_file(err_file);
  return result;
}

// One line of a checksum file: "DIGEST  PATH" (GNU escaping: a leading backslash).
struct ChecksumLine {
  std::string digest;
  std::string path;
  bool escaped = false;
};

inline std::vector<ChecksumLine> read_checksums(const fs::path& file) {
  std::vector<ChecksumLine> lines;
  std::istringstream stream(read_file(file));
  std::string line;
  while (std::getline(stream, line)) {
    ChecksumLine parsed;
    std::string_view view = line;
    if (!view.empty() && view.front() == '\\') {
      parsed.escaped = true;
      view.remove_prefix(1);
    }
    const auto gap = view.find("  ");
    if (gap == std::string_view::npos) {
      parsed.digest = std::string(view);
    } else {
      parsed.digest = std::string(view.substr(0, gap));
      parsed.path = std::string(view.substr(gap + 2));
    }
    lines.push_back(std::move(parsed));
  }
  return lines;
}

inline std::map<std::string, std::string> checksum_map(const fs::path& file) {
  std::map<std::string, std::string> digests;
  for (auto& line : read_checksums(file))
    digests[line.path] = line.digest;
  return digests;
}

inline std::size_t count_lines(std::string_view text, std::string_view suffix = "") {
  std::size_t count = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    if (suffix.empty() || line.ends_with(suffix)) ++count;
    start = end + 1;
  }
  return count;
}

inline nlohmann::json read_json(const fs::path& file) {
  return nlohmann::json::parse(read_file(file));
}

inline const nlohmann::json* find_record(const nlohmann::json& manifest, std::string_view path) {
  if (!manifest.contains("files")) return nullptr;
  for (const auto& record : manifest["files"]) {
    if (record.contains("path") && record["path"].is_string() &&
        record["path"].get<std::string>() == path)
      return &record;
  }
  return nullptr;
}

inline std::string base64_decode(std::string_view text) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string bytes;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') break;
    const auto value = kAlphabet.find(c);
    if (value == std::string_view::npos) continue;
    buffer = (buffer << 6) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  return bytes;
}

// A manifest name as raw bytes: `key`_base64 when present (a name that is not UTF-8).
inline std::string raw_name(const nlohmann::json& record, const std::string& key) {
  if (record.contains(key + "_base64"))
    return base64_decode(record[key + "_base64"].get<std::string>());
  return record.value(key, "");
}

// A TOML string literal.
inline std::string toml_string(std::string_view text) {
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "\"";
}

// A job under a fresh temp dir: the input tree in ROOT = <dir>/in, outputs in <dir>/out, the
// config in <dir>/job.toml. Keys are raw TOML values by section.
class Job {
 public:
  explicit Job(mode_t dir_mode = 0700) : dir_(dir_mode) {
    fs::create_directories(root());
    keys_["input"]["paths"] = "[" + toml_string(root().string()) + "]";
    keys_["pipeline"]["stages"] = R"(["hash"])";
    keys_["output"]["manifest"] = toml_string(manifest().string());
    keys_["output"]["checksums"] = toml_string(checksums().string());
  }

  const fs::path& dir() const { return dir_.path(); }
  fs::path root() const { return dir_ / "in"; }
  fs::path out() const { return dir_ / "out"; }
  fs::path manifest() const { return out() / "manifest.json"; }
  fs::path checksums(std::string_view extension = "xxh128") const {
    return out() / ("checksums." + std::string(extension));
  }
  fs::path config() const { return dir_ / "job.toml"; }

  // Sets (or with an empty value, removes) section.key as a raw TOML value.
  Job& set(const std::string& section, const std::string& key, const std::string& value) {
    if (value.empty()) {
      keys_[section].erase(key);
    } else {
      keys_[section][key] = value;
    }
    return *this;
  }

  fs::path file(std::string_view rel, std::string_view contents) const {
    const fs::path path = root() / rel;
    write_file(path, contents);
    return path;
  }

  std::string render() const {
    std::string text;
    for (const auto& [section, keys] : keys_) {
      text += "[" + section + "]\n";
      for (const auto& [key, value] : keys)
        text += key + " = " + value + "\n";
      text += "\n";
    }
    return text;
  }

  void write_config() const { write_file(config(), render()); }

  // Writes the config and runs pipe-run on it with `extra` arguments.
  RunResult run_pipe(const std::vector<std::string>& extra = {}, RunOptions options = {}) const {
    write_config();
    std::vector<std::string> argv{kBinary.string(), config().string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run(argv, options);
  }

  // `xxhsum -c FILE` (or another checker) from the input root.
  RunResult check(const fs::path& checksum_file, const std::string& tool = "xxhsum") const {
    return run({tool, "-c", checksum_file.string()}, RunOptions{.cwd = root()});
  }

 private:
  TempDir dir_;
  std::map<std::string, std::map<std::string, std::string>> keys_;
};

// The output tree of the tests that write one: output.dir = <out>/tree.
inline fs::path tree_of(const Job& job) {
  return job.out() / "tree";
}

// Sets the stage list (by default the whole job but uploads) and output.dir = tree_of(job).
inline void configure_write(Job& job,
                            const std::string& stages = R"(["hash", "compress", "write"])") {
  job.set("pipeline", "stages", stages);
  job.set("output", "dir", toml_string(tree_of(job).string()));
}

// The peak RSS pipe-run promises for `memory_limit_mib`: the limit plus 48 MiB. A binary built
// with ASan (the asan-integration test preset says so with PIPE_RUN_IT_BINARY_HAS_ASAN=1) also
// carries ASan's shadow memory and its quarantine, which keeps up to 256 MiB of freed memory
// (there coroutine frames are plain new/delete, so a long run fills it): the promise is not
// about those, and they get 384 MiB more.
inline long rss_bound_kib(long memory_limit_mib) {
  const char* asan = std::getenv("PIPE_RUN_IT_BINARY_HAS_ASAN");
  const long sanitizer_slack_mib = asan != nullptr && std::string_view(asan) == "1" ? 384 : 0;
  return (memory_limit_mib + 48 + sanitizer_slack_mib) * 1024;
}

// The prefix that runs a command as an unprivileged user: empty when we are not root,
// `runuser -u nobody --` when we are; nullopt when that is not possible.
inline std::optional<std::vector<std::string>> unprivileged_prefix() {
  if (::geteuid() != 0) return std::vector<std::string>{};
  if (auto runuser = find_program("runuser"))
    return std::vector<std::string>{runuser->string(), "-u", "nobody", "--"};
  if (auto setpriv = find_program("setpriv")) {
    return std::vector<std::string>{setpriv->string(),
                                    "--reuid=65534",
                                    "--regid=65534",
                                    "--clear-groups",
                                    "--inh-caps=-all",
                                    "--bounding-set=-all",
                                    "--"};
  }
  return std::nullopt;
}

// Whether `prefix` (from unprivileged_prefix) can run at all and read `file` (e.g. when
// TMPDIR is under a private folder, nobody cannot reach the tree).
inline bool unprivileged_can_read(const std::vector<std::string>& prefix, const fs::path& file) {
  std::vector<std::string> argv = prefix;
  argv.insert(argv.end(), {"test", "-r", file.string()});
  return run(argv, RunOptions{.timeout = std::chrono::seconds(20)}).exit_code == 0;
}

// Every regular file under root, relative, as raw bytes (hard links counted per name).
inline std::set<std::string> regular_files(const fs::path& root) {
  std::set<std::string> files;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    if (it->is_symlink()) continue;
    if (it->is_regular_file()) files.insert(fs::relative(it->path(), root).string());
  }
  return files;
}

inline std::uintmax_t total_size(const fs::path& root) {
  std::uintmax_t total = 0;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    if (!it->is_symlink() && it->is_regular_file()) total += it->file_size();
  }
  return total;
}

}  // namespace piperun::itest
