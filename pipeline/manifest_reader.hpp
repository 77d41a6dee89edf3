// Reading back what ManifestWriter wrote: one file's record from its line of the manifest, with
// names restored to their exact bytes from "..._base64". A re-run uses it to take over the
// records of files it resumes (pipeline/resume_index.hpp).
#pragma once

#include <optional>
#include <string_view>

#include "pipeline/file_record.hpp"

namespace piperun::pipeline {

// `text` is one record object as ManifestWriter writes it (a trailing ',' is allowed). Nullopt
// when it is not a record: not JSON, or a field missing or of the wrong type.
std::optional<FileRecord> parse_manifest_record(std::string_view text);

}  // namespace piperun::pipeline
