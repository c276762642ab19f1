#!/usr/bin/env bash
# Installs what deconvscope needs from Debian 12's packages (idempotent: quick when
# everything is there). Runs apt-get as root, through sudo when not root.
#   tools/install-deps.sh              what building and running needs
#   tools/install-deps.sh --test       plus clang and libFuzzer (the test suite's fuzzing run)
#                                      and chromium with python3 (the browser test of the pages)
#                                      and h5py (tools/corrupt-campaign.py, h5py reads our files)
#   tools/install-deps.sh --fresh-root plus mmdebstrap, for tools/fresh-root.sh (maintainers)
# Installs without recommends, so every package a build needs is named here:
# ocl-icd-opencl-dev because oneDNN's CMake config (dnnl-config.cmake) requires OpenCL
# although libdnnl-dev only recommends it; fonts-liberation because chromium only
# recommends a font, and without one its screenshots have no text; libomp-dev because the
# fuzz build compiles the stages that use OpenMP with clang, whose OpenMP runtime is its
# own package (gcc's libgomp does not serve it).
# tools/fresh-root.sh checks this list on a freshly bootstrapped Debian 12.
set -euo pipefail
pkgs=(build-essential cmake libdnnl-dev ocl-icd-opencl-dev libhdf5-dev libopencv-dev
      libboost-program-options-dev libgtest-dev zlib1g-dev libssl-dev dataset-fashion-mnist
      libopenmpi-dev openmpi-bin)
case "${1:-}" in
  "") ;;
  --test) pkgs+=(clang libclang-rt-14-dev libomp-dev chromium fonts-liberation python3 python3-h5py) ;;
  --fresh-root) pkgs+=(mmdebstrap) ;;
  *) echo "install-deps.sh: unknown option '$1' (expected --test or --fresh-root)" >&2; exit 2 ;;
esac
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
