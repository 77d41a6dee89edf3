#!/usr/bin/env bash
# Installs the Debian 12 packages pipe-run needs to build and test, only those that are missing.
# Usage: scripts/install-deps.sh [--bench]
#   --bench  also install the benchmark tools (fio, hyperfine, GNU time, jq).
# Fast and offline when everything is present: apt-get runs only if a package is missing.
set -euo pipefail

packages=(
  build-essential g++ cmake ninja-build pkg-config
  liburing-dev libtbb-dev libzstd-dev libxxhash-dev xxhash zstd
  libcli11-dev libtomlplusplus-dev nlohmann-json3-dev libfmt-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev libcurl4-openssl-dev libpugixml-dev libisal-dev
  clang-16 libclang-rt-16-dev
  python3-prometheus-client
)
bench_packages=(fio hyperfine time jq)

for arg in "$@"; do
  case "$arg" in
    --bench) packages+=("${bench_packages[@]}") ;;
    -h | --help)
      sed -n '2,5s/^# \{0,1\}//p' "$0"
      exit 0
      ;;
    *)
      echo "install-deps.sh: unknown argument: $arg" >&2
      exit 2
      ;;
  esac
done

installed() {
  dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

missing=()
for p in "${packages[@]}"; do
  installed "$p" || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

as_root=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
  else
    echo "install-deps.sh: missing packages (${missing[*]}) and not root, no sudo" >&2
    exit 1
  fi
fi

echo "install-deps.sh: installing ${missing[*]}" >&2
"${as_root[@]}" apt-get update
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${missing[@]}"
