#!/usr/bin/env bash
# pipe-run's whole benchmark, one command (as root: every part drops the page cache before each
# timed run):
#
#   bench/run.sh
#
# Runs, one after the other, on the same generated and real data in BENCH_DIR:
#   bench/hash_bench.sh      hash only (20,000 small files, 4 large ones) against
#                            `find | xargs -P$(nproc) xxhsum`; raw O_DIRECT reads against fio
#   bench/compress_bench.sh  hash + compress + write (levels 1 and 3, a mixed and a real tree)
#                            against `tar | zstd -T0` and the batched shell pipeline (xargs -P with
#                            xxhsum and `zstd --output-dir-mirror`); one large file against
#                            `zstd -T0`
#   bench/disk_bench.sh      `pipe-run bench --stages none` against fio on the same file:
#                            sequential read and write, 4 KiB random reads
#   bench/engine_variants.sh `pipe-run bench` with each io_uring variant (ring setup flags,
#                            registered buffers and files, batching) against the defaults
# (bench/upload_bench.sh needs the test servers and is not part of it.) Each part alternates
# the tools round by round and reports medians of ROUNDS rounds; before each timed run the
# outputs are deleted, `sync`, `echo 3 > /proc/sys/vm/drop_caches`, and for warm runs the input
# is read just before.
#
# Then it gathers the parts' tables (BENCH_DIR/results.txt, compress-results.txt,
# disk-results.txt) into one table of every comparison: pipe-run's figure, the peer's, the ratio
# (peer time / pipe-run time, or pipe-run's MB/s or IOPS / the peer's), the issue's target and
# pass/FAIL; prints it and writes it, with the date, the machine, the tool versions and the exact
# commands, into RESULTS_MD between the lines `<!-- bench/run.sh: begin -->` and
# `<!-- bench/run.sh: end -->` (inserted after the "Machine:" paragraph when absent; the rest of
# the file, hand-written history, is kept).
#
# Targets (the issue's; ratios judged as the table shows them, to 2 decimals): raw direct
# sequential read >= 0.95x fio; hash only >= 1.5x xargs xxhsum on the small files, >= 1.0x on
# the large ones; hash + compress -3 + write >= 1.3x `tar | zstd -T0 -3` and >= 1.5x the shell
# pipeline on every tree, and >= 0.9x the CPU limit (cores x `zstd -b3` on the same data) on the
# mixed and real trees; pipe-run bench within 10% of fio (0.90x..1.10x; the sequential read
# 0.95x..1.10x); peak RSS <= memory_limit + 48 MiB. Level-1 rows and the one large file are
# shown without a target, and so is `cp -r` of each tree (on the small files, the file
# system's file-creation floor). A failed output check (the parts' "check" column) fails its rows.
# The exit status is 0 when every part ran, whatever the verdicts.
#
# Environment: ROUNDS (3; the issue asks for medians of at least 3), BENCH_DIR (bench/work, on
# the disk to measure), RESULTS_MD (bench/RESULTS.md; relative paths are from the repository
# root), PIPE_RUN (the binary to measure; default: build/release/pipe-run, built first), and
# every variable of the parts, passed through: see the header of each script (SMALL_FILES, LARGE_MIB, RAW_MIB, LEVELS, TREES, MIXED_FILES, REAL_MIB,
# FRAME_TABLE, MEMORY_LIMIT_MIB, OUTPUTS, DISK_MIB, BLOCK, QD, RUNTIME, DIRECT, ...). Note that
# LARGE_MIB means a different thing in hash_bench.sh (each of 4 files, 256) and compress_bench.sh
# (the one large file, 1024): leave it unset for the defaults of both.
set -euo pipefail

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd -- "$root"

script_name=run.sh
# shellcheck source=bench/common.sh
source bench/common.sh

# The command line as given, for the report: the variables set in the environment.
knobs=(BENCH_DIR ROUNDS PIPE_RUN RESULTS_MD SMALL_FILES SMALL_DIRS LARGE_FILES LARGE_MIB RAW_MIB
  LEVELS TREES FRAME_TABLE MIXED_FILES REAL_MIB MEMORY_LIMIT_MIB TIMEOUT OUTPUTS DISK_MIB BLOCK
  QD RUNTIME DIRECT VARIANT_MIB VARIANTS)
