#!/usr/bin/env bash
# Installs what deconvscope needs from Debian 12's packages (idempotent: quick when
# everything is there). Runs apt-get as root, through sudo when not root.
#   tools/install-deps.sh          what building and running needs
#   tools/install-deps.sh --test   plus clang and libFuzzer (the fuzzing run) and h5py (the corruption campaign)
set -euo pipefail
pkgs=(build-essential cmake libdnnl-dev libhdf5-dev libopencv-dev libboost-program-options-dev
      libgtest-dev zlib1g-dev libssl-dev dataset-fashion-mnist)
[ "${1:-}" = "--test" ] && pkgs+=(clang libclang-rt-14-dev python3-h5py)  # h5py: tools/corrupt-campaign.py
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
