#!/usr/bin/env bash
# The gate with its own exit code: a quick comparison, then `allocstorm gate` against the
# committed baselines. `make gate` runs this; through make any failure shows as exit 2, so a
# caller that branches on the verdict (.ci/run) runs this script itself.
#
#   scripts/gate.sh SCENARIO RUNS OUT
#
# Exit: the gate's — 0 pass, 1 regression, 2 harness or input error, 3 inconclusive.
# A comparison that ends 1 (a run failed) or 3 (a variant skipped) still goes on to the gate,
# which says what that means; any other comparison exit is returned as it is.
# Needs the allocstorm binary: $ALLOCSTORM, default target/release/allocstorm.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ $# -ne 3 ]; then
  echo "gate.sh: expected SCENARIO RUNS OUT, got $# argument(s)" >&2
  exit 2
fi
scenario=$1 runs=$2 out=$3
allocstorm=${ALLOCSTORM:-target/release/allocstorm}
if [ ! -x "$allocstorm" ]; then
  echo "gate.sh: $allocstorm is not built (make build)" >&2
  exit 2
fi

ALLOCSTORM=$allocstorm bash scripts/deps.sh --scenario "$scenario"
"$allocstorm" compare --scenario "$scenario" --variants all --runs "$runs" --quick --quiet --out "$out"
c=$?
case $c in
  0 | 1 | 3) ;;
  *) exit "$c" ;;
esac
exec "$allocstorm" gate --run "$out" --baseline baselines/ --markdown "$out/gate.md"
