#!/usr/bin/env bash
# Installs, builds and runs the whole test suite (what CI runs): a short fuzzing run of the
# parsers and readers (tools/fuzz.sh 5, when clang is there), then ctest. ctest comes last
# so that its summary closes the output; a fuzzing failure still fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh --test
tools/build.sh
fuzz_status=0
if command -v clang++ >/dev/null; then
  tools/fuzz.sh 5 || fuzz_status=$?
else
  echo "clang++ not found: skipping the fuzzing run"
fi
(cd build && ctest --output-on-failure -j"$(nproc)" --timeout 600)
exit $fuzz_status
