#include "cli/report/event_log.hpp"

#include <chrono>
#include <cstdint>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/exit_codes.hpp"
#include "pipeline/manifest_writer.hpp"

namespace piperun::cli::report {
namespace {

using Json = nlohmann::ordered_json;

// RFC 3339 in UTC with milliseconds: "2026-11-28T10:12:00.123Z".
std::string utc_time_ms(std::chrono::system_clock::time_point time) {
  using namespace std::chrono;
  const auto ms = floor<milliseconds>(time);
  const sys_days day = floor<days>(ms);
  const year_month_day date{day};
  const hh_mm_ss<milliseconds> time_of_day{ms - day};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", static_cast<int>(date.year()),
                     static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                     time_of_day.hours().count(), time_of_day.minutes().count(),
                     time_of_day.seconds().count(), time_of_day.subseconds().count());
}

Json event(std::string_view name, std::chrono::system_clock::time_point time) {
  return Json{{"time", utc_time_ms(time)}, {"event", name}};
}

Json utf8_array(const std::vector<std::string>& items) {
  Json array = Json::array();
  for (const std::string& item : items)
    array.push_back(pipeline::ManifestWriter::valid_utf8(item));
  return array;
}

// One line. Every text is made UTF-8 before it gets here; `replace` only guards against a slip,
// so that dump() never throws.
std::string line(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace) + '\n';
}

}  // namespace

std::expected<void, std::string> EventLog::open(const std::filesystem::path& path,
                                                const RunStart& start) {
  if (auto opened = file_.open(path); !opened) return opened;
  open_ = true;
  Json started = event("run_started", std::chrono::system_clock::now());
  started["tool_version"] = pipeline::ManifestWriter::valid_utf8(start.tool_version);
  started["config"] = pipeline::ManifestWriter::valid_utf8(start.config_file);
  started["roots"] = utf8_array(start.roots);
  started["stages"] = utf8_array(start.stages);
  file_.append(line(started));
  return {};
}

void EventLog::add(const pipeline::FileRecord& record) {
  if (!open_) return;
  // The record is a JSON object: the event's own fields go in front of its first member.
  const std::string fields = pipeline::ManifestWriter::serialize_record(record);
  std::string& out = file_.staging();
  fmt::format_to(std::back_inserter(out), R"({{"time":"{}","event":"file",)",
                 utc_time_ms(std::chrono::system_clock::now()));
  out.append(fields, 1);
  out += '\n';
  file_.staged();
}

std::expected<void, std::string> EventLog::finish(const RunOutcome& outcome, bool fsync) {
  if (!open_) return std::unexpected(std::string("events: finish() without a successful open()"));
  open_ = false;
  const pipeline::RunStats& stats = outcome.stats;
  Json finished = event("run_finished", outcome.finished_at);
  finished["exit_code"] = outcome.exit_code;
  finished["interrupted"] = stats.interrupted || outcome.exit_code == kExitInterrupted;
  if (!outcome.error.empty()) {
    finished["error"] = pipeline::ManifestWriter::valid_utf8(outcome.error);
  }
  finished["files"] = Json{{"total", stats.files_total()},
                           {"ok", stats.files_ok},
                           {"failed", stats.files_failed},
                           {"skipped", stats.files_skipped},
                           {"resumed", stats.files_resumed}};
  finished["bytes_in"] = stats.bytes_in;
  finished["bytes_out"] = stats.bytes_out;
  if (stats.compressed_out > 0) finished["ratio"] = stats.compression_ratio();
  if (outcome.uploads) {
    finished["upload"] = Json{{"objects_uploaded", stats.objects_uploaded},
                              {"objects_unchanged", stats.objects_unchanged},
                              {"bytes_uploaded", stats.bytes_uploaded}};
  }
  finished["duration_s"] = std::chrono::duration<double>(stats.duration).count();
  finished["throughput_mb_s"] = stats.throughput_mb_s();
  file_.append(line(finished));
  return file_.commit(fsync);
}

}  // namespace piperun::cli::report
