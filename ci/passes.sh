# CI passes, sourced by ci/test.sh and ci/sanitizers.sh (not run on its own).
# A pass configures its own build folder (build/<configure preset>), builds
# what it needs, runs its tests with ctest and records the tests run, skipped
# and failed, and the wall and CPU seconds of its build and of its tests.
# Nothing is shared between passes but the sources. `ci_summary` prints the
# table and the closing line, and returns non-zero when any pass failed.

CI_NAMES=()
CI_STATUS=()
CI_RUN=()
CI_SKIPPED=()
CI_FAILED=()
CI_BUILD_S=()
CI_BUILD_CPU=()
CI_TEST_S=()
CI_TEST_CPU=()
CI_NOTE=()

ci_banner() { printf '\n=== %s ===\n' "$*"; }

# CPU seconds (user + system) used so far by this shell's finished children,
# builds and tests. Beside the wall time it says how much of a pass was
# waiting, and roughly what the pass takes alone on the machine.
ci_cpu_s() {
  local st
  read -r -a st </proc/$$/stat || {
    echo 0
    return
  }
  echo $(((st[15] + st[16]) / $(getconf CLK_TCK)))
}

# ci_record NAME STATUS RUN SKIPPED FAILED BUILD_S BUILD_CPU TEST_S TEST_CPU NOTE
ci_record() {
  CI_NAMES+=("$1")
  CI_STATUS+=("$2")
  CI_RUN+=("$3")
  CI_SKIPPED+=("$4")
  CI_FAILED+=("$5")
  CI_BUILD_S+=("$6")
  CI_BUILD_CPU+=("$7")
  CI_TEST_S+=("$8")
  CI_TEST_CPU+=("$9")
  CI_NOTE+=("${10}")
  echo "ci: pass $1: $2; tests $3 (passed $(($3 - $4 - $5 < 0 ? 0 : $3 - $4 - $5)), skipped $4, failed $5);" \
    "build $6 s (CPU $7 s), tests $8 s" \
    "(CPU $9 s), pass $(($6 + $8)) s${10:+; ${10}}"
}

# Counts from a ctest log: sets ct_total, ct_failed, ct_skipped. A log without
# ctest's closing line (ctest did not run, or found no test) counts 0 of 0.
ci_ctest_counts() {
  local log=$1
  ct_total=$(sed -n 's/.* tests failed out of \([0-9][0-9]*\).*/\1/p' "$log" | tail -1)
  ct_failed=$(sed -n 's/.* \([0-9][0-9]*\) tests failed out of.*/\1/p' "$log" | tail -1)
  ct_skipped=$(grep -cE '^[[:space:]]*[0-9]+ - .* \((Skipped|Disabled)\)$' "$log" || true)
  ct_total=${ct_total:-0}
  ct_failed=${ct_failed:-0}
}

