#!/usr/bin/env bash
# The outputs a refactor must leave unchanged: the quickstart run shortened to 2 epochs on
# 2000 images, then every analysis (analyze with each in_analyze key on, health, a
# comparison of the run with itself shortened to 1 epoch), written under OUT.
# Compare two such folders with tools/same_outputs.py OUT_A/quickstart OUT_B/quickstart
# (and OUT_A/compare OUT_B/compare).
# Usage: tools/same_outputs_run.sh OUT [DECONVSCOPE_BINARY]   (default build/deconvscope)
# TRAIN_ARGS adds keys to both trainings, e.g. TRAIN_ARGS='--model.conv_algorithm direct'
# to compare with outputs made before auto became the default (or on another CPU).
set -euo pipefail
out=${1:?usage: tools/same_outputs_run.sh OUT [DECONVSCOPE_BINARY]}
bin=${2:-build/deconvscope}
cd "$(dirname "$0")/.."
mkdir -p "$out"
short="--data.train_limit 2000 --data.test_limit 1000 --analysis.probe_limit 500 ${TRAIN_ARGS:-}"
"$bin" train --config configs/quickstart.cfg --force --run.dir "$out/quickstart" $short --train.epochs 2 --run.threads 2
"$bin" train --config configs/quickstart.cfg --force --run.dir "$out/quickstart-1" $short --train.epochs 1 --run.threads 2
for r in quickstart quickstart-1; do
  "$bin" analyze --run "$out/$r" --force --invariance.in_analyze true --occlusion.in_analyze true \
    --linear_probe.in_analyze true --linear_probe.train 1000 --linear_probe.test 500 \
    --similarity.in_analyze true --similarity.images 500
  "$bin" health --run "$out/$r"
done
"$bin" compare --run "$out/quickstart" --run "$out/quickstart-1" --out "$out/compare"
