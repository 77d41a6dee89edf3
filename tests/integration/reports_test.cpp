// CI reports, from runs of the real binary: the Prometheus textfile ([report] prometheus), the
// JSON Lines event log ([report] events) and the GitHub Actions step summary
// (GITHUB_STEP_SUMMARY). The textfile is checked line by line against the text exposition format
// and parsed by Prometheus's own Python client (python3-prometheus-client); every count is
// compared with the manifest of the same run.
#include <chrono>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <signal.h>
#include <string>
#include <sys/stat.h>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/harness.hpp"

namespace piperun::itest {
namespace {

using Json = nlohmann::json;

// A name that is not UTF-8 (Latin-1 e-acute).
const std::string kLatinName = "latin-\xe9.txt";

fs::path textfile_of(const Job& job) {
  return job.out() / "metrics" / "pipe-run.prom";
}

fs::path events_of(const Job& job) {
  return job.out() / "events.jsonl";
}

void configure_reports(Job& job) {
  configure_write(job);
  job.set("report", "prometheus", toml_string(textfile_of(job).string()));
  job.set("report", "events", toml_string(events_of(job).string()));
}

// Files ok, a large one, a FIFO (skipped), and a name that is not UTF-8.
void make_report_tree(const Job& job) {
  job.file("a.txt", "alpha\n");
  job.file("sub/b.txt", std::string(10'000, 'b'));
  write_random_file(job.root() / "sub/c.bin", 3 * 1024 * 1024 + 5, 7);
  job.file(kLatinName, "latin\n");
  ASSERT_EQ(::mkfifo((job.root() / "sub/pipe").c_str(), 0644), 0);
}

RunResult run_with_env(const Job& job, const std::vector<std::string>& env) {
  job.write_config();
  std::vector<std::string> argv{"env"};
  argv.insert(argv.end(), env.begin(), env.end());
  argv.push_back(kBinary.string());
  argv.push_back(job.config().string());
  return run(argv);
}

// Without a step summary, whatever the environment of the test run (it may be GitHub Actions).
RunResult run_plain(const Job& job, const std::string& fault = "") {
  std::vector<std::string> env{"-u", "GITHUB_STEP_SUMMARY"};
  if (!fault.empty()) env.push_back("PIPE_RUN_INJECT_FAULT=" + fault);
  return run_with_env(job, env);
}

// ---------------------------------------------------------------------------------------------
// The Prometheus textfile.

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;  // values unescaped
  double value = 0;
};

std::string unescape_label(std::string_view text) {
  std::string value;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      ++i;
      value += text[i] == 'n' ? '\n' : text[i];
    } else {
      value += text[i];
    }
  }
  return value;
}

// Reads the text exposition format strictly: every line is "# HELP name text", "# TYPE name
// type" or a sample "name{label="value",...} value"; every sample's metric has its HELP and
// TYPE before it; the file ends with a line feed. Each violation is a test failure.
std::vector<Sample> parse_textfile(const std::string& text) {
  static const std::regex kHelp(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S.*)");
  static const std::regex kType(
      R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped))");
  static const std::regex kSample(
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? ([-+]?[0-9.eE+-]+|NaN|[+-]Inf))");
  static const std::regex kLabel(R"re(([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"(,|$))re");
  EXPECT_TRUE(text.ends_with('\n'));
  std::set<std::string> helped;
  std::set<std::string> typed;
  std::vector<Sample> samples;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::smatch match;
    if (std::regex_match(line, match, kHelp)) {
      EXPECT_TRUE(helped.insert(match[1]).second) << "HELP twice: " << line;
    } else if (std::regex_match(line, match, kType)) {
      EXPECT_TRUE(typed.insert(match[1]).second) << "TYPE twice: " << line;
    } else if (std::regex_match(line, match, kSample)) {
      Sample sample{match[1], {}, std::stod(match[4])};
      EXPECT_TRUE(helped.contains(sample.name)) << "no HELP before: " << line;
      EXPECT_TRUE(typed.contains(sample.name)) << "no TYPE before: " << line;
      std::string labels = match[3];
      std::smatch label;
      while (!labels.empty()) {
        if (!std::regex_search(labels, label, kLabel, std::regex_constants::match_continuous)) {
          ADD_FAILURE() << "bad labels: " << line;
          break;
        }
        sample.labels[label[1]] = unescape_label(label[2].str());
        labels = label.suffix();
      }
      samples.push_back(std::move(sample));
    } else {
      ADD_FAILURE() << "not the text exposition format: '" << line << "'";
    }
  }
  return samples;
}

