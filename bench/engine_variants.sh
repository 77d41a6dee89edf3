#!/usr/bin/env bash
# What each io_uring feature is worth to pipe-run, one command (as root: it drops the page cache
# before every run):
#
#   bench/engine_variants.sh
#
# `pipe-run bench` on one test file (BENCH_DIR/variants/pipe-run-bench.dat, VARIANT_MIB MiB,
# laid out once) with the engine's defaults and with each variant of VARIANTS:
#   --ring-setup coop     SINGLE_ISSUER | COOP_TASKRUN instead of DEFER_TASKRUN
#   --ring-setup plain    no setup flags
#   --ring-setup sqpoll   a kernel thread polls the submission queue
#   --no-fixedbufs        raw rows: plain buffers instead of registered ones (READ/WRITE_FIXED)
#   --registerfiles       raw rows: the file registered with the ring
#   --no-batching         raw rows: one io_uring_enter per request instead of one per loop step
# each in two modes: disk (--direct --stages none: sequential read and write, 4 KiB random
# reads from the disk) and warm (--warm: the raw rows and the stage rows read, read+hash,
# read+hash+compress+write from the page cache). Rounds alternate the order of the variants;
# the table shows medians and, in parentheses, the ratio to the defaults (> 1: the variant is
# faster). Also written to BENCH_DIR/variants-results.txt.
#
# Environment: BENCH_DIR (bench/work; a disk, not tmpfs), ROUNDS (3), VARIANT_MIB (1024),
# RUNTIME (2s: the random-read row), VARIANTS (the list above, ';'-separated), PIPE_RUN (the
# binary; default: build/release/pipe-run, built first).
set -euo pipefail

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd -- "$root"

BENCH_DIR=${BENCH_DIR:-$root/bench/work}
ROUNDS=${ROUNDS:-3}
VARIANT_MIB=${VARIANT_MIB:-1024}
RUNTIME=${RUNTIME:-2s}
VARIANTS=${VARIANTS:---ring-setup coop;--ring-setup plain;--ring-setup sqpoll;--no-fixedbufs;--registerfiles;--no-batching}

script_name=engine_variants.sh
# shellcheck source=bench/common.sh
source bench/common.sh

for var in ROUNDS VARIANT_MIB; do
  [[ ${!var} =~ ^[1-9][0-9]*$ ]] || die "$var must be a positive integer"
done
bench_setup
command -v jq >/dev/null || die "needs jq (scripts/install-deps.sh --bench installs it)"

work=$BENCH_DIR/variants
logs=$work/logs
mkdir -p -- "$work" "$logs"
IFS=';' read -r -a variants <<<"$VARIANTS"
variants=(default "${variants[@]}")

# run VARIANT MODE: one pipe-run bench run; its JSON in $logs/VARIANT-MODE.json.
run() {
  local variant=$1 mode=$2 args=() json
  [[ $variant != default ]] && read -r -a args <<<"$variant"
  if [[ $mode == disk ]]; then args+=(--direct --stages none); else args+=(--warm); fi
  json=$logs/$(tr -c 'a-z0-9\n' '_' <<<"$variant")-$mode.json
  sync
  echo 3 >/proc/sys/vm/drop_caches
  "$pipe_run" bench --dir "$work" --size "${VARIANT_MIB}MiB" --runtime "$RUNTIME" --json \
    "${args[@]}" >"$json" 2>"$json.stderr" || die "pipe-run bench $variant ($mode) failed: $json.stderr"
  echo "$json"
}

# The columns: MODE:ROW:FIELD.
columns=(disk:seq-read:mb_per_s disk:seq-write:mb_per_s disk:rand-read-4k:iops
  warm:seq-read:mb_per_s warm:rand-read-4k:iops warm:read:mb_per_s warm:read+hash:mb_per_s
  warm:read+hash+compress+write:mb_per_s)
declare -A values
for ((r = 1; r <= ROUNDS; r++)); do
  order=("${variants[@]}")
  if ((r % 2 == 0)); then
    for ((i = 0; i < ${#variants[@]}; i++)); do order[i]=${variants[-1 - i]}; done
  fi
  for variant in "${order[@]}"; do
    for mode in disk warm; do
      json=$(run "$variant" "$mode")
      for column in "${columns[@]}"; do
        IFS=: read -r m row field <<<"$column"
        [[ $m == "$mode" ]] || continue
        v=$(jq -er --arg n "$row" ".rows[] | select(.name == \$n) | .$field" "$json") ||
          die "no $row $field in $json"
        values[$variant/$column]="${values[$variant/$column]:-} $v"
      done
    done
    log "variants round $r: $variant done"
  done
done
rm -f -- "$work/pipe-run-bench.write"

{
  echo
  echo "pipe-run engine variants: $(nproc) CPUs, $ROUNDS rounds, medians (ratio to the defaults);"
  echo "pipe-run bench --size ${VARIANT_MIB}MiB --runtime $RUNTIME on $work ($fstype)"
  printf '%-22s |' variant
  for column in "${columns[@]}"; do printf ' %18s' "${column%:*}"; done
  echo
  for variant in "${variants[@]}"; do
    printf '%-22s |' "$variant"
    for column in "${columns[@]}"; do
      read -r -a v <<<"${values[$variant/$column]}"
      read -r -a d <<<"${values[default/$column]}"
      m=$(median "${v[@]}")
      printf ' %10.0f (%4.2f)' "$m" "$(calc "$m / $(median "${d[@]}")")"
    done
    echo
  done
  echo "  disk: --direct --stages none (MB/s, IOPS); warm: --warm, the file read just before"
  echo "  each row; MB = 10^6 bytes"
} | tee "$BENCH_DIR/variants-results.txt"
