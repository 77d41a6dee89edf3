// One file written into an OutputTree through the ring, several writes in flight, atomic: under
// a temporary name beside its target, renamed once complete, with the input's mode (under the
// umask) and mtime. The write stage's files and the file:// store's objects are made this way.
#pragma once

#include <memory>
#include <string>

#include "pipeline/stage.hpp"
#include "stages/output_tree.hpp"

namespace piperun::stages {

struct TreeFileWriterOptions {
  bool fsync = false;  // flush the file before its rename (directories: the caller)
  std::string target;  // relative to the tree; empty: "<digest><suffix>", known at finish
  std::string suffix;  // after the digest, when the target is named after it
  // As the file:// store: the record gets an upload (at store_url) instead of an output path;
  // the digest is kept in the extended attribute user.pipe-run.<digest_name>, and with
  // skip_existing a target holding the same digest is left as it is.
  bool as_upload = false;
  std::string store_url;
  std::string digest_name;
  bool skip_existing = false;
};

std::unique_ptr<pipeline::FileStage> make_tree_file_writer(OutputTree& tree,
                                                           TreeFileWriterOptions options,
                                                           const pipeline::FileInfo& file,
                                                           pipeline::Runtime& runtime);

}  // namespace piperun::stages