std::optional<double> value_of(const std::vector<Sample>& samples, std::string_view name,
                               const std::map<std::string, std::string>& labels = {}) {
  std::optional<double> found;
  for (const Sample& sample : samples) {
    if (sample.name != name) continue;
    bool matches = true;
    for (const auto& [key, value] : labels)
      matches = matches && sample.labels.contains(key) && sample.labels.at(key) == value;
    if (!matches) continue;
    EXPECT_FALSE(found) << "two samples of " << name;
    found = sample.value;
  }
  return found;
}

// The textfile as Prometheus's own Python client parses it: [{family, type, name, labels,
// value}].
Json parse_with_prometheus_client(const fs::path& textfile) {
  static constexpr const char* kScript = R"(
import json, sys
from prometheus_client.parser import text_string_to_metric_families
samples = []
with open(sys.argv[1]) as textfile:
    for family in text_string_to_metric_families(textfile.read()):
        for sample in family.samples:
            samples.append({"family": family.name, "type": family.type, "name": sample.name,
                            "labels": sample.labels, "value": sample.value})
print(json.dumps(samples))
)";
  // Debian's interpreter, where python3-prometheus-client is (scripts/install-deps.sh).
  const RunResult parsed = run({"/usr/bin/python3", "-c", kScript, textfile.string()});
  EXPECT_EQ(parsed.exit_code, 0) << "python3-prometheus-client (scripts/install-deps.sh)\n"
                                 << parsed.describe();
  return parsed.exit_code == 0 ? Json::parse(parsed.out) : Json::array();
}

// The textfile parses both ways, alike, and every metric is a pipe_run_ gauge labelled with the
// config's name. Returns the samples.
std::vector<Sample> read_textfile(const Job& job) {
  const fs::path textfile = textfile_of(job);
  EXPECT_TRUE(fs::exists(textfile));
  const std::vector<Sample> samples = parse_textfile(read_file(textfile));
  EXPECT_FALSE(samples.empty());
  for (const Sample& sample : samples) {
    EXPECT_TRUE(sample.name.starts_with("pipe_run_")) << sample.name;
    EXPECT_EQ(sample.labels.count("config") ? sample.labels.at("config") : "", "job.toml")
        << sample.name;
  }
  const Json parsed = parse_with_prometheus_client(textfile);
  EXPECT_EQ(parsed.size(), samples.size()) << parsed.dump(1);
  for (const Json& sample : parsed) {
    EXPECT_EQ(sample["type"], "gauge") << sample.dump();
    std::map<std::string, std::string> labels = sample["labels"];
    EXPECT_EQ(value_of(samples, sample["name"].get<std::string>(), labels),
              sample["value"].get<double>())
        << sample.dump();
  }
  // Written under a temporary name and renamed: nothing else is left in its folder.
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(textfile.parent_path()))
    names.push_back(entry.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{"pipe-run.prom"});
  return samples;
}

void expect_counts_match_manifest(const std::vector<Sample>& samples, const Json& summary) {
  const auto number = [](const Json& value) { return value.get<double>(); };
  EXPECT_EQ(value_of(samples, "pipe_run_files", {{"status", "ok"}}),
            number(summary["files"]["ok"]));
  EXPECT_EQ(value_of(samples, "pipe_run_files", {{"status", "failed"}}),
            number(summary["files"]["failed"]));
  EXPECT_EQ(value_of(samples, "pipe_run_files", {{"status", "skipped"}}),
            number(summary["files"]["skipped"]));
  EXPECT_EQ(value_of(samples, "pipe_run_files_resumed"), number(summary["files"]["resumed"]));
  EXPECT_EQ(value_of(samples, "pipe_run_read_bytes"), number(summary["bytes_in"]));
  EXPECT_EQ(value_of(samples, "pipe_run_output_bytes"), number(summary["bytes_out"]));
}

