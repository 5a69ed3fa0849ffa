#!/usr/bin/env bash
# Builds the release preset and measures the event log beside RocksDB's db_bench, in one
# run on one machine, with every data directory on the same filesystem:
#
#   log_bench append1           vs db_bench fillseq --sync=1            (1 thread)
#   log_bench append64          vs db_bench fillseq --sync=1 --threads=64
#   log_bench scan              vs db_bench readseq    (1M values, after fillseq)
#   log_bench prove (10M log)   vs db_bench readrandom (one Get, same 1M database)
#
# Each pair runs RUNS times, interleaved (one db_bench, then its log_bench, then the next
# pair) so that a noisy neighbour hits both sides alike; the medians are printed at the end
# and every raw output is kept in OUT. The 1M- and 10M-event logs are built once (their
# build rate is the bulk append figure) and reused by later runs.
#
# Environment (defaults): RUNS (3), DATA (/tmp/authledger-bench, deleted at the end),
# OUT (build/release/log_bench_results), APPEND1_EVENTS (10000), APPEND64_SECONDS (10),
# DB_BENCH_THREAD_OPS (2000 per thread), SCAN_EVENTS (1000000), PROVE_EVENTS (10000000),
# PROOFS (10000), VALUE_SIZE (360: the stored size of a log_bench event).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${RUNS:-3}
DATA=${DATA:-/tmp/authledger-bench}
OUT=${OUT:-$ROOT/build/release/log_bench_results}
APPEND1_EVENTS=${APPEND1_EVENTS:-10000}
APPEND64_SECONDS=${APPEND64_SECONDS:-10}
DB_BENCH_THREAD_OPS=${DB_BENCH_THREAD_OPS:-2000}
SCAN_EVENTS=${SCAN_EVENTS:-1000000}
PROVE_EVENTS=${PROVE_EVENTS:-10000000}
PROOFS=${PROOFS:-10000}
VALUE_SIZE=${VALUE_SIZE:-360}

DB_BENCH=$(command -v db_bench || command -v rocksdb_db_bench ||
  dpkg -L rocksdb-tools 2>/dev/null | grep -E '/(rocksdb_)?db_bench$' | head -n1 || true)
if [[ -z "$DB_BENCH" ]]; then
  echo "run_log_bench.sh: db_bench not found (install rocksdb-tools)" >&2
  exit 1
fi
LOG_BENCH=$ROOT/build/release/tools/bench/log_bench

# db_bench flags shared by every comparison: 8-byte keys like our seq keys, values the
# size of one stored event, no compression on the write side (one WAL record per op
# either way). The scan peer keeps RocksDB's default (snappy), as the log does.
DB_COMMON=(--key_size=8 --value_size="$VALUE_SIZE" --histogram=1)