invocation=
for v in "${knobs[@]}"; do
  if [[ -v $v ]]; then invocation+="$v=$(printf '%q' "${!v}") "; fi
done
invocation+=bench/run.sh

ROUNDS=${ROUNDS:-3}
BENCH_DIR=${BENCH_DIR:-$root/bench/work}
RESULTS_MD=${RESULTS_MD:-$root/bench/RESULTS.md}
MEMORY_LIMIT_MIB=${MEMORY_LIMIT_MIB:-256}  # compress_bench.sh's memory_limit
HASH_MEMORY_LIMIT_MIB=256                  # hash_bench.sh keeps pipe-run's default memory_limit
RAW_MIB=${RAW_MIB:-4096}                   # hash_bench.sh's default, for the commands shown

[[ -w /proc/sys/vm/drop_caches ]] || die "needs root (writes /proc/sys/vm/drop_caches)"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"
[[ -f $RESULTS_MD ]] || die "RESULTS_MD: no such file: $RESULTS_MD"
# The markers of the generated section: both or neither (checked now, not after an hour of runs).
begin='<!-- bench/run.sh: begin -->' end='<!-- bench/run.sh: end -->'
nb=$(grep -cxF -- "$begin" "$RESULTS_MD" || true)
ne=$(grep -cxF -- "$end" "$RESULTS_MD" || true)
if ! ((nb == 1 && ne == 1 || nb == 0 && ne == 0)); then
  die "$RESULTS_MD: expected one \"$begin\" and one \"$end\" line, or neither"
fi
mkdir -p -- "$BENCH_DIR"
BENCH_DIR=$(cd -- "$BENCH_DIR" && pwd)
export ROUNDS BENCH_DIR
if ((ROUNDS < 3)); then log "WARNING: ROUNDS=$ROUNDS: the issue asks for medians of at least 3"; fi

hash_txt=$BENCH_DIR/results.txt
compress_txt=$BENCH_DIR/compress-results.txt
disk_txt=$BENCH_DIR/disk-results.txt
variants_txt=$BENCH_DIR/variants-results.txt
# No stale table is read: each part writes its own again.
rm -f -- "$hash_txt" "$compress_txt" "$disk_txt" "$variants_txt"

started=$(date -u '+%Y-%m-%d %H:%M UTC')
t0=$(now)
for part in hash_bench.sh compress_bench.sh disk_bench.sh engine_variants.sh; do
  log "=== bench/$part ==="
  bench/"$part"
done
minutes=$(awk -v s="$(elapsed "$t0" "$(now)")" 'BEGIN { printf "%.0f", s / 60 }')
for f in "$hash_txt" "$compress_txt" "$disk_txt" "$variants_txt"; do
  [[ -s $f ]] || die "missing table: $f"
done

# ---- the parts' tables (their printf layouts), read into res[KEY] ----

declare -A res
# load AWK_PROGRAM FILE: the program prints "key value" lines.
load() {
  local k v
  while read -r k v; do res[$k]=$v; done < <(awk "$1" "$2")
}
# hash_bench.sh: "small|large files MB | pr_s MB/s files/s RSS | xa_s MB/s files/s | ratio check"
# and "raw MB | pr_MB/s RSS | fio_MB/s | ratio".
# shellcheck disable=SC2016 # an awk program
load '
  ($1 == "small" || $1 == "large") && $4 == "|" {
    sub(/M$/, "", $8)
    print "h." $1 ".files", $2; print "h." $1 ".mb", $3; print "h." $1 ".pr", $5
    print "h." $1 ".rss", $8; print "h." $1 ".xa", $10; print "h." $1 ".ratio", $14
    print "h." $1 ".check", $15
  }
  $1 == "raw" && $3 == "|" {
    sub(/M$/, "", $5)
    print "h.raw.mb", $2; print "h.raw.pr", $4; print "h.raw.rss", $5; print "h.raw.fio", $7
    print "h.raw.ratio", $9
  }
  $1 == "cold" && $3 == "|" {
    print "h.cold.mb", $2; print "h.cold.pr", $4; print "h.cold.fio", $6; print "h.cold.ratio", $8
  }' "$hash_txt"
