#!/usr/bin/env bash
# Installs hil's build and test dependencies from Debian 12's packages.
# Idempotent: does nothing (not even apt-get update) when all are present.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libboost-dev libboost-system-dev          # Boost.Asio
  libprotobuf-dev protobuf-compiler         # wire, clip and config formats
  libsqlite3-dev sqlite3                    # results database (+ the CLI for inspection)
  catch2                                    # tests (Catch2 v2)
  libcli11-dev libfmt-dev                   # command line, formatting
  libssl-dev zlib1g-dev                     # SHA-256/HMAC/TLS, CRC32 and compression
  libonnx-dev libonnx-testdata              # ONNX checker, shape inference; conformance data
  libopencv-dnn-dev libopencv-core-dev      # CPU execution of ONNX on emulated boards
  libopencv-imgcodecs-dev libopencv-imgproc-dev libopencv-videoio-dev   # JPEG/PNG frames, resizing, video import
  qt6-base-dev qt6-charts-dev libqt6opengl6-dev qt6-qpa-plugins libgl-dev   # hil-viewer (offscreen platform for tests)
  xvfb xauth                                # a real X server for GUI checks by hand
  libxml2-utils                             # xmllint: tests validate the JUnit reports against the schema
  slurm-wlm munge                           # tests/integration/test_slurm.cpp: a one-node Slurm cluster (hil rack slurm)
  clang libclang-rt-14-dev                  # CI's fuzz pass: clang++ 14, libFuzzer and clang's sanitizer runtimes
  clang-format                              # CI's format pass (clang-format 14, .clang-format)
  python3-yaml                              # tests/deploy/check_deploy.py: the Kubernetes manifests
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "bootstrap: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "bootstrap: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
