#!/usr/bin/env bash
# The README's second command: installs what is missing, then configures, builds and runs every
# test with the release and the asan presets, the engine's under tsan, and the fuzz targets.
# Fails when any test fails. Works from any directory.
set -euo pipefail

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd -- "$root"

scripts/install-deps.sh
# The real servers the upload tests talk to (radosgw for S3, nginx for HTTP PUT), started once
# here (the tests start them too when run alone) and stopped at the end.
tests/servers/test-servers.sh start
background_pid=
trap '[[ -n $background_pid ]] && kill -- "-$background_pid" 2>/dev/null; tests/servers/test-servers.sh stop' EXIT
# The optimised build, then the same suite under AddressSanitizer + UBSan (LeakSanitizer on):
# the unit suites built with it, and the release build's integration tests run against the
# ASan binary (their own code is glue, not what is checked: building it twice cost CI time). Then the engine's suites (io, pipeline)
# under ThreadSanitizer: the I/O thread, the TBB workers and the walker thread. Then the
# libFuzzer targets (clang 16, ASan + UBSan), each for 10 s from its seed corpus in tests/fuzz.
# --no-tests=error: a build that registers no test must not pass.
build() {
  cmake --preset "$1" >/dev/null
  cmake --build --preset "$1"
}
# The next builds go on at the lowest priority while a suite runs: the suites wait on disks,
# servers and signals for much of their time, and they get the CPU first when they want it.
build_behind() {
  local log="build/background-$1.log"
  mkdir -p build
  # A process group of its own (job control), so that the exit trap can stop all of it.
  set -m
  (for preset in "$@"; do nice -n 19 bash -ec "$(declare -f build); build $preset" || exit 1; done) \
    >"$log" 2>&1 &
  background_pid=$!
  set +m
  background_log=$log
}
wait_for_builds() {
  if ! wait "$background_pid"; then
    cat "$background_log" >&2
    echo "test.sh: a build failed (log above, also in $background_log)" >&2
    exit 1
  fi
  background_pid=
  tail -n 1 "$background_log"
}

build release
build_behind asan
ctest --preset release --no-tests=error
wait_for_builds
build_behind tsan fuzz
ctest --preset asan --no-tests=error
ctest --preset asan-integration --no-tests=error
wait_for_builds
ctest --preset tsan --no-tests=error
ctest --preset fuzz --no-tests=error
