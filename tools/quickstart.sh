#!/usr/bin/env bash
# The README's main job, end to end on a fresh Debian 12 machine: install, build, train
# configs/quickstart.cfg on Fashion-MNIST, run the deconvnet analysis over its
# snapshots, and write the report. Re-running starts the run over (--force).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh --target deconvscope   # the test suite is built by tools/test.sh
build/deconvscope train --config configs/quickstart.cfg --force "$@"
build/deconvscope analyze --run runs/quickstart
echo "open runs/quickstart/report/index.html in a browser"
