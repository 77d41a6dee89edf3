#!/usr/bin/env bash
# Upload benchmark, one command (as root: it drops the page cache and starts the test servers):
#
#   bench/upload_bench.sh
#
# Against the local radosgw (tests/servers/test-servers.sh), warm page cache, on a generated
# mixed tree (the compress benchmark's, made first if missing) and one large file:
# 1. Upload only: pipe-run (stages = ["upload"], s3://, 16 transfers) against rclone copy
#    (an independent S3 client, --transfers 16) of the same files.
#    Ratio = rclone time / pipe-run time (> 1: pipe-run is faster).
# 2. The whole job in one pass: pipe-run (hash, compress -3, upload) against the usual two
#    steps, `tar -cf - DIR | zstd -T<cores> -3 > archive.tar.zst` then `rclone copyto` of the
#    archive. Ratio = two-step time / pipe-run time.
# Rounds alternate which tool goes first; each run stores under a fresh prefix, deleted after it.
# The table shows medians (MB = 10^6 bytes of input).
#
# Environment: BENCH_DIR (default bench/work), ROUNDS (3), LARGE_MIB (1024), PIPE_RUN.
set -euo pipefail

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd -- "$root"

BENCH_DIR=${BENCH_DIR:-$root/bench/work}
ROUNDS=${ROUNDS:-3}
LARGE_MIB=${LARGE_MIB:-1024}

script_name=upload_bench.sh
# shellcheck source=bench/common.sh
source bench/common.sh

bench_setup
tests/servers/test-servers.sh start

mixed=$BENCH_DIR/compress/mixed
large=$BENCH_DIR/upload/large
work=$BENCH_DIR/upload
conf=$work/conf
mkdir -p -- "$conf" "$large"
cpus=$(nproc)
export AWS_ACCESS_KEY_ID=CIACCESSKEY AWS_SECRET_ACCESS_KEY=CISECRETKEY
endpoint=http://127.0.0.1:7480
bucket=test-bucket

[[ -f $mixed.done ]] || die "no mixed tree in $mixed: run TREES=mixed bench/compress_bench.sh first"
if ! made "$large/large.bin" "mib=$LARGE_MIB"; then
  log "generating $large/large.bin ($LARGE_MIB MiB cut from the mixed tree's files)"
  { find "$mixed" -type f -print0 | sort -z | xargs -0 cat; } 2>/dev/null |
    head -c $((LARGE_MIB * 1024 * 1024)) >"$large/large.bin" || true
  echo "mib=$LARGE_MIB" >"$large/large.bin.done"
fi

rclone_s3() {
  env -u AWS_CA_BUNDLE RCLONE_CONFIG_B_TYPE=s3 RCLONE_CONFIG_B_PROVIDER=Ceph \
    RCLONE_CONFIG_B_ENDPOINT=$endpoint RCLONE_CONFIG_B_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID \
    RCLONE_CONFIG_B_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY RCLONE_CONFIG_B_FORCE_PATH_STYLE=true \
    rclone --config /dev/null "$@"
}

config() { # name input stages
  cat >"$conf/$1.toml" <<EOF
[input]
paths = ["$2"]
hidden = true
[pipeline]
stages = $3
[output]
manifest = "$work/out/$1.manifest.json"
checksums = "$work/out/$1.xxh128"
[upload]
url = "s3://$bucket/bench"
endpoint = "$endpoint"
concurrency = 16
skip_existing = false
EOF
}

warm() { find "$1" -type f -print0 | xargs -0 cat >/dev/null; }
settle() {
  rclone_s3 purge "b:$bucket/bench" >/dev/null 2>&1 || true
  sync
  echo 3 >/proc/sys/vm/drop_caches
  warm "$1"
}

timed() { # command...: prints seconds
  local start end
  start=$(now)
  "$@" >/dev/null 2>"$work/last.err" || { cat "$work/last.err" >&2; die "failed: $*"; }
  end=$(now)
  elapsed "$start" "$end"
}

run_pipe_run() { "$pipe_run" "$conf/$1.toml" -q --set "upload.url=s3://$bucket/bench/$1"; }
run_rclone() { rclone_s3 copy --transfers 16 --checkers 16 "$1" "b:$bucket/bench/rclone"; }
two_steps() {
  tar -C "$(dirname "$1")" -cf - "$(basename "$1")" | zstd -q -T"$cpus" -3 >"$work/archive.tar.zst"
  rclone_s3 copyto "$work/archive.tar.zst" "b:$bucket/bench/archive.tar.zst"
  rm -f "$work/archive.tar.zst"
}

declare -A results
measure() { # label input kind
  local label=$1 input=$2 kind=$3 ours=() theirs=()
  local stages='["upload"]'
  [[ $kind == onepass ]] && stages='["hash", "compress", "upload"]'
  config "$label" "$input" "$stages"
  for round in $(seq 1 "$ROUNDS"); do
    for order in 0 1; do
      if (((round + order) % 2 == 0)); then
        settle "$input"
        ours+=("$(timed run_pipe_run "$label")")
      else
        settle "$input"
        if [[ $kind == onepass ]]; then
          theirs+=("$(timed two_steps "$input")")
        else
          theirs+=("$(timed run_rclone "$input")")
        fi
      fi
    done
    log "$label round $round: pipe-run ${ours[-1]} s, other ${theirs[-1]} s"
  done
  local bytes
  bytes=$(du -sb "$input" | cut -f1)
  local mine other
  mine=$(median "${ours[@]}")
  other=$(median "${theirs[@]}")
  results[$label]=$(printf '%-28s %8.0f MB/s %8.0f MB/s %6.2fx' "$label" \
    "$(calc "$bytes / 1e6 / $mine")" "$(calc "$bytes / 1e6 / $other")" "$(calc "$other / $mine")")
}

measure upload-mixed "$mixed" upload
measure upload-large "$large" upload
measure onepass-mixed "$mixed" onepass
measure onepass-large "$large" onepass
rclone_s3 purge "b:$bucket/bench" >/dev/null 2>&1 || true

echo
echo "upload to local radosgw, warm cache, $ROUNDS rounds, medians (MB/s of input)"
printf '%-28s %13s %13s %7s\n' case pipe-run other ratio
for label in upload-mixed upload-large onepass-mixed onepass-large; do
  echo "${results[$label]}"
done
echo "(upload-*: other = rclone copy --transfers 16; onepass-*: other = tar | zstd -T$cpus -3, then rclone copyto)"
