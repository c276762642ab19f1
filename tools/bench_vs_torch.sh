#!/usr/bin/env bash
# Speed against the peer, as docs/benchmark.md describes: `deconvscope bench` on
# configs/zfnet-mini-bench.cfg and the same network in PyTorch (tools/torch_zfnet_mini.py,
# Debian's python3-torch on the same oneDNN) in each of the peer's three modes (default,
# channels-last, bf16 autocast), alternating within each round, ROUNDS rounds in one run.
# Prints the medians, our ratio against every mode, and against the peer at its best
# (the faster mode for each figure).
#   tools/bench_vs_torch.sh [ROUNDS=5] [extra deconvscope bench args...]
#   PEER_MODES="default channels-last" tools/bench_vs_torch.sh 3
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
shift || true
if ! [[ "$rounds" =~ ^[1-9][0-9]*$ ]]; then
  echo "bench_vs_torch.sh: ROUNDS must be a positive whole number, got '$rounds'" >&2
  exit 2
fi
if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
  echo "bench_vs_torch.sh: the peer needs Debian's PyTorch (not a dependency of deconvscope):" >&2
  echo "  sudo apt-get install -y python3-torch libopenblas0-openmp" >&2
  exit 2
fi
[ -x build/deconvscope ] || tools/build.sh

# PEER_MODES chooses the peer's modes. bf16 autocast runs only where the CPU has bfloat16
# instructions: without them PyTorch emulates it, and one run takes many minutes.
read -r -a modes <<<"${PEER_MODES:-default channels-last bf16}"
if [[ " ${modes[*]} " == *" bf16 "* ]] && ! grep -qw avx512_bf16 /proc/cpuinfo; then
  echo "bench_vs_torch.sh: this CPU has no AVX512_BF16: leaving out the peer's bf16 mode" >&2
  read -r -a modes <<<"$(tr ' ' '\n' <<<"${modes[*]}" | grep -vx bf16 | tr '\n' ' ')"
fi
declare -A mode_args=([default]="" [channels-last]="--channels-last" [bf16]="--precision bf16")
declare -A train infer   # "name" -> space-separated figures, one per round
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
record() {
  local name=$1 line=$2 t i
  t=$(field train_images_per_s "$line"); i=$(field infer_images_per_s "$line")
  if [ -z "$t" ] || [ -z "$i" ]; then
    echo "bench_vs_torch.sh: no figures in the output of $name: $line" >&2; exit 1
  fi
  train[$name]+="$t "; infer[$name]+="$i "
  printf ' %s %s/%s' "$name" "$t" "$i" >&2
}
for r in $(seq "$rounds"); do
  printf 'round %d (train/infer images/s):' "$r" >&2
  record deconvscope "$(build/deconvscope bench --config configs/zfnet-mini-bench.cfg "$@")"
  for m in "${modes[@]}"; do
    # shellcheck disable=SC2086  # the mode's flags split on purpose
    record "torch-$m" "$(/usr/bin/python3 tools/torch_zfnet_mini.py --threads 2 --batch 128 ${mode_args[$m]})"
  done
  echo >&2
done

median() { tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -g |
  awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
{
  echo "deconvscope $(median "${train[deconvscope]}") $(median "${infer[deconvscope]}")"
  for m in "${modes[@]}"; do
    echo "torch-$m $(median "${train[torch-$m]}") $(median "${infer[torch-$m]}")"
  done
} | awk -v n="$rounds" '
  { name[NR] = $1; t[NR] = $2; i[NR] = $3 }
  END {
    printf "medians of %d rounds, zfnet-mini, batch 128, 2 threads (deconvscope float32)\n", n
    printf "%-20s %10s %10s %12s %12s\n", "", "train/s", "infer/s", "train ratio", "infer ratio"
    printf "%-20s %10.0f %10.0f\n", name[1], t[1], i[1]
    bt = 2; bi = 2
    for (k = 2; k <= NR; k++) {
      printf "%-20s %10.0f %10.0f %11.2fx %11.2fx\n", name[k], t[k], i[k], t[1] / t[k], i[1] / i[k]
      if (t[k] > t[bt]) bt = k
      if (i[k] > i[bi]) bi = k
    }
    printf "against the peer at its best: train %.2fx (%s), infer %.2fx (%s)\n",
           t[1] / t[bt], name[bt], i[1] / i[bi], name[bi]
    # docs/benchmark.md: 120 MFLOP per training image, 41 MFLOP per forward image
    printf "deconvscope reaches %.0f GFLOP/s training, %.0f GFLOP/s forward\n", t[1] * 0.120, i[1] * 0.041
  }'
