#!/usr/bin/env bash
# The README's first command: install what is missing, build (Release), and
# gate a candidate revision against a baseline on a local emulated rack.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/bootstrap.sh
cmake --preset release -DHIL_BUILD_TESTS=OFF >/dev/null
cmake --build --preset release --target hil hil-viewer
./build/release/bin/hil demo --dir hil-demo "$@"
