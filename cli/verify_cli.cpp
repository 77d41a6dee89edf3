#include "cli/verify_cli.hpp"

#include <cstdio>
#include <cstdlib>
#include <vector>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "cli/config.hpp"
#include "cli/environment.hpp"
#include "cli/exit_codes.hpp"
#include "pipeline/cpu_budget.hpp"
#include "stages/verify/manifest_scan.hpp"
#include "stages/verify/verifier.hpp"

namespace piperun::cli {
namespace {

namespace verify = stages::verify;

// --json lists this many problems; the count has them all.
constexpr std::size_t kMaxListedProblems = 1000;

// The manifest does not record the S3 endpoint and region: unless given, they come from the
// job's config file that the manifest names, when it still loads and uploads to the same URL.
void endpoint_from_job(const std::filesystem::path& manifest, verify::VerifyOptions& options) {
  auto scan = verify::ManifestScan::open(manifest);
  if (!scan || scan->config_file().empty()) return;
  const auto url = scan->settings().find("upload.url");
  if (url == scan->settings().end() || !url->second.starts_with("s3://")) return;
  auto config = load_config(scan->config_file(), {});
  if (!config || config->upload.url != url->second) return;
  if (options.endpoint.empty()) options.endpoint = config->upload.endpoint;
  if (options.region.empty()) options.region = config->upload.region;
}

verify::VerifyOptions verify_options(const VerifyArguments& arguments) {
  verify::VerifyOptions options;
  options.manifest = arguments.manifest;
  options.download = arguments.download;
  options.cpu_threads = arguments.threads > 0 ? arguments.threads : pipeline::usable_cpus();
  options.concurrency = std::max(1u, arguments.concurrency);
  options.endpoint = arguments.endpoint;
  options.region = arguments.region;
  if (options.endpoint.empty() || options.region.empty())
    endpoint_from_job(options.manifest, options);
  if (options.region.empty()) options.region = "us-east-1";
  options.access = store_access_from_environment();
  return options;
}

std::string format_json(const std::string& manifest, const verify::VerifyCounts& counts,
                        const std::vector<verify::Problem>& problems) {
  nlohmann::json document;
  document["manifest"] = manifest;
  document["ok"] = counts.problems == 0;
  document["checked"] = {
      {"files", counts.files}, {"outputs", counts.outputs}, {"objects", counts.objects}};
  document["problems_total"] = counts.problems;
  nlohmann::json listed = nlohmann::json::array();
  for (const verify::Problem& problem : problems)
    listed.push_back({{"location", problem.location}, {"problem", problem.what}});
  document["problems"] = std::move(listed);
  // Names are bytes, not necessarily UTF-8: replaced, never a reason to throw.
  return document.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace

int run_verify_command(const VerifyArguments& arguments) {
  const verify::VerifyOptions options = verify_options(arguments);
  std::vector<verify::Problem> listed;
  auto counts = verify::verify_manifest(options, [&](const verify::Problem& problem) {
    fmt::print(stderr, "pipe-run verify: {}: {}\n", problem.location, problem.what);
    if (arguments.json && listed.size() < kMaxListedProblems) listed.push_back(problem);
  });
  if (!counts) {
    fmt::print(stderr, "pipe-run verify: {}\n", counts.error().message);
    return counts.error().kind == verify::VerifyError::Kind::bad_manifest ? kExitUsage : kExitFatal;
  }
  if (!arguments.quiet) {
    fmt::print(stderr, "pipe-run verify: checked {} files, {} objects, {} problems\n",
               counts->files, counts->outputs + counts->objects, counts->problems);
  }
  if (arguments.json) fmt::print("{}", format_json(arguments.manifest, *counts, listed));
  return counts->problems > 0 ? kExitSomeFailed : kExitOk;
}

}  // namespace piperun::cli