TEST(ItReports, PrometheusTextfileCountsMatchTheManifest) {
  Job job;
  configure_reports(job);
  make_report_tree(job);
  const double before_s =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  const RunResult result = run_plain(job);
  const double after_s =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  ASSERT_EQ(result.exit_code, 0) << result.describe();

  const std::vector<Sample> samples = read_textfile(job);
  const Json manifest = read_json(job.manifest());
  expect_counts_match_manifest(samples, manifest["summary"]);
  EXPECT_EQ(value_of(samples, "pipe_run_files", {{"status", "ok"}}), 4);
  EXPECT_EQ(value_of(samples, "pipe_run_files", {{"status", "skipped"}}), 1);
  EXPECT_GT(value_of(samples, "pipe_run_compressed_output_bytes").value_or(0), 0);
  EXPECT_NEAR(value_of(samples, "pipe_run_compression_ratio").value_or(0),
              manifest["summary"]["ratio"].get<double>(), 1e-3);
  EXPECT_EQ(value_of(samples, "pipe_run_exit_code"), 0);
  EXPECT_EQ(value_of(samples, "pipe_run_interrupted"), 0);
  const double ended_s = value_of(samples, "pipe_run_last_run_timestamp_seconds").value_or(0);
  EXPECT_GE(ended_s, before_s - 1);
  EXPECT_LE(ended_s, after_s + 1);
  EXPECT_NEAR(value_of(samples, "pipe_run_duration_seconds").value_or(-1),
              manifest["summary"]["duration_s"].get<double>(), 0.01);
}

TEST(ItReports, PrometheusTextfileIsWrittenWhenAFileFails) {
  Job job;
  configure_reports(job);
  make_report_tree(job);
  const RunResult result = run_plain(job, "read:EIO:1");
  ASSERT_EQ(result.exit_code, 1) << result.describe();

  const std::vector<Sample> samples = read_textfile(job);
  const Json manifest = read_json(job.manifest());
  expect_counts_match_manifest(samples, manifest["summary"]);
  EXPECT_EQ(value_of(samples, "pipe_run_files", {{"status", "failed"}}), 1);
  EXPECT_EQ(value_of(samples, "pipe_run_exit_code"), 1);
}

TEST(ItReports, PrometheusTextfileIsWrittenWhenTheRunEndsEarly) {
  Job job;
  configure_reports(job);  // an empty input tree: nothing matches, exit 2
  const RunResult result = run_plain(job);
  ASSERT_EQ(result.exit_code, 2) << result.describe();
  EXPECT_FALSE(fs::exists(job.manifest()));

  const std::vector<Sample> samples = read_textfile(job);
  EXPECT_EQ(value_of(samples, "pipe_run_exit_code"), 2);
  EXPECT_EQ(value_of(samples, "pipe_run_files", {{"status", "ok"}}), 0);
  // The event log too says how the run ended.
  const std::string events = read_file(events_of(job));
  EXPECT_EQ(count_lines(events), 2u) << events;
  EXPECT_TRUE(contains(events, R"("event":"run_finished","exit_code":2)")) << events;
  EXPECT_TRUE(contains(events, "no input files matched")) << events;
}

TEST(ItReports, ReportsSayARunWasInterrupted) {
  Job job;
  configure_reports(job);
  job.file("small.txt", "small\n");
  // Large enough to be still running when the signal comes (sparse, so cheap to make).
  write_sparse_file(job.root() / "zz-huge.bin", std::uintmax_t{64} * 1024 * 1024 * 1024);
  job.write_config();
  const RunResult result =
      run({"env", "-u", "GITHUB_STEP_SUMMARY", kBinary.string(), job.config().string()},
          RunOptions{.timeout = std::chrono::seconds(60),
                     .send_signal = SIGINT,
                     .signal_after = std::chrono::milliseconds(400),
                     .signal_when = [&job] { return has_entries(job.out()); }});
  ASSERT_FALSE(result.timed_out) << result.describe();
  ASSERT_EQ(result.exit_code, 130) << result.describe();

  const std::vector<Sample> samples = read_textfile(job);
  EXPECT_EQ(value_of(samples, "pipe_run_exit_code"), 130);
  EXPECT_EQ(value_of(samples, "pipe_run_interrupted"), 1);
  EXPECT_EQ(value_of(samples, "pipe_run_files", {{"status", "ok"}}), 1);
  const std::string events = read_file(events_of(job));
  EXPECT_TRUE(contains(events, R"("event":"file","path":"small.txt")")) << events;
  EXPECT_FALSE(contains(events, "zz-huge")) << "only files done are events: " << events;
  EXPECT_TRUE(contains(events, R"("event":"run_finished","exit_code":130,"interrupted":true)"))
      << events;
}

