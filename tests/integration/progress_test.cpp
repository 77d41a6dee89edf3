// What a user sees while a run goes on and when it ends: the live progress line on a terminal
// (through a pseudo-terminal), plain progress lines in a log, --progress, -q, the summary on
// stderr and the --json document on stdout.
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>

#include "integration/harness.hpp"

namespace piperun::itest {
namespace {

constexpr std::string_view kEraseLine = "\r\x1b[K";
constexpr unsigned short kColumns = 60;

// A job that takes a few seconds on one worker: zstd level 19 on text that compresses (about
// 1 MB/s here).
void make_slow(Job& job) {
  const std::string text = random_bytes(768 << 10, 7);
  std::string printable;
  printable.reserve(text.size());
  for (unsigned char c : text)
    printable += static_cast<char>('a' + c % 16);
  for (int i = 0; i < 4; ++i)
    job.file("text-" + std::to_string(i), printable);
  job.set("pipeline", "stages", R"(["hash", "compress", "write"])")
      .set("pipeline", "threads", "1")
      .set("compress", "level", "19")
      .set("output", "dir", toml_string(job.out().string()))
      .set("report", "progress_interval", R"("200ms")");
}

struct TerminalRun {
  int exit_code = -1;
  std::string terminal;  // what the pseudo-terminal showed (stderr)
  double seconds = 0;
};

// Runs pipe-run with its stderr on a pseudo-terminal of kColumns columns (stdout to a file, as
// when a user redirects the JSON): what an interactive user sees.
TerminalRun run_on_terminal(const Job& job, const std::vector<std::string>& extra) {
  job.write_config();
  TerminalRun result;
  const int master = ::posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0 || ::grantpt(master) != 0 || ::unlockpt(master) != 0) {
    ADD_FAILURE() << "no pseudo-terminal: " << std::strerror(errno);
    return result;
  }
  const std::string slave_name = ::ptsname(master);
  const int slave = ::open(slave_name.c_str(), O_RDWR | O_NOCTTY);
  winsize size{};
  size.ws_row = 24;
  size.ws_col = kColumns;
  ::ioctl(slave, TIOCSWINSZ, &size);

