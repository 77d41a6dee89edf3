// Putting the test file where a row wants it: out of the page cache (a cold read comes from
// the disk, as fio's invalidate=1 does) or in it (warm: read just before the row).
// Blocking calls: used between rows, never while a ring runs.
#pragma once

#include <filesystem>
#include <system_error>

namespace piperun::bench {

// Writes back and drops the file's cached pages.
std::error_code drop_from_page_cache(const std::filesystem::path& file);
// Reads the whole file once, so that the next read finds it cached.
std::error_code load_into_page_cache(const std::filesystem::path& file);

}  // namespace piperun::bench
