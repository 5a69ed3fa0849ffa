#!/usr/bin/env bash
# The README's quick start: installs what authledger needs on Debian 12 (idempotent),
# configures and builds with the CMake presets, then runs the main job or the tests.
#
#   tools/quickstart.sh demo   build (release) and run the demo
#   tools/quickstart.sh test   build (dev, warnings as errors) and run the whole test suite
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

install_packages() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

jobs=$(nproc 2>/dev/null || echo 2)

case "${1:-}" in
  test)
    install_packages
    cmake --preset dev
    cmake --build --preset dev -j "$jobs"
    ctest --preset dev -j "$jobs"
    ;;
  demo)
    install_packages
    cmake --preset release
    cmake --build --preset release -j "$jobs" --target authledger
    shift
    build/release/tools/authledger demo "$@"
    ;;
  *)
    echo "usage: $0 demo|test" >&2
    exit 2
    ;;
esac