// ---------------------------------------------------------------------------------------------
// The event log.

std::vector<Json> read_events(const fs::path& file) {
  const std::string text = read_file(file);
  EXPECT_TRUE(text.ends_with('\n'));
  std::vector<Json> events;
  std::istringstream lines(text);
  std::string line;
  static const std::regex kTime(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  while (std::getline(lines, line)) {
    Json event = Json::parse(line, nullptr, false);
    EXPECT_TRUE(event.is_object()) << "not one JSON object: " << line;
    if (!event.is_object()) continue;
    EXPECT_TRUE(event["time"].is_string() &&
                std::regex_match(event["time"].get<std::string>(), kTime))
        << line;
    EXPECT_TRUE(event["event"].is_string()) << line;
    events.push_back(std::move(event));
  }
  return events;
}

TEST(ItReports, EventLogHasOneFileEventPerManifestRecord) {
  Job job;
  configure_reports(job);
  make_report_tree(job);
  const RunResult result = run_plain(job, "read:EIO:2");
  ASSERT_EQ(result.exit_code, 1) << result.describe();

  const std::vector<Json> events = read_events(events_of(job));
  ASSERT_GE(events.size(), 2u);
  const Json& started = events.front();
  EXPECT_EQ(started["event"], "run_started");
  EXPECT_EQ(started["config"], job.config().string());
  EXPECT_EQ(started["roots"], Json::array({job.root().string()}));
  EXPECT_EQ(started["stages"], Json::array({"hash", "compress", "write"}));

  // Each record once, with its status, digests and outputs as the manifest has them.
  const Json manifest = read_json(job.manifest());
  std::map<std::string, Json> records;
  for (const Json& record : manifest["files"])
    records[raw_name(record, "path")] = record;
  std::set<std::string> seen;
  std::string last_time;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const Json& event = events[i];
    EXPECT_GE(event["time"].get<std::string>(), last_time) << event.dump();
    last_time = event["time"];
    if (i == 0 || i + 1 == events.size()) continue;
    ASSERT_EQ(event["event"], "file") << event.dump();
    const std::string path = raw_name(event, "path");
    EXPECT_TRUE(seen.insert(path).second) << "twice: " << path;
    ASSERT_TRUE(records.contains(path)) << event.dump();
    const Json& record = records[path];
    EXPECT_EQ(event["status"], record["status"]) << path;
    EXPECT_EQ(event.value("digests", Json()), record.value("digests", Json())) << path;
    EXPECT_EQ(event.value("compressed_size", Json()), record.value("compressed_size", Json()));
    EXPECT_EQ(raw_name(event, "output"), raw_name(record, "output")) << path;
    EXPECT_EQ(event.value("error", ""), record.value("error", "")) << path;
  }
  EXPECT_EQ(seen.size(), records.size());

  // The name that is not UTF-8 round-trips through path_base64 (and output_base64).
  ASSERT_TRUE(seen.contains(kLatinName));
  for (const Json& event : events) {
    if (raw_name(event, "path") != kLatinName) continue;
    EXPECT_TRUE(event.contains("path_base64")) << event.dump();
    EXPECT_EQ(event["path"], "latin-\xEF\xBF\xBD.txt");
    if (event["status"] == "ok") {
      EXPECT_EQ(raw_name(event, "output"), kLatinName + ".zst");
    }
  }

  const Json& finished = events.back();
  EXPECT_EQ(finished["event"], "run_finished");
  EXPECT_EQ(finished["exit_code"], 1);
  EXPECT_EQ(finished["interrupted"], false);
  EXPECT_EQ(finished["files"], manifest["summary"]["files"]);
  EXPECT_EQ(finished["files"]["failed"], 1);
  EXPECT_EQ(finished["bytes_in"], manifest["summary"]["bytes_in"]);
  EXPECT_EQ(finished["bytes_out"], manifest["summary"]["bytes_out"]);
}

