#!/usr/bin/env bash
# The sanitizer passes, by hand: `asan` (AddressSanitizer + UndefinedBehavior-
# Sanitizer over every test, the chaos suite and the integration tests
# included), `tsan` (ThreadSanitizer over the scheduler, agents, client, TLS,
# writer and runtime tests, and a board with two slots playing evals of one
# revision at once) and `fuzz` (the libFuzzer targets, clang). Arguments pick
# the passes; none runs asan and tsan. A sanitizer report fails its test (the
# presets abort on the first report). HIL_SANITIZERS_QUICK=1 runs what CI's
# asan pass runs (ci/test.sh; docs/testing.md) instead of every test.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash ci/bootstrap.sh
# shellcheck source=ci/passes.sh
source ci/passes.sh
passes=("$@")
[ ${#passes[@]} -eq 0 ] && passes=(asan tsan)
CI_CONFIGURE_ARGS=()
CI_REPORTS=""
CI_AFTER=""
for pass in "${passes[@]}"; do
  case "$pass" in
    asan)
      if [ "${HIL_SANITIZERS_QUICK:-0}" = 1 ]; then
        ci_ctest_pass asan asan asan-ci asan-ci
      else
        ci_ctest_pass asan asan asan asan
      fi
      ;;
    tsan) ci_ctest_pass tsan tsan tsan tsan ;;
    fuzz) ci_ctest_pass fuzz fuzz fuzz fuzz ;;
    *)
      echo "ci/sanitizers.sh: unknown pass $pass (asan, tsan or fuzz)" >&2
      exit 2
      ;;
  esac
done
ci_summary $(($(date +%s) - start)) "$(ci_cpu_s)"
