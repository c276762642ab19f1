#!/usr/bin/env bash
# Speed against the peer, as ../shared/bench/README.md asks: our bench and PyTorch's
# (Debian's python3-torch, on the same oneDNN) alternately, ROUNDS times each, in one run;
# prints the medians and the ratios ours / torch.
#   tools/bench_vs_torch.sh [ROUNDS=5] [extra deconvscope bench args...]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
shift || true
peer=${PEER:-../shared/bench/torch_zfnet_mini.py}
[ -x build/deconvscope ] || tools/build.sh
if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
  echo "the peer needs Debian's PyTorch: apt-get install -y python3-torch libopenblas0-openmp" >&2
  exit 2
fi
ours_t=(); ours_i=(); torch_t=(); torch_i=()
for r in $(seq "$rounds"); do
  line=$(build/deconvscope bench --config configs/zfnet-mini-bench.cfg "$@")
  ours_t+=("$(sed -n 's/.*train_images_per_s=\([0-9.]*\).*/\1/p' <<<"$line")")
  ours_i+=("$(sed -n 's/.*infer_images_per_s=\([0-9.]*\).*/\1/p' <<<"$line")")
  line=$(/usr/bin/python3 "$peer" --threads 2 --batch 128)
  torch_t+=("$(sed -n 's/.*train_images_per_s=\([0-9.]*\).*/\1/p' <<<"$line")")
  torch_i+=("$(sed -n 's/.*infer_images_per_s=\([0-9.]*\).*/\1/p' <<<"$line")")
  echo "round $r: deconvscope train ${ours_t[-1]} infer ${ours_i[-1]} | torch train ${torch_t[-1]} infer ${torch_i[-1]}" >&2
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
mt=$(median "${ours_t[@]}"); mi=$(median "${ours_i[@]}"); pt=$(median "${torch_t[@]}"); pi=$(median "${torch_i[@]}")
awk -v mt="$mt" -v mi="$mi" -v pt="$pt" -v pi="$pi" -v n="$rounds" 'BEGIN {
  printf "medians of %d rounds, batch 128, 2 threads\n", n
  printf "train  images/s: deconvscope %6.0f  torch %6.0f  ratio %.2fx\n", mt, pt, mt / pt
  printf "infer  images/s: deconvscope %6.0f  torch %6.0f  ratio %.2fx\n", mi, pi, mi / pi
  # 120 MFLOP per training image, 41 MFLOP per forward image (the bench README)
  printf "deconvscope reaches %.0f GFLOP/s training, %.0f GFLOP/s forward\n", mt * 0.120, mi * 0.041
}'