mkdir -p "$OUT" "$DATA"
rm -rf "${DATA:?}"/*
trap 'rm -rf "${DATA:?}"' EXIT
RAW=$OUT/raw.log
: >"$RAW"

echo "== build (release preset)"
(cd "$ROOT" && cmake --preset release >/dev/null && cmake --build build/release --target log_bench)

{
  echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "cpu: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p'), $(nproc) cores"
  echo "kernel: $(uname -r)"
  echo "filesystem: $(df -T "$DATA" | awk 'NR==2 {print $2 " on " $1 " (" $7 ")"}')"
  echo "db_bench: $DB_BENCH ($(dpkg-query -W -f='${Version}' rocksdb-tools 2>/dev/null || echo '?'))"
} | tee "$OUT/machine.txt"

# Runs a command, appending its output to RAW; prints and returns its output.
Run() {
  echo "\$ $*" >>"$RAW"
  local output
  output=$("$@" 2>&1) || {
    echo "$output" | tee -a "$RAW" >&2
    echo "run_log_bench.sh: failed: $*" >&2
    exit 1
  }
  echo "$output" >>"$RAW"
  echo "$output"
}

# Field `key` of the RESULT line of `command` in `output`.
Field() {
  local output=$1 command=$2 key=$3
  echo "$output" | awk -v c="$command" -v k="$key" '
    $1 == "RESULT" && $2 == c { for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) print kv[2] } }' |
    tail -n1
}

# ops/sec, P50 and P99 (us) of benchmark `name` in db_bench's output.
DbOps() { echo "$1" | awk -v b="$2" '$1 == b && $2 == ":" { print $5 }' | tail -n1; }
DbPercentile() {
  echo "$1" | awk -v b="$2" -v p="$3" '
    $1 == b && $2 == ":" { seen = 1 }
    seen && $1 == "Percentiles:" { for (i = 2; i < NF; i++) if ($i == p ":") { print $(i + 1); exit } }'
}

declare -A SAMPLES
Record() { SAMPLES[$1]+="$2 "; }
Median() {
  # shellcheck disable=SC2086
  printf '%s\n' ${SAMPLES[$1]:-} | sort -g | awk 'NF { v[++n] = $1 } END { if (n) print v[int((n + 1) / 2)]; else print "n/a" }'
}
Values() { echo "${SAMPLES[$1]:-}"; }

Ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0 && a != "n/a" && a != "") printf "%.2f", a / b; else print "n/a" }'; }
Last() { Values "$1" | awk '{ print $NF }'; }

for run in $(seq 1 "$RUNS"); do
  echo "== run $run of $RUNS (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  echo "== run $run, load average $(cat /proc/loadavg)" >>"$RAW"

  rm -rf "$DATA/db_sync1"
  out=$(Run "$DB_BENCH" --db="$DATA/db_sync1" --benchmarks=fillseq --sync=1 \
    --num="$APPEND1_EVENTS" --compression_type=none "${DB_COMMON[@]}")
  Record db_sync1 "$(DbOps "$out" fillseq)"
  Record db_sync1_p50 "$(DbPercentile "$out" fillseq P50)"
  Record db_sync1_p99 "$(DbPercentile "$out" fillseq P99)"
  rm -rf "$DATA/db_sync1"

  out=$(Run "$LOG_BENCH" --dir "$DATA/append1" append1 --events "$APPEND1_EVENTS")
  Record append1 "$(Field "$out" append1 events_per_s)"
  Record append1_p50 "$(Field "$out" append1 p50_us)"
  Record append1_p99 "$(Field "$out" append1 p99_us)"
  Record ratio_append1 "$(Ratio "$(Last append1)" "$(Last db_sync1)")"
  echo "   sync, 1 writer:   db_bench $(Last db_sync1)/s, log $(Last append1)/s"

  rm -rf "$DATA/db_sync64"
  out=$(Run "$DB_BENCH" --db="$DATA/db_sync64" --benchmarks=fillseq --sync=1 --threads=64 \
    --num="$DB_BENCH_THREAD_OPS" --compression_type=none "${DB_COMMON[@]}")
  Record db_sync64 "$(DbOps "$out" fillseq)"
  Record db_sync64_p50 "$(DbPercentile "$out" fillseq P50)"
  Record db_sync64_p99 "$(DbPercentile "$out" fillseq P99)"
  rm -rf "$DATA/db_sync64"

  out=$(Run "$LOG_BENCH" --dir "$DATA/append64" append64 --committers 64 \
    --seconds "$APPEND64_SECONDS")
  Record append64 "$(Field "$out" append64 events_per_s)"
  Record append64_p50 "$(Field "$out" append64 p50_us)"
  Record append64_p99 "$(Field "$out" append64 p99_us)"
  Record append64_group "$(Field "$out" append64 events_per_group)"
  Record append64_cpu "$(Field "$out" append64 cpu_us_per_event)"
  Record append64_gp10 "$(Field "$out" append64 group_p10)"
  Record append64_gp50 "$(Field "$out" append64 group_p50)"

  out=$(Run "$LOG_BENCH" --dir "$DATA/append64" append64 --committers 64 \
    --seconds "$APPEND64_SECONDS" --driver async)
  Record async64 "$(Field "$out" append64 events_per_s)"
  Record async64_p99 "$(Field "$out" append64 p99_us)"
  Record async64_group "$(Field "$out" append64 events_per_group)"
  Record async64_cpu "$(Field "$out" append64 cpu_us_per_event)"
  Record ratio_append64 "$(Ratio "$(Last append64)" "$(Last db_sync64)")"
  Record ratio_async64 "$(Ratio "$(Last async64)" "$(Last db_sync64)")"
  echo "   sync, 64:         db_bench $(Last db_sync64)/s, log $(Last append64)/s (async driver $(Last async64)/s)"

  rm -rf "$DATA/db_read"
  out=$(Run "$DB_BENCH" --db="$DATA/db_read" --benchmarks=fillseq,readseq,readrandom \
    --num="$SCAN_EVENTS" --compression_type=snappy "${DB_COMMON[@]}")
  Record db_fill "$(DbOps "$out" fillseq)"
  Record db_readseq "$(DbOps "$out" readseq)"
  Record db_readrandom "$(DbOps "$out" readrandom)"
  Record db_readrandom_p50 "$(DbPercentile "$out" readrandom P50)"
  rm -rf "$DATA/db_read"

  out=$(Run "$LOG_BENCH" --dir "$DATA/scan" --keep scan --events "$SCAN_EVENTS" --passes 3)
  fill=$(Field "$out" fill events_per_s)
  [[ -n "$fill" ]] && Record fill1m "$fill"
  Record scan "$(Field "$out" scan events_per_s)"
  Record ratio_scan "$(Ratio "$(Last scan)" "$(Last db_readseq)")"
  echo "   scan:             db_bench readseq $(Last db_readseq)/s, log $(Last scan)/s"

  out=$(Run "$LOG_BENCH" --dir "$DATA/prove" --keep prove --events "$PROVE_EVENTS" \
    --proofs "$PROOFS")
  fill=$(Field "$out" fill events_per_s)
  [[ -n "$fill" ]] && Record fill10m "$fill"
  reopen=$(echo "$out" | awk '$1 == "RESULT" && $2 == "open" && $3 == "log=reopened" { split($5, kv, "="); print kv[2] }')
  if [[ -n "$fill" ]]; then
    Record open_after_fill "$reopen"
  else
    Record open_clean "$(echo "$out" | awk '$1 == "RESULT" && $2 == "open" && $3 == "log=existing" { split($5, kv, "="); print kv[2] }')"
  fi
  Record prove "$(Field "$out" prove proofs_per_s)"
  Record prove_p50 "$(Field "$out" prove p50_us)"
  Record prove_p99 "$(Field "$out" prove p99_us)"
  Record prove_hashes "$(Field "$out" prove hashes_per_proof)"
  echo "   prove:            $(Last prove) proofs/s, p99 $(Last prove_p99) us"
done

{
  echo
  echo "== medians of $RUNS runs (per-run values in brackets); ratio = median of the"
  echo "   per-run ratios where both sides ran in every run, else of the medians"
  printf '%-44s %14s %14s %7s\n' "benchmark" "log_bench" "db_bench" "ratio"
  Row() {
    local name=$1 ours=$2 theirs=$3 ratio_key=${4:-}
    local m_ours m_theirs="" ratio="-"
    m_ours=$(Median "$ours")
    if [[ -n "$theirs" ]]; then
      m_theirs=$(Median "$theirs")
      if [[ -n "$ratio_key" ]]; then ratio=$(Median "$ratio_key"); else ratio=$(Ratio "$m_ours" "$m_theirs"); fi
    fi
    printf '%-44s %14s %14s %7s   [%s| %s]\n' "$name" "$m_ours" "${m_theirs:--}" "$ratio" \
      "$(Values "$ours")" "$([[ -n "$theirs" ]] && Values "$theirs")"
  }
  Row "append, 1 writer (events/s)" append1 db_sync1 ratio_append1
  Row "  commit p50 (us)" append1_p50 db_sync1_p50
  Row "  commit p99 (us)" append1_p99 db_sync1_p99
  Row "append, 64 committers (events/s)" append64 db_sync64 ratio_append64
  Row "  commit p50 (us)" append64_p50 db_sync64_p50
  Row "  commit p99 (us)" append64_p99 db_sync64_p99
  Row "  events per group commit (mean)" append64_group ""
  Row "  events per group commit (p10)" append64_gp10 ""
  Row "  events per group commit (p50)" append64_gp50 ""
  Row "  CPU per event (us)" append64_cpu ""
  Row "append, 64 async committers (events/s)" async64 db_sync64 ratio_async64
  Row "  commit p99 (us)" async64_p99 ""
  Row "  events per group commit" async64_group ""
  Row "  CPU per event (us)" async64_cpu ""
  Row "bulk append, 1M-event log (events/s)" fill1m db_fill
  Row "bulk append, 10M-event log (events/s)" fill10m db_fill
  Row "scan + decode (events/s)" scan db_readseq ratio_scan
  Row "inclusion proofs, 10M events (proofs/s)" prove db_readrandom
  Row "  proof p50 (us)" prove_p50 db_readrandom_p50
  Row "  proof p99 (us)" prove_p99 ""
  Row "  hashes per proof" prove_hashes ""
  Row "open right after the 10M fill (ms)" open_after_fill ""
  Row "open of the 10M log, later runs (ms)" open_clean ""
  echo
  echo "targets: append1 >= 0.9 x db_bench fillseq --sync=1; append64 >= 200000 events/s;"
  echo "         scan >= 2000000 events/s"
} | tee "$OUT/summary.txt"
echo "raw output: $RAW"
