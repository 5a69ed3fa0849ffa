#!/usr/bin/env bash
# Builds the libFuzzer targets (the `fuzz` preset: clang, ASan+UBSan) and runs each for
# a while over a copy of its committed seed corpus. Exits non-zero if any target crashes
# (or fails to build); the crashing input is kept under build/<preset>/artifacts/.
#
#   tools/fuzz.sh [SECONDS_PER_TARGET [TARGET…]]
#
#   tools/fuzz.sh 10     a short bounded run of every target (what CI does)
#   tools/fuzz.sh        60 s per target
#   tools/fuzz.sh 600    the long run (10 min per target), before a release
#   tools/fuzz.sh 60 cidr time_text      only these targets
#
# The targets and their input size limits come from the build (tests/fuzz/CMakeLists.txt
# writes fuzzers.txt); target <name> has its seeds in tests/fuzz/corpus/<name>/. New
# inputs found during a run go to a temporary copy, never into the committed corpus: to
# keep a crashing input as a seed, copy it there by hand, with a regression test.
#
# Environment: FUZZ_PRESET (default `fuzz`: the asan configuration without the tests;
# CI's `asan` job sets `asan`, whose build already has the targets), FUZZ_BUILD_JOBS
# (default: all cores), FUZZ_KEEP_CORPUS=DIR to keep the grown corpora in DIR/<name>.
set -euo pipefail

cd "$(dirname "$0")/.."

seconds="${1:-60}"
shift || true
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
  echo "usage: tools/fuzz.sh [SECONDS_PER_TARGET [TARGET…]]" >&2
  exit 2
fi

preset="${FUZZ_PRESET:-fuzz}"
build_dir="build/$preset"
cmake --preset "$preset" > /dev/null
cmake --build "$build_dir" --target authledger_fuzzers -j "${FUZZ_BUILD_JOBS:-$(nproc)}"

fuzz_dir="$build_dir/tests/fuzz"
artifacts="$build_dir/artifacts"
mkdir -p "$artifacts"
work="$(mktemp -d "${TMPDIR:-/tmp}/authledger-fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT

declare -A wanted=()
for t in "$@"; do wanted[$t]=1; done
only_wanted=$#

failed=()
ran=0
printf '%-16s %10s %8s %14s  %s\n' target executions exec/s "corpus" result
while read -r name max_len; do
  [ -n "$name" ] || continue
  if [ "$only_wanted" -gt 0 ]; then
    [ -n "${wanted[$name]:-}" ] || continue
    unset "wanted[$name]"
  fi
  seeds="tests/fuzz/corpus/$name"
  if [ ! -d "$seeds" ] || [ -z "$(ls -A "$seeds")" ]; then
    echo "$name: no seed corpus in $seeds" >&2
    failed+=("$name")
    continue
  fi
  corpus="$work/$name"
  mkdir -p "$corpus"
  cp "$seeds"/* "$corpus"/
  before=$(ls "$corpus" | wc -l)
  log="$work/$name.log"
  status=0
  "$fuzz_dir/fuzz_$name" -max_total_time="$seconds" -max_len="$max_len" -timeout=30 \
    -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$artifacts/$name-" \
    "$corpus" > "$log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  after=$(ls "$corpus" | wc -l)
  if [ "$status" -eq 0 ]; then
    result=ok
  else
    result="CRASH (exit $status)"
    failed+=("$name")
  fi
  printf '%-16s %10s %8s %14s  %s\n' "$name" "${execs:-?}" "${rate:-?}" "$before→$after" "$result"
  if [ "$status" -ne 0 ]; then
    echo "---- $name: last lines of the log (inputs kept in $artifacts) ----"
    tail -n 60 "$log"
    echo "----"
  fi
  if [ -n "${FUZZ_KEEP_CORPUS:-}" ]; then
    mkdir -p "$FUZZ_KEEP_CORPUS/$name"
    cp "$corpus"/* "$FUZZ_KEEP_CORPUS/$name"/
  fi
  ran=$((ran + 1))
done < "$fuzz_dir/fuzzers.txt"

for t in "${!wanted[@]}"; do
  echo "no fuzz target named $t (see $fuzz_dir/fuzzers.txt)" >&2
  failed+=("$t")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzzing passed: $ran targets, ${seconds} s each"
