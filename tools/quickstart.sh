#!/usr/bin/env bash
# The README's quick start: installs what authledger needs on Debian 12 (idempotent),
# configures and builds with the CMake presets, then runs the main job or the tests.
#
#   tools/quickstart.sh demo   build (release) and run the demo
#   tools/quickstart.sh test   the whole test suite under the sanitizers, then the fuzz
#                              targets (what CI runs; about 25 minutes on 2 idle cores):
#                              - preset asan: clang, AddressSanitizer + UBSan, warnings as
#                                errors, every test (build/asan); the same build has the
#                                libFuzzer targets, each then run 10 s over its corpus
#                                (FUZZ_SECONDS to change it)
#                              - preset tsan: gcc, ThreadSanitizer, the engine and storage
#                                tests with the stress test (build/tsan; only those two
#                                test binaries are built; suppressions for uninstrumented
#                                libraries in tests/tsan.supp). Warnings are not errors
#                                here: gcc at -O1 reports -Wnull-dereference inside
#                                libstdc++'s stream iterators.
#   tools/quickstart.sh dev    the quick loop: gcc, debug, warnings as errors, every test
#                              without sanitizers (build/dev; about 8 minutes)
#
# Each step prints how long it took. Set JOBS to change the parallelism (default: nproc).
set -euo pipefail

cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config
  librocksdb-dev rocksdb-tools
  capnproto libcapnp-dev
  libboost-dev libboost-system-dev
  libspdlog-dev libcli11-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-format
)
# Only for `test` (clang, its sanitizer runtimes and libFuzzer).
sanitizer_packages=(clang libclang-rt-dev)

# install_packages [EXTRA…]: the packages above and EXTRA, those not yet installed.
install_packages() {
  local missing=()
  for p in "${packages[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}

# Runs "$@" and prints how long it took, under `label`.
timed() {
  local label=$1 start=$SECONDS
  shift
  "$@"
  echo "== ${label}: $((SECONDS - start)) s"
}

# The presets (CMakePresets.json) say what each job builds, runs and with which options.
run_preset() {
  local preset=$1
  timed "${preset}: configure" cmake --preset "$preset"
  timed "${preset}: build" cmake --build --preset "$preset" -j "$jobs"
  timed "${preset}: tests" ctest --preset "$preset" -j "$jobs"
}

case "${1:-}" in
  test)
    install_packages "${sanitizer_packages[@]}"
    run_preset asan
    timed "fuzz" env FUZZ_PRESET=asan tools/fuzz.sh "${FUZZ_SECONDS:-10}"
    run_preset tsan
    echo "== test: ${SECONDS} s in all"
    ;;
  dev)
    install_packages
    run_preset dev
    ;;
  demo)
    install_packages
    cmake --preset release
    cmake --build --preset release -j "$jobs" --target authledger
    shift
    build/release/tools/authledger demo "$@"
    ;;
  *)
    echo "usage: $0 demo|test|dev" >&2
    exit 2
    ;;
esac
