#!/usr/bin/env bash
# The README's second command: installs what is missing, then configures, builds and runs every
# test with the release preset. Exits with the tests' exit code. Works from any directory.
set -euo pipefail

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd -- "$root"

scripts/install-deps.sh
cmake --preset release
cmake --build --preset release
# --no-tests=error: a build that registers no test must not pass.
exec ctest --preset release --no-tests=error
