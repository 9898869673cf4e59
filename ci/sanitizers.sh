#!/usr/bin/env bash
# The sanitizer passes: `asan` (AddressSanitizer + UndefinedBehaviorSanitizer
# over every test, the chaos suite included) and `tsan` (ThreadSanitizer over
# the scheduler, agents, client, TLS and writer tests, and a board with two
# slots playing evals of one revision at once). Arguments pick the
# passes; none runs both. A sanitizer report fails its test (the presets abort
# on the first report).
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/bootstrap.sh
passes=("$@")
[ ${#passes[@]} -eq 0 ] && passes=(asan tsan)
for preset in "${passes[@]}"; do
  start=$(date +%s)
  cmake --preset "$preset" -DHIL_BUILD_TESTS=ON
  cmake --build --preset "$preset"
  # HIL_SANITIZERS_QUICK=1 leaves out the tests that take minutes (ci/test.sh).
  skip=()
  if [ "${HIL_SANITIZERS_QUICK:-0}" = 1 ]; then skip=(-LE chaos -E "null comparison|better passes|snowblind fails|the multi-camera sample"); fi
  ctest --preset "$preset" "${skip[@]}" 2>&1 | tee "build/ctest-$preset.log"
  echo "ci/sanitizers.sh: $preset pass took $(( $(date +%s) - start )) s"
done