  std::vector<std::string> argv{kBinary.string(), job.config().string()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  std::vector<char*> args;
  for (auto& arg : argv)
    args.push_back(arg.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, slave, 2);
  const auto started = std::chrono::steady_clock::now();
  pid_t pid = -1;
  const int spawned = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(slave);
  if (spawned != 0) {
    ADD_FAILURE() << "posix_spawn: " << std::strerror(spawned);
    ::close(master);
    return result;
  }
  // Read until the child has exited and the terminal has nothing more (EIO once every slave
  // descriptor is closed).
  char buffer[4096];
  int status = 0;
  bool exited = false;
  for (;;) {
    pollfd ready{master, POLLIN, 0};
    if (::poll(&ready, 1, 50) > 0) {
      const ssize_t got = ::read(master, buffer, sizeof buffer);
      if (got > 0) {
        result.terminal.append(buffer, static_cast<std::size_t>(got));
        continue;
      }
      if (exited) break;
    }
    if (!exited && ::waitpid(pid, &status, WNOHANG) == pid) exited = true;
    if (exited && ::poll(&ready, 1, 0) <= 0) break;
    if (std::chrono::steady_clock::now() - started > std::chrono::seconds(120)) {
      ::kill(pid, SIGKILL);
      ADD_FAILURE() << "timed out";
      break;
    }
  }
  if (!exited) ::waitpid(pid, &status, 0);
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ::close(master);
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

// The texts drawn as the live line: what follows each erase up to the next carriage return,
// unless a newline ends it (a message printed after erasing the live line).
std::vector<std::string> live_lines(std::string_view terminal) {
  std::vector<std::string> lines;
  std::size_t at = 0;
  while ((at = terminal.find(kEraseLine, at)) != std::string_view::npos) {
    at += kEraseLine.size();
    const std::size_t end = terminal.find_first_of("\r\n", at);
    if (end != std::string_view::npos && terminal.substr(end).starts_with("\r\n")) continue;
    if (end != std::string_view::npos && terminal[end] == '\n') continue;
    std::string text(terminal.substr(at, end - at));
    if (!text.empty()) lines.push_back(std::move(text));
  }
  return lines;
}

TEST(ItProgress, TerminalShowsOneLiveLineRedrawnAtMostTenTimesASecond) {
  Job job;
  make_slow(job);
  const TerminalRun run = run_on_terminal(job, {});
  ASSERT_EQ(run.exit_code, 0) << run.terminal;
  const auto lines = live_lines(run.terminal);
  ASSERT_GE(lines.size(), 3u) << "a run of " << run.seconds << " s drew too few progress lines:\n"
                              << run.terminal;
  EXPECT_LE(static_cast<double>(lines.size()), 10 * run.seconds + 1)
      << lines.size() << " redraws in " << run.seconds << " s";
  for (const auto& line : lines) {
    EXPECT_LT(line.size(), kColumns) << "wider than the terminal: " << line;
    EXPECT_TRUE(contains(line, " files")) << line;
  }
  // Somewhere along the way: bytes of the total, a rate, an ETA and what limits the run.
  bool saw_eta = false;
  bool saw_limit = false;
  for (const auto& line : lines) {
    saw_eta |= contains(line, "ETA ");
    saw_limit |= contains(line, "limit: ");
  }
  EXPECT_TRUE(saw_eta) << run.terminal;
  EXPECT_TRUE(saw_limit) << run.terminal;
  EXPECT_TRUE(contains(lines.back(), "/4 files")) << lines.back();
  // The live line is erased before the summary, which is the last thing on the terminal.
  const std::size_t summary = run.terminal.find("pipe-run: 4 files (4 ok");
  ASSERT_NE(summary, std::string::npos) << run.terminal;
  EXPECT_EQ(run.terminal.rfind(kEraseLine), summary - kEraseLine.size()) << run.terminal;
  EXPECT_TRUE(contains(run.terminal.substr(summary), "per stage: input ")) << run.terminal;
  EXPECT_TRUE(contains(run.terminal.substr(summary), "peak RSS ")) << run.terminal;
}

TEST(ItProgress, QuietAndNeverDrawNothingOnATerminal) {
  Job job;
  make_slow(job);
  for (const auto& flags : std::vector<std::vector<std::string>>{{"-q"}, {"--progress=never"}}) {
    const TerminalRun run = run_on_terminal(job, flags);
    ASSERT_EQ(run.exit_code, 0) << run.terminal;
    EXPECT_FALSE(contains(run.terminal, kEraseLine)) << flags[0] << ":\n" << run.terminal;
    EXPECT_FALSE(contains(run.terminal, "progress")) << flags[0] << ":\n" << run.terminal;
    fs::remove_all(job.out());
  }
}

TEST(ItProgress, LogsGetPlainLinesEveryInterval) {
  Job job;
  make_slow(job);
  const RunResult run = job.run_pipe();
  ASSERT_EQ(run.exit_code, 0) << run.describe();
  EXPECT_FALSE(contains(run.err, "\r")) << run.describe();
  EXPECT_FALSE(contains(run.err, "\x1b")) << run.describe();
  const std::size_t lines = count_lines(run.err, "");
  std::size_t progress = 0;
  std::istringstream stream(run.err);
  std::string line;
  while (std::getline(stream, line)) {
    if (line.starts_with("pipe-run: progress: ")) {
      ++progress;
      EXPECT_TRUE(contains(line, " files, ")) << line;
      EXPECT_TRUE(contains(line, " elapsed")) << line;
    }
  }
  // Every 200 ms while the engine runs: never more often, and not much less often (the process
  // also starts and ends, which takes long under a sanitizer on a loaded machine).
  EXPECT_GE(progress, static_cast<std::size_t>(run.seconds / 0.2 / 2)) << run.describe();
  EXPECT_LE(progress, static_cast<std::size_t>(run.seconds / 0.2) + 1) << run.describe();
  EXPECT_GT(lines, progress);
}

TEST(ItProgress, QuietLogsAndNeverGetNoProgressLines) {
  Job job;
  make_slow(job);
  for (const auto& flag : {"-q", "--progress=never"}) {
    const RunResult run = job.run_pipe({flag});
    ASSERT_EQ(run.exit_code, 0) << run.describe();
    EXPECT_FALSE(contains(run.err, "progress:")) << run.describe();
    fs::remove_all(job.out());
  }
}

TEST(ItProgress, AlwaysDrawsTheLiveLineIntoALog) {
  Job job;
  make_slow(job);
  const RunResult run = job.run_pipe({"--progress", "always"});
  ASSERT_EQ(run.exit_code, 0) << run.describe();
  EXPECT_GE(live_lines(run.err).size(), 2u) << run.describe();
  EXPECT_FALSE(contains(run.err, "pipe-run: progress:")) << run.describe();
}

TEST(ItProgress, BadProgressModeIsAUsageError) {
  Job job;
  job.file("a", "x");
  const RunResult run = job.run_pipe({"--progress", "sometimes"});
  EXPECT_EQ(run.exit_code, 2) << run.describe();
  EXPECT_TRUE(contains(run.err, "--progress")) << run.describe();
  EXPECT_FALSE(fs::exists(job.manifest()));
}

TEST(ItSummary, JsonOnStdoutMatchesTheManifestAndNamesFailures) {
  Job job;
  for (int i = 0; i < 20; ++i)
    write_random_file(job.root() / ("f" + std::to_string(i)), 1000 + i, i);
  job.set("pipeline", "queue_depth", "1");  // files are read one after another: the 3rd fails
  job.write_config();
  ::setenv("PIPE_RUN_INJECT_FAULT", "read:EIO:3", 1);
  const RunResult run = job.run_pipe({"--json"});
  ::unsetenv("PIPE_RUN_INJECT_FAULT");
  ASSERT_EQ(run.exit_code, 1) << run.describe();
  const nlohmann::json document = nlohmann::json::parse(run.out);
  const nlohmann::json manifest = read_json(job.manifest());
  const auto& summary = manifest["summary"];
  EXPECT_EQ(document["exit_code"], 1);
  EXPECT_EQ(document["files"]["total"], summary["files"]["total"]);
  EXPECT_EQ(document["files"]["ok"], 19);
  EXPECT_EQ(document["files"]["failed"], 1);
  EXPECT_EQ(document["bytes_in"], summary["bytes_in"]);
  ASSERT_EQ(document["failures"].size(), 1u) << run.out;
  const std::string failed = document["failures"][0]["path"];
  const auto* record = find_record(manifest, failed);
  ASSERT_NE(record, nullptr) << failed;
  EXPECT_EQ((*record)["status"], "failed");
  EXPECT_TRUE(contains(document["failures"][0]["error"].get<std::string>(), "Input/output error"));
  const auto& stages = document["stages"];
  ASSERT_GE(stages.size(), 3u);
  EXPECT_EQ(stages[0]["name"], "input");
  EXPECT_EQ(stages[2]["name"], "hash");
  EXPECT_EQ(stages[2]["bytes"], document["bytes_in"]);
  EXPECT_GT(document["peak_rss_bytes"].get<std::uint64_t>(), 1u << 20);
  // Human text stays on stderr, naming the failure in the summary too.
  EXPECT_TRUE(contains(run.err, "pipe-run: 20 files (19 ok, 1 failed")) << run.describe();
  EXPECT_TRUE(contains(run.err, "pipe-run: failed: " + failed + " (read: ")) << run.describe();
}

TEST(ItSummary, JsonReportsARunThatEndedInAnError) {
  Job job;
  fs::create_directories(job.root() / "empty");
  const RunResult run = job.run_pipe({"--json", "-q"});
  ASSERT_EQ(run.exit_code, 2) << run.describe();
  const nlohmann::json document = nlohmann::json::parse(run.out);
  EXPECT_EQ(document["exit_code"], 2);
  EXPECT_EQ(document["error"]["kind"], "no_files");
  EXPECT_TRUE(contains(document["error"]["message"].get<std::string>(), "no input files"));
}

TEST(ItSummary, JsonReportsAConfigErrorToo) {
  Job job;
  job.file("a", "x");
  job.set("compress", "level", "42");
  const RunResult run = job.run_pipe({"--json"});
  ASSERT_EQ(run.exit_code, 2) << run.describe();
  const nlohmann::json document = nlohmann::json::parse(run.out);
  EXPECT_EQ(document["exit_code"], 2);
  EXPECT_EQ(document["error"]["kind"], "usage");
  const std::string message = document["error"]["message"];
  EXPECT_TRUE(contains(message, "job.toml:") && contains(message, "compress.level")) << message;
  EXPECT_TRUE(contains(run.err, message)) << run.describe();
}

}  // namespace
}  // namespace piperun::itest
