// Threads: this (the main) thread polls the Walker and sleeps on a WalkWakeup while its queue is
// empty; the walker thread only pushes entries and calls WalkWakeup::notify. No ring is made.
#include "cli/dry_run.hpp"

#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "cli/exit_codes.hpp"
#include "pipeline/checksum_writer.hpp"
#include "pipeline/file_entry.hpp"
#include "pipeline/glob.hpp"
#include "pipeline/manifest_writer.hpp"
#include "pipeline/walker.hpp"
#include "stages/hash.hpp"

namespace piperun::cli {
namespace {

using Json = nlohmann::ordered_json;  // keys in the order written: the plan reads top down

constexpr std::size_t kListedEntries = 10;  // named in the plan (every one with -v)
constexpr std::size_t kWalkBatch = 256;

bool has_stage(const Config& config, std::string_view name) {
  for (const std::string& stage : config.pipeline.stages)
    if (stage == name) return true;
  return false;
}

// The paths a real run of the job would write, as the engine is given them (job_command.cpp).
struct Destinations {
  std::filesystem::path output_dir;              // empty without `write`
  std::filesystem::path manifest;                // always written
  std::vector<std::filesystem::path> checksums;  // one per hash algorithm, with `hash`
  std::string upload_url;                        // empty without `upload`; never has credentials
};

Destinations destinations_of(const Config& config) {
  Destinations destinations;
  if (has_stage(config, "write")) destinations.output_dir = config.output.dir;
  destinations.manifest = config.output.manifest;
  if (has_stage(config, "hash")) {
    for (stages::HashAlgorithm algorithm : config.hash.algorithms) {
      destinations.checksums.push_back(pipeline::ChecksumWriter::checksum_path_for(
          config.output.checksums, stages::algorithm_name(algorithm)));
    }
  }
  // cli/config.cpp refuses a URL with user:password@, so the URL is safe to print as it is.
  if (has_stage(config, "upload")) destinations.upload_url = config.upload.url;
  return destinations;
}

// What the walk found: the records a real run's manifest would hold, by kind.
struct Inventory {
  std::uint64_t files = 0;     // regular files (followed symlinks included): to be processed
  std::uint64_t bytes = 0;     // their sizes
  std::uint64_t symlinks = 0;  // recorded with their target, not followed
  std::uint64_t special = 0;   // FIFOs, sockets, devices: skipped
  std::uint64_t failed = 0;    // entries that could not be examined
  std::vector<pipeline::FileEntry> listed;    // the first entries that are not failures
  std::uint64_t unlisted = 0;                 // the other ones
  std::vector<pipeline::FileEntry> failures;  // the first ManifestWriter::kMaxListedFailures