# compress_bench.sh: "tree L files MB | pr_s MB/s RSS | tar_s ratio | sh_s ratio | ... | check |
# cp_s ratio"
# and "large L MB | pr_s MB/s RSS CPU/wall | zstd_s ratio | ... | check".
# shellcheck disable=SC2016 # an awk program
load '
  ($1 == "mixed" || $1 == "real" || $1 == "small") && $5 == "|" {
    k = "c." $1 "." $2; sub(/M$/, "", $8)
    print k ".files", $3; print k ".mb", $4; print k ".pr", $6; print k ".rss", $8
    print k ".tar", $10; print k ".tar_ratio", $11; print k ".sh", $13; print k ".sh_ratio", $14
    print k ".check", $20; print k ".cp", $22; print k ".cp_ratio", $23
  }
  $1 == "cpulimit" && $4 == "|" {
    k = "c." $2 "." $3
    print k ".zb", $5; print k ".limit", $6; print k ".pr_mbs", $8; print k ".limit_ratio", $10
  }
  $1 == "large" && $4 == "|" {
    k = "c.large." $2; sub(/M$/, "", $7)
    print k ".mb", $3; print k ".pr", $5; print k ".rss", $7; print k ".cpu", $8
    print k ".z", $10; print k ".z_ratio", $11; print k ".check", $17
  }' "$compress_txt"
# disk_bench.sh: "row unit | pipe-run fio | ratio verdict | target", then "commands:".
# shellcheck disable=SC2016 # an awk program
load '
  ($1 == "seq-read" || $1 == "seq-write" || $1 == "rand-read-4k") && $3 == "|" {
    print "d." $1 ".unit", $2; print "d." $1 ".pr", $4; print "d." $1 ".fio", $5
  }
  /^pipe-run bench .* MB\), / { match($0, /\([0-9.]+ MB\), /); print "d.mb", substr($0, RSTART + 1, RLENGTH - 6) }
  $1 == "seq:" { sub(/;$/, "", $5); print "d.block", $2; print "d.qd", $5 }
  /^commands:/ { cmds = 1; next }
  cmds && /^  [a-z-]+: / { name = $1; sub(/:$/, "", name); sub(/^  [a-z-]+: /, ""); print "d.cmd." name, $0 }
  ' "$disk_txt"
# The trees and levels compress_bench.sh measured, in its order.
mapfile -t c_trees < <(awk '($1 == "mixed" || $1 == "real" || $1 == "small") && $5 == "|" { print $1 "." $2 }' "$compress_txt")
mapfile -t c_larges < <(awk '$1 == "large" && $4 == "|" { print $2 }' "$compress_txt")
# A table whose layout changed must stop the report, not fill it with blanks.
for k in h.small.pr h.small.xa h.small.rss h.large.pr h.large.xa h.large.rss h.raw.pr h.raw.fio \
  h.raw.rss h.raw.ratio h.cold.pr h.cold.fio d.mb d.block d.qd d.seq-read.fio d.seq-write.fio d.rand-read-4k.fio d.cmd.fio-rand; do
  [[ -n ${res[$k]:-} ]] || die "could not read $k from the parts' tables in $BENCH_DIR"
done
for tl in "${c_trees[@]}"; do
  for f in pr tar sh cp rss zb limit pr_mbs limit_ratio; do
    [[ -n ${res[c.$tl.$f]:-} ]] || die "could not read c.$tl.$f from $compress_txt"
  done