# Sanitizer reports written with log_path=<dir>/<tool>.<pid> (a file per
# process that wrote anything). A file with a report (not only, say, LSan's
# list of suppressions used) is printed and counted; returns the count (at
# most 100).
ci_sanitizer_reports() {
  local dir=$1 n=0 f
  [ -d "$dir" ] || return 0
  for f in "$dir"/*; do
    [ -e "$f" ] || continue
    grep -qE 'ERROR: [A-Za-z]+Sanitizer|WARNING: ThreadSanitizer|runtime error:|SUMMARY: [A-Za-z]+Sanitizer' "$f" ||
      continue
    n=$((n + 1))
    echo "ci: sanitizer report $f:"
    head -c 20000 "$f"
    echo
  done
  [ "$n" -le 100 ] || n=100
  return "$n"
}

# ci_ctest_pass NAME CONFIGURE_PRESET BUILD_PRESET TEST_PRESET [ctest args...]
# Extra configure arguments come from the array CI_CONFIGURE_ARGS; a folder
# for sanitizer reports (any file in it fails the pass) from CI_REPORTS; a
# command to run after the tests, within the pass (the Release pass's gate),
# from CI_AFTER: it counts as one test more, and its failure fails the pass.
# A command to run in the background while the tests run, from
# CI_DURING_TESTS (the next pass's build, at the lowest priority: it takes
# only the CPU the tests leave idle, as during the serial chaos test); the
# pass waits for it at the end, and its output goes to build/during-<name>.log.
# Times: build = configure + build; tests = ctest + CI_AFTER.
ci_ctest_pass() {
  local name=$1 cpreset=$2 bpreset=$3 tpreset=$4
  shift 4
  local dir=build/$cpreset
  local t0 t1 t2 c0 c1 c2 status=passed note="" rc=0 reports=0
  ci_banner "pass $name: cmake --preset $cpreset, cmake --build --preset $bpreset, ctest --preset $tpreset $*"
  t0=$(date +%s)
  c0=$(ci_cpu_s)
  mkdir -p build
  if ! cmake --preset "$cpreset" -DHIL_BUILD_TESTS=ON "${CI_CONFIGURE_ARGS[@]}" ||
    ! cmake --build --preset "$bpreset"; then
    t1=$(date +%s)
    c1=$(ci_cpu_s)
    ci_record "$name" FAILED 0 0 1 $((t1 - t0)) $((c1 - c0)) 0 0 "build failed"
    return 0
  fi
  t1=$(date +%s)
  c1=$(ci_cpu_s)
  if [ -n "${CI_REPORTS:-}" ]; then
    rm -rf "$CI_REPORTS"
    mkdir -p "$CI_REPORTS"
  fi
  local during_pid=""
  if [ -n "${CI_DURING_TESTS:-}" ]; then
    $CI_DURING_TESTS >"build/during-$name.log" 2>&1 &
    during_pid=$!
  fi
  ctest --preset "$tpreset" "$@" 2>&1 | tee "$dir/ctest.log" || rc=$?
  ci_ctest_counts "$dir/ctest.log"
  if [ "$ct_total" -eq 0 ]; then
    status=FAILED note="ctest ran no test (exit $rc)"
    ct_failed=1
  elif [ "$ct_failed" -gt 0 ] || [ "$rc" -ne 0 ]; then
    status=FAILED
    [ "$ct_failed" -gt 0 ] || {
      ct_total=$((ct_total + 1)) ct_failed=1
      note="ctest exit $rc"
    }
  fi
  if [ -n "${CI_AFTER:-}" ]; then
    ct_total=$((ct_total + 1))
    if ! $CI_AFTER; then
      status=FAILED
      note="${note:+$note; }$CI_AFTER failed"
      ct_failed=$((ct_failed + 1))
    fi
  fi
  if [ -n "$during_pid" ]; then
    # Its failure is not this pass's: the next pass builds again and says why.
    wait "$during_pid" || echo "ci: the background build failed (build/during-$name.log); its pass retries"
  fi
  t2=$(date +%s)
  c2=$(ci_cpu_s)
  if [ -n "${CI_REPORTS:-}" ]; then
    ci_sanitizer_reports "$CI_REPORTS" || reports=$?
    if [ "$reports" -gt 0 ]; then
      status=FAILED
      note="${note:+$note; }$reports sanitizer report(s) in $CI_REPORTS"
      # Reports from processes whose tests still passed (child processes)
      # count as one failed check more.
      [ "$ct_failed" -gt 0 ] || ct_total=$((ct_total + 1)) ct_failed=1
    fi
  fi
  ci_record "$name" "$status" "$ct_total" "$ct_skipped" "$ct_failed" \
    $((t1 - t0)) $((c1 - c0)) $((t2 - t1)) $((c2 - c1)) "$note"
}

# The format check: clang-format --dry-run -Werror over every C++ file git
# knows. Counts as one test; prints the files that differ.
ci_format_pass() {
  local t0 c0 rc=0 n bad
  ci_banner "pass format: clang-format --dry-run -Werror over git ls-files '*.cpp' '*.h'"
  t0=$(date +%s)
  c0=$(ci_cpu_s)
  mkdir -p build
  if ! command -v clang-format >/dev/null || ! git rev-parse --git-dir >/dev/null 2>&1; then
    ci_record format FAILED 1 0 1 0 0 0 0 "needs clang-format and a git checkout"
    return 0
  fi
  clang-format --version
  mapfile -t files < <(git ls-files '*.cpp' '*.h')
  n=${#files[@]}
  clang-format --dry-run -Werror "${files[@]}" 2>build/format.log || rc=$?
  bad=$(sed -n 's/^\(.*\):[0-9]*:[0-9]*: error: code should be clang-formatted.*/\1/p' build/format.log | sort -u)
  if [ "$rc" -ne 0 ]; then
    echo "ci: these files differ from clang-format (clang-format -i FILE, then check the diff):"
    if [ -n "$bad" ]; then printf '  %s\n' $bad; else head -50 build/format.log; fi
    ci_record format FAILED 1 0 1 0 0 $(($(date +%s) - t0)) $(($(ci_cpu_s) - c0)) \
      "$(printf '%s\n' $bad | grep -c . || true) of $n files differ"
  else
    echo "ci: all $n files match clang-format"
    ci_record format passed 1 0 0 0 0 $(($(date +%s) - t0)) $(($(ci_cpu_s) - c0)) "$n files match"
  fi
}