  std::uint64_t total() const { return files + symlinks + special + failed; }
};

// The Walker's notify, on the walker thread; the polling thread sleeps on it.
class WalkWakeup {
 public:
  void notify() {
    {
      const std::lock_guard lock(mutex_);
      pending_ = true;
    }
    ready_.notify_one();
  }
  void wait() {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [this] { return pending_; });
    pending_ = false;
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  bool pending_ = false;
};

// Walks the inputs as a real run's walker does; `on_entry` sees every entry as it comes.
template <typename OnEntry>
Inventory take_inventory(const Config& config, const Destinations& destinations, OnEntry on_entry) {
  // A real run leaves its own manifest and checksum files out of the walk (engine.cpp).
  std::vector<std::filesystem::path> excluded{destinations.manifest};
  excluded.insert(excluded.end(), destinations.checksums.begin(), destinations.checksums.end());

  WalkWakeup wakeup;  // outlives the walker, whose thread notifies it
  pipeline::Walker walker(config.input, pipeline::GlobPattern::compile_all(config.input.include),
                          pipeline::GlobPattern::compile_all(config.input.exclude),
                          std::move(excluded));
  walker.start([&wakeup] { wakeup.notify(); });

  Inventory inventory;
  std::vector<pipeline::FileEntry> batch;
  for (;;) {
    batch.clear();
    const pipeline::Walker::Poll poll = walker.poll(batch, kWalkBatch);
    if (poll == pipeline::Walker::Poll::finished) break;
    if (poll == pipeline::Walker::Poll::empty) {
      wakeup.wait();
      continue;
    }
    for (pipeline::FileEntry& entry : batch) {
      on_entry(entry);
      switch (entry.kind) {
        case pipeline::EntryKind::regular:
          ++inventory.files;
          inventory.bytes += entry.size;
          break;
        case pipeline::EntryKind::symlink:
          ++inventory.symlinks;
          break;
        case pipeline::EntryKind::special:
          ++inventory.special;
          break;
        case pipeline::EntryKind::error:
          ++inventory.failed;
          if (inventory.failures.size() < pipeline::ManifestWriter::kMaxListedFailures)
            inventory.failures.push_back(std::move(entry));
          continue;
      }
      if (inventory.listed.size() < kListedEntries) {
        inventory.listed.push_back(std::move(entry));
      } else {
        ++inventory.unlisted;
      }
    }
  }
  return inventory;
}

std::string counted(std::uint64_t count, std::string_view singular, std::string_view plural) {
  return fmt::format("{} {}", count, count == 1 ? singular : plural);
}

// One line of the plan's listing, without its indentation.
std::string describe_entry(const pipeline::FileEntry& entry) {
  switch (entry.kind) {
    case pipeline::EntryKind::regular:
      return fmt::format("{} ({})", entry.rel_path, counted(entry.size, "byte", "bytes"));
    case pipeline::EntryKind::symlink:
      return fmt::format("{} -> {} (symlink: recorded, not followed)", entry.rel_path,
                         entry.symlink_target);
    case pipeline::EntryKind::special:
      return fmt::format("{} ({}: skipped)", entry.rel_path, entry.message);
    case pipeline::EntryKind::error:
      break;
  }
  return fmt::format("{}: {}", entry.rel_path, entry.message);
}

std::string_view kind_name(pipeline::EntryKind kind) {
  switch (kind) {
    case pipeline::EntryKind::regular:
      return "file";
    case pipeline::EntryKind::symlink:
      return "symlink";
    case pipeline::EntryKind::special:
      return "special";
    case pipeline::EntryKind::error:
      break;
  }
  return "error";
}

void print_plan_header(const Config& config, const Destinations& destinations) {
  const pipeline::Shard& shard = config.input.shard;
  fmt::print(stderr, "pipe-run: dry run of {}{}: nothing is read, written or sent\n",
             config.file.string(), shard.whole() ? "" : " (shard " + shard.to_string() + ")");
  std::string stages;
  for (const std::string& stage : config.pipeline.stages)
    stages += (stages.empty() ? "" : ", ") + stage;
  fmt::print(stderr, "  stages: {}\n", stages.empty() ? "none (read only)" : stages);
  for (const auto& root : config.input.paths)
    fmt::print(stderr, "  input: {}\n", root.string());
  if (!destinations.output_dir.empty())
    fmt::print(stderr, "  output tree: {}\n", destinations.output_dir.string());
  fmt::print(stderr, "  manifest: {}\n", destinations.manifest.string());
  for (const auto& checksums : destinations.checksums)
    fmt::print(stderr, "  checksums: {}\n", checksums.string());
  if (!destinations.upload_url.empty()) {
    const std::string endpoint =
        destinations.upload_url.starts_with("s3://") && !config.upload.endpoint.empty()
            ? ", endpoint " + config.upload.endpoint
            : "";
    fmt::print(stderr, "  upload: {} (layout {}{})\n", destinations.upload_url,
               config.upload.layout == stages::UploadLayout::mirror ? "mirror" : "content",
               endpoint);
  }
}

void print_plan_counts(const Inventory& inventory, bool listed_already) {
  if (!listed_already) {
    for (const pipeline::FileEntry& entry : inventory.listed)
      fmt::print(stderr, "  {}\n", describe_entry(entry));
    if (inventory.unlisted > 0) fmt::print(stderr, "  ... and {} more\n", inventory.unlisted);
  }
  fmt::print(stderr, "pipe-run: dry run: {}, {:.1f} MB ({}); {} recorded, {} skipped, {} failed\n",
             counted(inventory.files, "file", "files"), static_cast<double>(inventory.bytes) / 1e6,
             counted(inventory.bytes, "byte", "bytes"),
             counted(inventory.symlinks, "symlink", "symlinks"),
             counted(inventory.special, "special file", "special files"), inventory.failed);
}

Json plan_json(const Config& config, const Destinations& destinations, const Inventory& inventory) {
  Json outputs = Json::object();
  outputs["dir"] = destinations.output_dir.empty() ? Json() : Json(destinations.output_dir);
  outputs["manifest"] = destinations.manifest.string();
  outputs["checksums"] = Json::array();
  for (const auto& checksums : destinations.checksums)
    outputs["checksums"].push_back(checksums.string());
  outputs["upload_url"] = destinations.upload_url.empty() ? Json() : Json(destinations.upload_url);

  Json entries = Json::array();
  for (const pipeline::FileEntry& entry : inventory.listed) {
    Json item{{"path", entry.rel_path}, {"kind", kind_name(entry.kind)}};
    if (entry.kind == pipeline::EntryKind::regular) item["size"] = entry.size;
    if (entry.kind == pipeline::EntryKind::symlink) item["symlink_target"] = entry.symlink_target;
    if (entry.kind == pipeline::EntryKind::special) item["what"] = entry.message;
    entries.push_back(std::move(item));
  }
  Json failures = Json::array();
  for (const pipeline::FileEntry& entry : inventory.failures)
    failures.push_back({{"path", entry.rel_path}, {"error", entry.message}});

  std::vector<std::string> roots;
  for (const auto& root : config.input.paths)
    roots.push_back(root.string());
  const pipeline::Shard& shard = config.input.shard;
  return Json{
      {"dry_run", true},
      {"config_file", config.file.string()},
      {"shard", shard.whole() ? Json() : Json(shard.to_string())},
      {"stages", config.pipeline.stages},
      {"roots", roots},
      {"outputs", std::move(outputs)},
      {"counts",
       {{"total", inventory.total()},
        {"files", inventory.files},
        {"bytes", inventory.bytes},
        {"symlinks", inventory.symlinks},
        {"special", inventory.special},
        {"failed", inventory.failed}}},
      {"first_entries", std::move(entries)},
      {"more_entries", inventory.unlisted},
      {"failures", std::move(failures)},
  };
}

}  // namespace

int run_dry_run(const Config& config, const JobArguments& arguments) {
  const bool human = !arguments.quiet;
  const Destinations destinations = destinations_of(config);
  if (human) print_plan_header(config, destinations);

  const Inventory inventory =
      take_inventory(config, destinations, [&arguments](const pipeline::FileEntry& entry) {
        // Failures are named as a real run names them, also with -q.
        if (entry.kind == pipeline::EntryKind::error) {
          fmt::print(stderr, "pipe-run: {}\n", describe_entry(entry));
        } else if (arguments.verbose && !arguments.quiet) {
          fmt::print(stderr, "  {}\n", describe_entry(entry));
        }
      });

  if (inventory.total() == 0) {
    switch (config.input.if_no_files) {
      case pipeline::IfNoFiles::error:
        fmt::print(stderr, "pipe-run: no input files matched\n");
        return kExitUsage;
      case pipeline::IfNoFiles::warn:
        fmt::print(stderr, "pipe-run: warning: no input files matched\n");
        break;
      case pipeline::IfNoFiles::ignore:
        break;
    }
  }
  if (human) print_plan_counts(inventory, arguments.verbose);
  if (arguments.json) {
    // Names that are not UTF-8 get U+FFFD for each bad byte, as the manifest's "path" does.
    fmt::print("{}\n", plan_json(config, destinations, inventory)
                           .dump(2, ' ', false, Json::error_handler_t::replace));
  }
  return inventory.failed > 0 ? kExitSomeFailed : kExitOk;
}

}  // namespace piperun::cli
