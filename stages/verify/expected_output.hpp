// What a manifest promises about one file's outputs, and how what is found compares with it.
// Pure logic: no I/O here, so every rule is tested on its own (tests/stages/verify_*).
//
// A record (status ok, kind file) promises an output in the tree ("output", relative to
// output.dir) when the run wrote one, and an object in the store when it uploaded one: in a
// file:// store a file again, else an object, named as the upload stage names it (layout mirror:
// <relative path>[.zst]; content: <first algorithm's digest>[.zst]).
#pragma once

#include <cstdint>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/file_record.hpp"
#include "stages/options.hpp"
#include "stages/verify/content_hasher.hpp"

namespace piperun::stages::verify {

// The run's settings that say where its outputs are, from the manifest's header.
struct OutputSettings {
  std::filesystem::path output_dir;  // empty: the run wrote no tree
  std::string upload_url;            // empty: the run uploaded nothing
  bool content_layout = false;       // upload.layout = "content"
  std::string suffix;                // ".zst" after compress
  // The first hash algorithm: the digest the store's metadata and content layout use, and the
  // one verify compares. None: the run computed no digest (sizes are compared only).
  std::optional<HashAlgorithm> algorithm;
  std::string algorithm_name;
};

// From the header's "settings"; an error names the setting that is not understood.
std::expected<OutputSettings, std::string> output_settings(
    const std::map<std::string, std::string>& settings);

std::optional<HashAlgorithm> algorithm_named(std::string_view name);

struct ExpectedContent {
  bool compressed = false;         // stored as a .zst
  std::uint64_t stored_bytes = 0;  // as stored: the .zst's size, or the copy's
  std::uint64_t size = 0;          // of the original
  std::string digest_hex;          // of the original, OutputSettings::algorithm; empty: none
};

enum class OutputKind { tree_file, store_file, object };

struct ExpectedOutput {
  OutputKind kind = OutputKind::tree_file;
  std::string location;  // tree_file, store_file: the absolute path; object: the store's key
  ExpectedContent content;
};

// The outputs `record` promises (none unless it is an ok regular file), or an error when the
// record cannot say where one is (content layout without the digest that names it).
std::expected<std::vector<ExpectedOutput>, std::string> expected_outputs(
    const pipeline::FileRecord& record, const OutputSettings& settings);

// What a lookup found (a HEAD with pipe-run's metadata: the original's size and digest, nothing
// about the stored bytes) or what reading the output gave.
struct FoundContent {
  bool exists = true;
  std::optional<std::uint64_t> stored_bytes;  // known when the output was read
  std::uint64_t size = 0;
  std::string digest_hex;  // empty: not known
  std::string error;       // the bytes could not be decoded (corrupt or truncated .zst)
};

// The problem, as the line that reports it says it ("missing", "size 10 != recorded 12",
// "xxh3-128 mismatch: 0a.. != recorded 1b.."), or nullopt when the output holds what the
// manifest says. The first problem only: the stored size, then decoding, then the original's
// size, then the digest.
std::optional<std::string> compare(const ExpectedContent& expected, const FoundContent& found,
                                   std::string_view algorithm_name);

}  // namespace piperun::stages::verify
