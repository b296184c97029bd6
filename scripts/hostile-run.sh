#!/usr/bin/env bash
# A quick glibc run of scenarios/hot-range-remote.toml on loopback with one real load worker, and
# hostile peers on its join port during the first load (docs/reliability.md "Hostile peers"):
#
#   scripts/hostile-run.sh endless [BIN]   two connections sending bytes without a newline for 6 s;
#                                          prints the coordinator's VmHWM after them
#   scripts/hostile-run.sh idle [BIN]      1,100 idle connections, the run under ulimit -n 1024
#
# Prints the flood's JSON line, the run's exit status and its last stderr lines.
set -euo pipefail
mode=$1
bin=${2:-target/debug/allocstorm}
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed -e "s/^listen = .*/listen = \"127.0.0.1:$port\"/" -e 's/^workers = 3$/workers = 1/' \
    -e 's/^join = .*/join = "30s"/' scenarios/hot-range-remote.toml >"$dir/remote.toml"
cp scenarios/variants.toml "$dir/"
export ALLOCSTORM_TOKEN=hostile-run-token
limit=$([ "$mode" = idle ] && echo 1024 || ulimit -n)
(ulimit -n "$limit"; exec "$bin" run --quick --quiet --variant glibc --scenario "$dir/remote.toml" \
    --out "$dir/out") >/dev/null 2>"$dir/run.err" &
run=$!
t0=$(date +%s.%N)
case $mode in
endless)
    python3 scripts/hostile-flood.py endless "$port" 2 6
    grep -E 'VmHWM|VmRSS' "/proc/$run/status" | tr -s ' \t' ' ' | paste -sd' '
    ;;
idle)
    python3 scripts/hostile-flood.py idle "$port" 1100 8 &
    flood=$!
    sleep 2 # the flood first: the worker arrives while it holds the port
    ;;
esac
"$bin" load-worker --connect "127.0.0.1:$port" --name real --wait 30s 2>"$dir/worker.err" &
status=0
wait "$run" || status=$?
echo "run exit status: $status, $(python3 -c "print(round($(date +%s.%N) - $t0, 1))") s after the flood began"
[ -n "${flood:-}" ] && wait "$flood"
grep -i -m 3 "descriptor" "$dir/run.err" || true
tail -n 4 "$dir/run.err"
grep -ho '"status": *"[a-z_]*"' "$dir"/out/runs/*.json 2>/dev/null | head -1 || true
