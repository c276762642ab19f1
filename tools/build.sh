#!/usr/bin/env bash
# Configures and builds deconvscope into build/ (Release, tests included).
#   tools/build.sh [--target NAME] [cmake -D options...]
# --target builds only that target (tools/quickstart.sh: the deconvscope binary, without
# the test suite, which is most of a fresh build's time).
set -euo pipefail
cd "$(dirname "$0")/.."
target=()
if [ "${1:-}" = "--target" ]; then
  target=(--target "${2:?--target needs a name}")
  shift 2
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build -j"$(nproc)" "${target[@]}"
