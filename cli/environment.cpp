#include "cli/environment.hpp"

#include <cstdlib>
#include <string>

namespace piperun::cli {
namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::string(value) : std::string();
}

}  // namespace

stages::upload::StoreAccess store_access_from_environment() {
  stages::upload::StoreAccess access;
  access.access_key = env("AWS_ACCESS_KEY_ID");
  access.secret_key = env("AWS_SECRET_ACCESS_KEY");
  access.session_token = env("AWS_SESSION_TOKEN");
  access.ca_bundle = env("AWS_CA_BUNDLE");
  access.http_auth = env("PIPE_RUN_HTTP_AUTH");
  return access;
}

}  // namespace piperun::cli
