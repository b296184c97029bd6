# Sourced by the container tests (docker-test.sh, compose-test.sh): one line per check, a
# count, and the same ending. The caller sets CHECKS (its name), T0 (its start, date +%s) and
# TMPD (its directory under reports/, removed when every check passed), sources dockerd.sh
# first, and calls `checks_end "$code"` last in its EXIT trap, after its own clean-up.

passed=0
failed=0
say() { echo "$CHECKS: $*"; }
pass() {
  passed=$((passed + 1))
  say "ok: $*"
}
fail() {
  failed=$((failed + 1))
  say "FAILED: $*" >&2
}
elapsed() { echo $(($(date +%s) - $1)); }
bounded() { timeout --kill-after=10 "$@"; }

# Stops here: the checks that need what failed cannot run. The EXIT trap prints the counts.
abort() {
  fail "$*"
  exit 1
}

# Stops the dockerd this test started, keeps TMPD when something failed, prints the counts
# (`NAME: N passed, M failed`, the last line) and exits: 1 when a check failed, else `code`.
checks_end() {
  local code=$1
  dockerd_stop | sed "s/^/$CHECKS: /"
  if [ "$failed" -eq 0 ] && [ "$code" -eq 0 ]; then
    rm -rf "$TMPD"
  else
    say "kept the logs and report in $TMPD" >&2
  fi
  say "took $(elapsed "$T0") s"
  echo "$CHECKS: $passed passed, $failed failed"
  if [ "$failed" -gt 0 ] && [ "$code" -eq 0 ]; then code=1; fi
  exit "$code"
}
