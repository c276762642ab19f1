#!/usr/bin/env bash
# Redraws the README's pictures from runs of today's code, so that they show what the
# program draws now (layout, frames, which features are followed), and prints what each
# picture shows for its caption.
#   tools/readme-images.sh            train configs/quickstart.cfg (--force), analyse, copy
#   tools/readme-images.sh --reuse    analyse the runs/quickstart already there, copy
# docs/img/quickstart-evolution-conv2.png comes from runs/quickstart. The zfnet-fashion
# picture (docs/img/zfnet-fashion-evolution-conv4.png) is a 64-epoch run (about an hour on
# a 2-core machine): it is redrawn only when runs/zfnet-fashion exists, by re-analysing it.
# Needs build/deconvscope (tools/build.sh --target deconvscope).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/deconvscope
[ -x "$bin" ] || { echo "readme-images.sh: $bin not found; build it with tools/build.sh --target deconvscope" >&2; exit 2; }
reuse=false
case "${1:-}" in
  --reuse) reuse=true ;;
  "") ;;
  *) echo "usage: tools/readme-images.sh [--reuse]" >&2; exit 2 ;;
esac

# The followed features of a layer and the epochs, from the run's evolution.csv
# (layer,feature,epoch,...): what the picture's rows and columns are.
describe() {
  local csv=$1 layer=$2
  values_of() { awk -F, -v l="$layer" -v c="$1" 'NR > 1 && $1 == l { print $c }' "$csv" | sort -nu | xargs; }
  echo "  rows (features): $(values_of 2)"
  echo "  columns (epochs): $(values_of 3)"
  echo "  inactive cells: $(awk -F, -v l="$layer" 'NR > 1 && $1 == l && $4 == -1' "$csv" | wc -l)"
}

redraw() {  # run folder, layer, destination
  local run=$1 layer=$2 dest=$3
  "$bin" analyze --run "$run" --force
  cp "$run/report/evolution_$layer.png" "$dest"
  echo "$dest: $layer of $run ($(stat -c %s "$dest") bytes)"
  describe "$run/analysis/evolution.csv" "$layer"
}

if ! $reuse; then
  "$bin" train --config configs/quickstart.cfg --force
fi
redraw runs/quickstart conv2 docs/img/quickstart-evolution-conv2.png
if [ -d runs/zfnet-fashion/snapshots ]; then
  redraw runs/zfnet-fashion conv4 docs/img/zfnet-fashion-evolution-conv4.png
else
  echo "runs/zfnet-fashion not found: docs/img/zfnet-fashion-evolution-conv4.png left as it is" \
       "(train configs/zfnet-fashion.cfg, about an hour on 2 cores, then run this again with --reuse)"
fi