// ---------------------------------------------------------------------------------------------
// The GitHub Actions step summary.

TEST(ItReports, StepSummaryIsAppendedWithTheCountsAndTheFailures) {
  Job job;
  configure_reports(job);
  // Every name has the table's cell separator in it, so whichever fails must be escaped.
  job.file("one|a.txt", "alpha\n");
  job.file("two|b.txt", "beta\n");
  job.file("three|c.txt", "gamma\n");
  const fs::path summary = job.dir() / "step_summary.md";
  const std::string earlier = "## Build\n\nan earlier step wrote this\n";
  write_file(summary, earlier);

  const RunResult result = run_with_env(
      job, {"GITHUB_STEP_SUMMARY=" + summary.string(), "PIPE_RUN_INJECT_FAULT=read:EIO:1"});
  ASSERT_EQ(result.exit_code, 1) << result.describe();

  const std::string text = read_file(summary);
  EXPECT_TRUE(text.starts_with(earlier)) << text;
  const std::string section = text.substr(earlier.size());
  EXPECT_TRUE(contains(section, "\n### pipe-run: job.toml\n")) << section;
  EXPECT_TRUE(contains(section, "| files ok | 2 |")) << section;
  EXPECT_TRUE(contains(section, "| files failed | 1 |")) << section;
  EXPECT_TRUE(contains(section, "| files skipped | 0 |")) << section;

  const Json manifest = read_json(job.manifest());
  ASSERT_EQ(manifest["summary"]["failures"].size(), 1u);
  const Json& failure = manifest["summary"]["failures"][0];
  std::string cell = failure["path"];
  cell.replace(cell.find('|'), 1, "\\|");
  EXPECT_TRUE(contains(section, "| " + cell + " | " + failure["error"].get<std::string>() + " |"))
      << section;

  // A second run appends a second section.
  ASSERT_EQ(run_with_env(job, {"GITHUB_STEP_SUMMARY=" + summary.string()}).exit_code, 0);
  const std::string twice = read_file(summary);
  EXPECT_TRUE(twice.starts_with(text));
  EXPECT_TRUE(contains(twice.substr(text.size()), "| files ok | 3 |")) << twice;
}

TEST(ItReports, NoStepSummaryWithoutTheVariable) {
  Job job;
  job.file("a.txt", "alpha\n");
  job.write_config();
  const auto listing = [&job] {
    std::set<std::string> names;
    for (const auto& entry : fs::recursive_directory_iterator(job.dir()))
      names.insert(entry.path().string());
    return names;
  };
  // Unset, and set but empty: the run neither writes a summary anywhere nor fails for it.
  for (const std::vector<std::string>& env : {std::vector<std::string>{"-u", "GITHUB_STEP_SUMMARY"},
                                              std::vector<std::string>{"GITHUB_STEP_SUMMARY="}}) {
    fs::remove_all(job.out());
    const auto before = listing();
    std::vector<std::string> argv{"env"};
    argv.insert(argv.end(), env.begin(), env.end());
    argv.insert(argv.end(), {kBinary.string(), job.config().string()});
    const RunResult result = run(argv, RunOptions{.cwd = job.dir()});
    ASSERT_EQ(result.exit_code, 0) << result.describe();
    EXPECT_FALSE(contains(result.out + result.err, "### pipe-run")) << result.describe();
    std::set<std::string> added;
    for (const std::string& name : listing())
      if (!before.contains(name)) added.insert(name);
    EXPECT_EQ(added, (std::set<std::string>{job.out().string(), job.manifest().string(),
                                            job.checksums().string()}));
  }
}

}  // namespace
}  // namespace piperun::itest
