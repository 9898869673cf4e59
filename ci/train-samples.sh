#!/usr/bin/env bash
# Re-trains the multi-camera sample network's committed revisions
# (dual_engine/samples/tri-cam/*.onnx) with PyTorch. Not part of the demo or
# CI, which use the committed files; needs Debian's python3-torch and
# python3-onnx (installed here when missing) and a built `hil`.
#   bash ci/train-samples.sh [BUILD_DIR]   (about 15 min on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
missing=()
for p in python3-torch python3-onnx python3-numpy; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
samples=dual_engine/samples/tri-cam
work=${HIL_TRAIN_DIR:-build/train-tri-cam}
mkdir -p "$work"
# 300 tri-camera clips (seeds 5,000,000 on: apart from every suite's), every
# other frame of 24; pixels cropped and resized by hil's own preprocessing.
"$build/bin/hil" models dataset --interface "$samples/tri-cam.interface.textproto" \
  --out "$work/data" --clips 300 --frames 24 --stride 2 --seed 5000000
for run in base:1 base:2 base:3 better:1 better:2 nightblind:1 nightblind:2; do
  recipe=${run%:*}; seed=${run#*:}
  /usr/bin/python3 "$samples/train.py" --data "$work/data" --recipe "$recipe" --seed "$seed" \
    --out "$samples/$recipe-s$seed.onnx" | tail -n 2
done
