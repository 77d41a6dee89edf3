// What pipe-run takes from the environment rather than the config file: secrets stay out of
// files that get committed and shared.
#pragma once

#include "stages/upload/store_access.hpp"

namespace piperun::cli {

// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_CA_BUNDLE and
// PIPE_RUN_HTTP_AUTH; unset ones are empty.
stages::upload::StoreAccess store_access_from_environment();

}  // namespace piperun::cli
