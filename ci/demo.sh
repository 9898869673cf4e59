#!/usr/bin/env bash
# The README's first command: install what is missing, build (Release), and
# gate a candidate revision against a baseline on a local emulated rack.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/bootstrap.sh
cmake --preset release -DHIL_BUILD_TESTS=OFF >/dev/null
cmake --build --preset release --target hil hil-viewer
rc=0
./build/release/bin/hil demo --dir hil-demo "$@" || rc=$?
case $rc in
  0) echo "demo: the gate passed (exit 0)";;
  1) echo "demo: the gate found a regression (exit 1)";;
  2) echo "demo: the gate is inconclusive (exit 2)";;
  4) echo "demo: the run cannot be judged: invalid (exit 4); see what to do next above"; exit 4;;
  *) echo "demo: infrastructure or input error (exit $rc)"; exit "$rc";;
esac
