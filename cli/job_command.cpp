#include "cli/job_command.hpp"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <pthread.h>
#include <signal.h>
#include <string>
#include <unistd.h>
#include <utility>
#include <vector>

#include <fmt/core.h>

#include "cli/config.hpp"
#include "cli/console.hpp"
#include "cli/dry_run.hpp"
#include "cli/environment.hpp"
#include "cli/exit_codes.hpp"
#include "cli/progress_display.hpp"
#include "cli/report/run_reports.hpp"
#include "cli/shard_argument.hpp"
#include "cli/summary.hpp"
#include "pipeline/cpu_budget.hpp"
#include "pipeline/engine.hpp"
#include "stages/hash.hpp"
#include "stages/registry.hpp"
#include "stages/upload/digest_cache.hpp"

namespace piperun::cli {
namespace {

enum class Verbosity { quiet, normal, verbose };

// What the upload stage needs beyond its config section.
stages::UploadContext upload_context(const Config& config) {
  stages::UploadContext context;
  context.access = store_access_from_environment();
  const bool hashed = std::find(config.pipeline.stages.begin(), config.pipeline.stages.end(),
                                "hash") != config.pipeline.stages.end();
  if (hashed && !config.hash.algorithms.empty())
    context.digest_name = std::string(stages::algorithm_name(config.hash.algorithms.front()));
  context.memory = config.pipeline.memory_limit / 2;
  context.digest_cache = stages::upload::DigestCache::default_path();
  return context;
}

// "K/N"; empty for the whole input.
std::string shard_text(const pipeline::Shard& shard) {
  return shard.whole() ? std::string() : shard.to_string();
}

// What decides the outputs a run makes of a file: a re-run resumes from a manifest only when
// they are the same (pipeline/resume_index.hpp).
std::vector<std::pair<std::string, std::string>> resume_settings(const Config& config) {
  std::vector<std::pair<std::string, std::string>> settings;
  const auto joined = [](const auto& items, auto&& name_of) {
    std::string text;
    for (const auto& item : items)
      text += (text.empty() ? "" : ",") + std::string(name_of(item));
    return text;
  };
  const auto same = [](const auto& item) -> std::string { return item; };
  settings.emplace_back("pipeline.stages", joined(config.pipeline.stages, same));
  std::vector<std::string> roots;
  for (const auto& root : config.input.paths)
    roots.push_back(root.string());
  settings.emplace_back("input.paths", joined(roots, same));
  settings.emplace_back("hash.algorithms",
                        joined(config.hash.algorithms, [](stages::HashAlgorithm algorithm) {
                          return stages::algorithm_name(algorithm);
                        }));
  settings.emplace_back("compress.level", std::to_string(config.compress.level));
  settings.emplace_back("output.dir", config.output.dir.string());
  settings.emplace_back("input.shard", shard_text(config.input.shard));
  settings.emplace_back("upload.url", config.upload.url);
  settings.emplace_back(
      "upload.layout", config.upload.layout == stages::UploadLayout::mirror ? "mirror" : "content");
  return settings;
}

pipeline::EngineOptions engine_options(const Config& config) {
  pipeline::EngineOptions options;
  options.input = config.input;
  options.pipeline = config.pipeline;
  options.output = config.output;
  options.cpu_threads =
      config.pipeline.threads > 0 ? config.pipeline.threads : pipeline::usable_cpus();
  const auto& stages = config.pipeline.stages;
  if (std::find(stages.begin(), stages.end(), "hash") != stages.end()) {
    for (stages::HashAlgorithm algorithm : config.hash.algorithms) {
      const std::string name(stages::algorithm_name(algorithm));
      options.checksum_files.push_back(
          {name, pipeline::ChecksumWriter::checksum_path_for(config.output.checksums, name)});
    }
  }
  options.manifest_header.tool_version = "pipe-run " PIPE_RUN_VERSION;
  options.manifest_header.config_file = config.file.string();
  for (const auto& root : config.input.paths)
    options.manifest_header.roots.push_back(root.string());
  options.manifest_header.stages = stages;
  options.manifest_header.shard = shard_text(config.input.shard);
  options.manifest_header.settings = resume_settings(config);
  const auto has = [&stages](std::string_view name) {
    return std::find(stages.begin(), stages.end(), name) != stages.end();
  };
  options.resume = config.output.resume && (has("write") || has("upload"));
  return options;
}

void report_file(const pipeline::FileRecord& record, Verbosity verbosity, Console& console) {
  switch (record.status) {
    case pipeline::FileStatus::ok:
      if (verbosity == Verbosity::verbose) console.line(fmt::format("ok: {}", record.rel_path));
      break;
    case pipeline::FileStatus::failed:
      console.line(fmt::format("pipe-run: {}: {}", record.rel_path, record.error));
      break;
    case pipeline::FileStatus::skipped:
      // A symlink left unfollowed is what the user asked for; other skips deserve a word.
      if (verbosity == Verbosity::verbose ||
          (verbosity == Verbosity::normal && record.kind != "symlink")) {
        console.line(fmt::format("pipe-run: {}: {}", record.rel_path, record.error));
      }
      break;
  }
}

// --progress: auto draws a live line on a terminal and plain lines in logs, none with -q.
std::optional<ProgressDisplay::Style> progress_style(const JobArguments& arguments) {
  switch (arguments.progress) {
    case ProgressMode::never:
      return std::nullopt;
    case ProgressMode::always:
      return ProgressDisplay::Style::live;
    case ProgressMode::automatic:
      break;
  }
  if (arguments.quiet) return std::nullopt;
  return ::isatty(STDERR_FILENO) == 1 ? ProgressDisplay::Style::live
                                      : ProgressDisplay::Style::plain;
}

}  // namespace

int run_job_command(const JobArguments& arguments) {
  const Verbosity verbosity = arguments.quiet     ? Verbosity::quiet
                              : arguments.verbose ? Verbosity::verbose
                                                  : Verbosity::normal;

  // A run that ends before the engine runs: the message, and with --json a document too.
  const auto stop = [&arguments](std::string_view kind, const std::string& message, int code) {
    fmt::print(stderr, "pipe-run: {}\n", message);
    if (arguments.json)
      fmt::print("{}\n", format_json_error(kind, message, code, peak_rss_bytes()));
    return code;
  };
  auto config = load_config(arguments.config_file, arguments.overrides);
  if (!config) return stop("usage", config.error().message, kExitUsage);
  if (!arguments.shard.empty()) {
    auto shard = parse_shard(arguments.shard);
    if (!shard) return stop("usage", shard.error(), kExitUsage);
    config->input.shard = *shard;
  }
  if (arguments.dry_run) return run_dry_run(*config, arguments);
  pipeline::EngineOptions options = engine_options(*config);
  options.handle_signals = true;
  stages::StageOptions stage_options{
      config->hash,   config->compress,        {config->output.dir, config->output.fsync},
      config->upload, upload_context(*config), options.cpu_threads};
  if (auto loaded = stages::load_libraries(config->pipeline.stages, stage_options); !loaded)
    return stop("fatal", loaded.error(), kExitFatal);
  auto stages = stages::make_stages(config->pipeline.stages, stage_options);
  if (!stages) {
    return stop("usage",
                fmt::format("{}: {}", config->origin_of("pipeline.stages"), stages.error()),
                kExitUsage);
  }

  // SIGINT and SIGTERM are read through the engine's ring: block them before any thread starts,
  // so every thread inherits the mask and none is interrupted by them.
  const sigset_t signals = pipeline::stop_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // After the mask: the event log's writer thread must not take the signals either.
  report::RunReports reports(*config);
  if (auto opened = reports.open(); !opened) {
    const int code = reports.finish(
        std::unexpected(pipeline::RunError{pipeline::RunError::Kind::fatal, opened.error()}),
        kExitFatal);
    return stop("fatal", opened.error(), code);
  }

  Console console;
  pipeline::EngineHooks hooks;
  if (verbosity == Verbosity::verbose) {
    hooks.on_event = [&console](std::string_view text) {
      console.line(fmt::format("pipe-run: {}", text));
    };
  }
  hooks.on_file_done = [verbosity, &reports, &console](const pipeline::FileRecord& record) {
    report_file(record, verbosity, console);
    reports.on_file_done(record);
  };
  pipeline::Engine engine(std::move(options), std::move(*stages), std::move(hooks));
  std::optional<ProgressDisplay> progress;
  if (auto style = progress_style(arguments)) {
    progress.emplace(engine, console, *style, config->report.progress_interval);
  }
  auto stats = engine.run();
  if (progress) progress->stop();

  int exit_code = kExitOk;
  if (!stats) {
    console.line(fmt::format("pipe-run: {}", stats.error().message));
    switch (stats.error().kind) {
      case pipeline::RunError::Kind::no_files:
        exit_code = kExitUsage;
        break;
      case pipeline::RunError::Kind::interrupted:
        exit_code = kExitInterrupted;
        break;
      case pipeline::RunError::Kind::fatal:
        exit_code = kExitFatal;
        break;
    }
  } else {
    if (stats->files_total() == 0 && config->input.if_no_files == pipeline::IfNoFiles::warn) {
      console.line("pipe-run: warning: no input files matched");
    }
    if (verbosity != Verbosity::quiet) {
      console.line(format_summary(*stats));
      const std::string details = format_summary_details(*stats, peak_rss_bytes());
      std::fputs(details.c_str(), stderr);
    }
    if (stats->interrupted) {
      console.line("pipe-run: interrupted: the manifest lists the files done so far");
      exit_code = kExitInterrupted;
    } else if (stats->files_failed > 0) {
      exit_code = kExitSomeFailed;
    }
  }
  exit_code = reports.finish(stats, exit_code);
  if (arguments.json) {
    fmt::print(stdout, "{}\n", format_json_summary(stats, exit_code, peak_rss_bytes()));
    std::fflush(stdout);
  }
  return exit_code;
}

}  // namespace piperun::cli