ci_skip_pass() {
  ci_banner "pass $1: skipped ($2)"
  ci_record "$1" skipped 0 0 0 0 0 0 0 "$2"
}

# The table, then the closing line CI reads: "N passed, M failed, K skipped",
# summed over the passes (the gate and the format check count as one test
# each; a failed build, or sanitizer reports from processes whose tests
# passed, as one failed test). Returns 1 when any pass failed.
ci_summary() {
  local total_s=$1 total_cpu=$2 i p passed=0 failed=0 skipped=0 tests=0 bad=0
  local fmt='%-8s %-7s %5s %6s %7s %6s %6s %9s %6s %9s %6s  %s\n'
  ci_banner "summary (seconds; CPU: user + system of the pass's processes)"
  # shellcheck disable=SC2059
  printf "$fmt" pass status tests passed skipped failed build build_cpu tests tests_cpu total note
  for i in "${!CI_NAMES[@]}"; do
    p=$((CI_RUN[i] - CI_SKIPPED[i] - CI_FAILED[i]))
    [ "$p" -ge 0 ] || p=0
    # shellcheck disable=SC2059
    printf "$fmt" "${CI_NAMES[$i]}" "${CI_STATUS[$i]}" "${CI_RUN[$i]}" "$p" "${CI_SKIPPED[$i]}" \
      "${CI_FAILED[$i]}" "${CI_BUILD_S[$i]}" "${CI_BUILD_CPU[$i]}" "${CI_TEST_S[$i]}" \
      "${CI_TEST_CPU[$i]}" $((CI_BUILD_S[i] + CI_TEST_S[i])) "${CI_NOTE[$i]}"
    tests=$((tests + CI_RUN[i]))
    passed=$((passed + p))
    failed=$((failed + CI_FAILED[i]))
    skipped=$((skipped + CI_SKIPPED[i]))
    [ "${CI_STATUS[$i]}" != FAILED ] || bad=1
  done
  # shellcheck disable=SC2059
  printf "$fmt" all "$([ $bad = 0 ] && echo passed || echo FAILED)" "$tests" "$passed" "$skipped" \
    "$failed" "" "" "" "" "$total_s" "whole run, bootstrap included; CPU $total_cpu s"
  [ "$bad" = 0 ] || [ "$failed" -gt 0 ] || failed=1
  echo "$passed passed, $failed failed, $skipped skipped"
  return "$bad"
}
