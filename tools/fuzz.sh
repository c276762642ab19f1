#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz: config + layer lines, IDX, CIFAR-10, snapshot files) with clang,
# AddressSanitizer and UBSan into build-fuzz/, and runs each for N seconds (default 10):
#   tools/fuzz.sh        # 10 s each
#   tools/fuzz.sh 600    # 10 minutes each
# The corpus grows in build-fuzz/corpus/<target> across runs; tests/fuzz/seeds/ and
# configs/ seed it. A crash leaves its input in build-fuzz/artifacts/ and fails the script
# (replay: build-fuzz/fuzz_<target> build-fuzz/artifacts/<file>).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
if ! command -v clang++ >/dev/null; then
  echo "fuzz.sh: clang++ not found (tools/install-deps.sh installs clang and libclang-rt-14-dev)" >&2
  exit 1
fi
CC=clang CXX=clang++ cmake -S tests/fuzz -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz_targets >/dev/null
mkdir -p build-fuzz/artifacts
status=0
for t in config idx cifar snapshot; do
  corpus=build-fuzz/corpus/$t
  mkdir -p "$corpus"
  seeds=(tests/fuzz/seeds/$t)
  [ "$t" = config ] && seeds+=(configs)
  log=build-fuzz/fuzz_$t.log
  if build-fuzz/fuzz_$t -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
       -artifact_prefix=build-fuzz/artifacts/$t- "$corpus" "${seeds[@]}" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "fuzz_$t: clean, ${runs:-?} inputs in ${secs} s (corpus $(ls "$corpus" | wc -l) files)"
  else
    echo "fuzz_$t: FAILED, see $log and build-fuzz/artifacts/" >&2
    tail -40 "$log" >&2
    status=1
  fi
done
exit $status
