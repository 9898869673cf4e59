#!/usr/bin/env bash
# The README's second command (and .ci/run): install what is missing, build
# everything, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash ci/bootstrap.sh
cmake --preset release -DHIL_BUILD_TESTS=ON
cmake --build --preset release
ctest --preset release
echo "ci/test.sh: build and tests took $(( $(date +%s) - start )) s"