done
((${#c_trees[@]} + ${#c_larges[@]})) || die "no rows in $compress_txt"

# ---- the table ----

rows_name=() rows_pr=() rows_peer=() rows_ratio=() rows_target=() rows_result=()
# add NAME PR PEER RATIO TARGET RESULT
add() {
  rows_name+=("$1") rows_pr+=("$2") rows_peer+=("$3") rows_ratio+=("$4") rows_target+=("$5")
  rows_result+=("$6")
}
# holds EXPR: true when the awk condition holds.
holds() { awk "BEGIN { exit !($1) }"; }
# ratio2 X: X to the 2 decimals shown; verdicts judge the ratio as the table shows it.
ratio2() { printf '%.2f' "$1"; }
# verdict RATIO MIN [MAX] [CHECK]: pass or FAIL; info without MIN; a failed output check fails.
verdict() {
  local r=$1 min=${2:-} max=${3:-} check=${4:-ok}
  if [[ $check != ok && $check != - ]]; then echo "FAIL (outputs: $check)"; return; fi
  if [[ -z $min ]]; then echo info; return; fi
  if holds "$r >= $min${max:+ && $r <= $max}"; then echo pass; else echo FAIL; fi
}
# time_row NAME PR_S PEER_S MIN CHECK [RATIO]: ratio = peer time / pipe-run time; RATIO: the
# part's own (from its unrounded medians), else computed from the times.
time_row() {
  local ratio target=-
  ratio=$(ratio2 "${6:-$(calc "$3 / $2")}")
  [[ -n $4 ]] && target=">= ${4}x"
  add "$1" "$2 s" "$3 s" "${ratio}x" "$target" "$(verdict "$ratio" "$4" "" "${5:-ok}")"
}
# rate_row NAME UNIT PR PEER MIN MAX [RATIO]: ratio = pipe-run's rate / the peer's (or RATIO);
# no MIN: shown without a target.
rate_row() {
  local ratio target=-
  [[ -n $5 ]] && target=">= ${5}x"
  [[ -n $6 ]] && target="${5}x..${6}x"
  if [[ $3 == - ]]; then
    add "$1" "-" "$4 $2" "-" "$target" "n/a (no pipe-run bench)"
    return
  fi
  ratio=$(ratio2 "${7:-$(calc "$3 / $4")}")
  add "$1" "$3 $2" "$4 $2" "${ratio}x" "$target" "$(verdict "$ratio" "$5" "$6")"
}
# rss_row NAME MIB LIMIT_MIB WHERE: peak RSS against memory_limit + 48 MiB.
rss_row() {
  local max=$(($3 + 48)) result=FAIL
  holds "$2 <= $max" && result=pass
  add "$1" "$2 MiB ($4)" "limit $3 + 48 MiB" - "<= $max MiB" "$result"
}
# group N: N with thousands separators (1,234,567).
group() { echo "$1" | sed -E ':a; s/([0-9])([0-9]{3})($|,)/\1,\2\3/; ta'; }
# bytes_text N: N bytes as "N MiB", "N KiB" or "N B".
bytes_text() {
  if (($1 % 1048576 == 0)); then echo "$(($1 / 1048576)) MiB"
  elif (($1 % 1024 == 0)); then echo "$(($1 / 1024)) KiB"
  else echo "$1 B"; fi
}
cpus=$(nproc)
xargs_cmd="find | xargs -0 -P$cpus -n 64 xxhsum -H2"

rate_row "raw direct sequential read, ${res[h.raw.mb]} MB file, 1 MiB x QD64, cold (stages = []) vs fio" \
  MB/s "${res[h.raw.pr]}" "${res[h.raw.fio]}" 0.95 "" "${res[h.raw.ratio]}"
rate_row "hash only, cold cache, the large files (${res[h.cold.mb]} MB) vs fio's buffered io_uring reads" \
  MB/s "${res[h.cold.pr]}" "${res[h.cold.fio]}" 1.0 "" "${res[h.cold.ratio]}"
time_row "hash only, small: $(group "${res[h.small.files]}") files, ${res[h.small.mb]} MB, warm vs \`$xargs_cmd\`" \
  "${res[h.small.pr]}" "${res[h.small.xa]}" 1.5 "${res[h.small.check]}" "${res[h.small.ratio]}"
time_row "hash only, large: ${res[h.large.files]} files, ${res[h.large.mb]} MB, warm vs \`$xargs_cmd\`" \
  "${res[h.large.pr]}" "${res[h.large.xa]}" 1.0 "${res[h.large.check]}" "${res[h.large.ratio]}"

level3=0
for tl in "${c_trees[@]}"; do
  tree=${tl%.*} level=${tl#*.} k=c.$tl min_tar='' min_sh=''
  if [[ $level == 3 ]]; then level3=1 min_tar=1.3 min_sh=1.5; fi
  # 20,000 small files: at least 2x the shell pipeline in files per second (= in time).
  if [[ $level == 3 && $tree == small ]]; then min_sh=2.0; fi
  desc="hash + compress -$level + write, $tree: $(group "${res[$k.files]}") files, ${res[$k.mb]} MB, warm"
  time_row "$desc vs \`tar | zstd -T0 -$level\`" "${res[$k.pr]}" "${res[$k.tar]}" "$min_tar" \
    "${res[$k.check]}" "${res[$k.tar_ratio]}"
  time_row "$desc vs the shell pipeline (xargs -P$cpus: xxhsum, zstd --output-dir-mirror)" \
    "${res[$k.pr]}" "${res[$k.sh]}" "$min_sh" "${res[$k.check]}" "${res[$k.sh_ratio]}"
  # No target: what creating and writing the same files costs on this file system alone.
  time_row "$desc vs \`cp -r\` of the tree (the same files created and written; no hashing, no compression)" \
    "${res[$k.pr]}" "${res[$k.cp]}" "" "${res[$k.check]}" "${res[$k.cp_ratio]}"
  # Issue 5: at least 0.9x the CPU limit (cores x zstd -b3 on the same data) on mixed and real.
  min_limit=''
  [[ $level == 3 && $tree != small ]] && min_limit=0.9
  rate_row "$desc vs the CPU limit ($cpus x \`zstd -b$level\` on a tar of the tree: ${res[$k.zb]} MB/s a core)" \
    MB/s "${res[$k.pr_mbs]}" "${res[$k.limit]}" "$min_limit" "" "${res[$k.limit_ratio]}"
done
if ((!level3)); then
  add "hash + compress -3 + write vs tar | zstd -T0 -3 and the shell pipeline" - - - \
    ">= 1.3x, >= 1.5x" "not run (LEVELS has no 3)"
fi
for level in "${c_larges[@]}"; do
  k=c.large.$level
  time_row "one large file, ${res[$k.mb]} MB, compress -$level + write, warm vs \`zstd -T0 -$level\` (pipe-run CPU/wall ${res[$k.cpu]})" \
    "${res[$k.pr]}" "${res[$k.z]}" "" "${res[$k.check]}" "${res[$k.z_ratio]}"
done

disk_seq="$(bytes_text "${res[d.block]}") x ${res[d.qd]}"
rate_row "disk, pipe-run bench vs fio: sequential read, $disk_seq, ${res[d.mb]} MB file" MB/s \
  "${res[d.seq-read.pr]}" "${res[d.seq-read.fio]}" 0.95 1.10
rate_row "disk, pipe-run bench vs fio: sequential write (the final flush not counted), $disk_seq" MB/s \
  "${res[d.seq-write.pr]}" "${res[d.seq-write.fio]}" 0.90 1.10
rate_row "disk, pipe-run bench vs fio: random reads, 4 KiB x QD64" IOPS \
  "${res[d.rand-read-4k.pr]}" "${res[d.rand-read-4k.fio]}" 0.90 1.10

# Peak RSS: the largest of each part's pipe-run runs.
best='' where=''
for n in small large raw; do
  if [[ -z $best ]] || holds "${res[h.$n.rss]} > $best"; then best=${res[h.$n.rss]} where=$n; fi
done
rss_row "peak RSS, hash_bench (largest of small, large, raw)" "$best" "$HASH_MEMORY_LIMIT_MIB" "$where"
best='' where=''
for tl in "${c_trees[@]}"; do
  if [[ -z $best ]] || holds "${res[c.$tl.rss]} > $best"; then best=${res[c.$tl.rss]} where="$tl"; fi
done
for level in "${c_larges[@]}"; do
  if [[ -z $best ]] || holds "${res[c.large.$level.rss]} > $best"; then
    best=${res[c.large.$level.rss]} where="large.$level"
  fi
done
rss_row "peak RSS, compress_bench (largest of every tree, level, the large file)" "$best" \
  "$MEMORY_LIMIT_MIB" "$where"

passed=0 failed=0 other=0
for r in "${rows_result[@]}"; do
  case $r in
    pass) passed=$((passed + 1)) ;;
    FAIL*) failed=$((failed + 1)) ;;
    *) other=$((other + 1)) ;;
  esac
done
summary="$passed pass, $failed FAIL, $other without a target or not measured"

# ---- the machine ----

rel() { if [[ $1 == "$root"/* ]]; then echo "${1#"$root"/}"; else echo "$1"; fi; }
cpu_model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
if fs=$(findmnt -n -o FSTYPE,SOURCE -T "$BENCH_DIR" 2>/dev/null); then
  fs=$(echo "$fs" | awk '{ print $1 " on " $2 }')
else
  fs=$(stat -f -c %T -- "$BENCH_DIR")
fi
v_zstd=$(zstd --version | grep -o 'v[0-9][0-9.]*' | head -n 1)
v_xxhsum=$(xxhsum --version 2>&1 | head -n 1 | awk '{ print $2 }')
v_fio=$(fio --version)
v_tar=$(tar --version | head -n 1)
pipe_run=${PIPE_RUN:-build/release/pipe-run}
v_pipe_run=$("$pipe_run" --version 2>&1 | head -n 1)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
# (The results file itself does not count: every run changes it.)
pathspec=(.)
[[ $RESULTS_MD == "$root"/* ]] && pathspec+=(":(exclude)$(rel "$RESULTS_MD")")
if [[ -n $(git status --porcelain --untracked-files=no -- "${pathspec[@]}") ]]; then
  commit+=" with uncommitted changes"
fi
b=$(rel "$BENCH_DIR")
c=$b/compress

# ---- the report: stdout, then RESULTS_MD ----

{
  echo
  echo "pipe-run benchmark (bench/run.sh), $started: $ROUNDS rounds, medians; $b ($fs)"
  printf '%-120s | %18s | %18s | %7s | %12s | %s\n' comparison pipe-run peer ratio target result
  for i in "${!rows_name[@]}"; do
    printf '%-120s | %18s | %18s | %7s | %12s | %s\n' "${rows_name[i]}" "${rows_pr[i]}" \
      "${rows_peer[i]}" "${rows_ratio[i]}" "${rows_target[i]}" "${rows_result[i]}"
  done
  echo "  $summary"
  echo "  ratio = peer time / pipe-run time, or pipe-run's MB/s (IOPS) / the peer's (> 1: pipe-run is faster)"
  echo "  written to $(rel "$RESULTS_MD"); the parts' tables: $b/{results,compress-results,disk-results}.txt"
}

md() { echo "${1//|/\\|}"; }
section=$(mktemp)
trap 'rm -f -- "$section" "$section.new"' EXIT
{
  echo "<!-- bench/run.sh: begin -->"
  echo "## Latest \`bench/run.sh\` run"
  echo
  echo "Written by \`bench/run.sh\`, which replaces everything between these markers on each run:"
  echo "$started, $minutes min."
  if ((ROUNDS < 3)); then
    echo "**ROUNDS=$ROUNDS: fewer than the 3 rounds the issue asks for; a test of the harness, not a result.**"
  fi
  echo
  echo "Machine: $cpus CPUs (${cpu_model:-unknown model}), $mem memory, Linux $(uname -r);"
  echo "BENCH_DIR \`$b\`: $fs. Tools: zstd $v_zstd, xxhsum $v_xxhsum, $v_fio, $v_tar;"
  echo "$v_pipe_run (\`$(rel "$(realpath -- "$pipe_run")")\`), tree at $commit."
  echo
  echo "Command: \`$invocation\` (as root). It runs bench/hash_bench.sh, bench/compress_bench.sh"
  echo "and bench/disk_bench.sh, each tool in turn, ROUNDS=$ROUNDS rounds that alternate which goes"
  echo "first, medians; before every timed run the outputs are deleted, then \`sync; echo 3 >"
  echo "/proc/sys/vm/drop_caches\`; warm runs read the input just before. MB = 10^6 bytes."
  echo
  echo "| comparison | pipe-run | peer | ratio | target | result |"
  echo "| --- | ---: | ---: | ---: | --- | --- |"
  for i in "${!rows_name[@]}"; do
    result=${rows_result[i]}
    [[ $result == FAIL* ]] && result="**$result**"
    echo "| $(md "${rows_name[i]}") | ${rows_pr[i]} | ${rows_peer[i]} | ${rows_ratio[i]} | ${rows_target[i]} | $result |"
  done
  echo
  echo "$summary. Ratio: peer time / pipe-run time, or pipe-run's MB/s (IOPS) / the peer's; above 1,"
  echo "pipe-run is faster. The disk rows check that \`pipe-run bench\` measures what fio measures."
  echo "Peak RSS: /usr/bin/time's maximum over the rounds."
  echo
  echo "What each io_uring feature is worth (bench/engine_variants.sh: \`pipe-run bench\` with the"
  echo "engine's defaults and each variant; medians, and the ratio to the defaults):"
  echo
  echo '```'
  sed '/^$/d' "$variants_txt"
  echo '```'
  echo
  echo "The commands (OUT: an empty output directory; SUMS: a directory for the batches' digests):"
  echo
  echo '```sh'
  echo "# hash only, warm: pipe-run (stages = [\"hash\"]) against xxhsum; TREE = small, large"
  echo "pipe-run $b/conf/TREE.toml"
  echo "find $b/TREE -type f -print0 | xargs -0 -P$cpus -n 64 xxhsum -H2"
  echo "# raw direct read, cold: pipe-run (stages = [], direct_io = true, chunk_size = \"1MiB\","
  echo "# queue_depth = 64) against fio"
  echo "pipe-run $b/conf/raw.toml"
  echo "fio --name=seqread --filename=$b/raw/raw.bin --rw=read --bs=1M --iodepth=64 \\"
  echo "  --ioengine=io_uring --direct=1 --size=${RAW_MIB}M --fixedbufs --iodepth_batch_submit=64 \\"
  echo "  --iodepth_batch_complete_max=64 --iomem=shmhuge --output-format=json --output=FILE"
  echo "# (--iomem=shmhuge: huge-page buffers as pipe-run's, vm.nr_hugepages raised for the run)"
  echo "# hash + compress + write, warm: pipe-run (stages = [\"hash\", \"compress\", \"write\"],"
  echo "# threads = 0, memory_limit = \"${MEMORY_LIMIT_MIB}MiB\", level = LEVEL) against tar | zstd and the"
  echo "# shell pipeline; TREE = mixed, real, small"
  echo "pipe-run $c/conf/pr-TREE-LEVEL.toml"
  echo "tar -C $c -cf - TREE | zstd -T0 -LEVEL -q -o OUT/tree.tar.zst"
  echo "cd $c/TREE && find . -type f -print0 | xargs -0 -P$cpus -n 64 sh -c '"
  echo "  xxhsum -H2 \"\$@\" >>SUMS/\$\$.xxh128 && exec zstd -q -LEVEL --output-dir-mirror OUT \"\$@\"' sh"
  echo "cat SUMS/*.xxh128 >OUT/checksums.xxh128"
  echo "cp -r $c/TREE OUT/copy"
  echo "# one large file, warm: pipe-run against zstd"
  echo "pipe-run $c/conf/pr-large-LEVEL.toml"
  echo "zstd -T0 -LEVEL -q -o OUT/large.bin.zst -- $c/large/large.bin"
  echo "# disk, cold: pipe-run bench against fio (seq read, seq write, random reads)"
  for n in pipe-run fio-read fio-write fio-rand; do
    cmd=${res[d.cmd.$n]:-}
    cmd=${cmd//"$root"\//}
    [[ $n == fio-* ]] && cmd+=" --output=FILE"
    echo "$cmd"
  done
  echo '```'
  echo "<!-- bench/run.sh: end -->"
} >"$section"

if ((nb == 1 && ne == 1)); then
  # Replace what is between the markers (the markers included: the section has its own).
  awk -v sec="$section" -v b="$begin" -v e="$end" '
    $0 == b { while ((getline l < sec) > 0) print l; skip = 1; next }
    skip && $0 == e { skip = 0; next }
    !skip { print }' "$RESULTS_MD" >"$section.new"
else
  # Insert after the first paragraph that starts with "Machine:" (or, without one, after the
  # title), with a blank line either side.
  anchor='^Machine:'
  grep -q -- "$anchor" "$RESULTS_MD" || anchor='^# '
  awk -v sec="$section" -v anchor="$anchor" '
    function emit() { print ""; while ((getline l < sec) > 0) print l; done = 1 }
    !done && !para && $0 ~ anchor { para = 1 }
    !done && para && /^$/ { emit() }
    { print }
    END { if (!done) emit() }' "$RESULTS_MD" >"$section.new"
fi
cat -- "$section.new" >"$RESULTS_MD"
log "wrote the bench/run.sh section of $RESULTS_MD"
