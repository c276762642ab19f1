#!/usr/bin/env bash
# Installs, builds and runs the whole test suite (what CI runs): a short fuzzing run of the
# parsers and readers (tools/fuzz.sh 5, when clang is there), the oneDNN-dependent tests
# under each lower ISA this CPU can be capped to, then the whole ctest suite. It comes last
# so that its summary closes the output; an earlier failure still fails the script.
# Arguments go to both ctest runs: `tools/test.sh -L unit` runs the unit lane only,
# `tools/test.sh -LE browser` all but the browser test (labels: docs/setup.md).
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
# oneDNN picks other kernels and layouts on each ISA (16-channel blocks and bf16 on
# AVX-512, 8-channel blocks on AVX2), so the tests whose results depend on them (label
# `isa`: model, train, analysis) run again under every lower ISA oneDNN can be capped to
# on this CPU: an AVX-512 machine proves the AVX2 paths too.
caps=()
flags=$(grep -m1 '^flags' /proc/cpuinfo || true)
has() { [[ " $flags " == *" $1 "* ]]; }
if has avx512f && has avx512bw && has avx512vl && has avx512dq; then
  has avx512_bf16 && caps+=(AVX512_CORE)
  caps+=(AVX2)
fi
isa_status=0
if [ ${#caps[@]} -eq 0 ]; then
  echo "no AVX-512 on this CPU: no lower ISA to cap oneDNN to; the suite below runs on its native ISA only"
fi
for cap in "${caps[@]}"; do
  echo "== the model, train and analysis tests with ONEDNN_MAX_CPU_ISA=$cap =="
  (cd build && ONEDNN_MAX_CPU_ISA=$cap ctest -L isa "$@" --output-on-failure -j"$(nproc)" --timeout 600) || isa_status=1
done
echo "== the whole suite on this CPU's own ISA =="
(cd build && ctest "$@" --output-on-failure -j"$(nproc)" --timeout 600)
[ $isa_status -eq 0 ] || { echo "tests failed under a capped ISA (see above)"; exit 1; }
[ $fuzz_status -eq 0 ] || { echo "the fuzzing run failed to build or found a crash (see the start of the output)"; exit $fuzz_status; }
