#!/usr/bin/env bash
# Benchmark, not a test: how close `allocstorm load --rate max` comes to wrk against the same
# server, with the same connections, duration and range.
#
# The load client normally offers a fixed rate; this checks that its closed-loop ceiling is well
# above any rate a scenario asks for, i.e. that the client is not what limits a run. Client and
# server share the machine's cores, as they do in a run, so the numbers are relative.
#
# Usage: harness/bench/load-vs-wrk.sh
# Environment: CONNECTIONS (16), DURATION (seconds per run, 10), PROCESSES (allocstorm workers
# and wrk threads, 2), RANGE (0-1048575), FILE_SIZE (3MiB), ROUNDS (3).
#
# The two clients take turns, ROUNDS times, after a warm-up: on a small machine the server's
# throughput drifts (page cache, arenas, TCP buffers), and whichever client ran first on a cold
# server would look worse.
set -euo pipefail
cd "$(dirname "$0")/../.."

CONNECTIONS=${CONNECTIONS:-16}
DURATION=${DURATION:-10}
PROCESSES=${PROCESSES:-2}
RANGE=${RANGE:-0-1048575}
FILE_SIZE=${FILE_SIZE:-3MiB}
ROUNDS=${ROUNDS:-3}

if ! command -v wrk >/dev/null 2>&1; then
    echo "load-vs-wrk: installing wrk" >&2
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
    $sudo apt-get update -qq >&2
    $sudo apt-get install -y -qq wrk >&2
fi

cargo build --release --workspace >&2

tmp=$(mktemp -d)
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The server's first stdout line is `listening on IP:PORT`.
coproc SERVER { exec target/release/target-server-glibc --create-file "$FILE_SIZE" 2>"$tmp/server.err"; }
server_pid=$SERVER_PID
if ! read -r -t 30 first <&"${SERVER[0]}"; then
    echo "load-vs-wrk: the server did not start:" >&2
    cat "$tmp/server.err" >&2
    exit 1
fi
addr=${first#listening on }
url="http://$addr/file/hot"
echo "load-vs-wrk: server on $addr, $CONNECTIONS connections, ${DURATION}s, range $RANGE" >&2

cat >"$tmp/range.lua" <<LUA
wrk.headers["Range"] = "bytes=$RANGE"
LUA

run_wrk() {
    wrk -t "$PROCESSES" -c "$CONNECTIONS" -d "$1" -s "$tmp/range.lua" "$url" >"$tmp/wrk.txt"
    wrk_rps=$(awk '/^Requests\/sec:/ {print $2}' "$tmp/wrk.txt")
    wrk_bad=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$tmp/wrk.txt")
    wrk_errors=$(awk '/Socket errors:/ {print $0}' "$tmp/wrk.txt")
}
run_allocstorm() {
    target/release/allocstorm load --target "$url" --range "$RANGE" --processes "$PROCESSES" \
        --connections "$CONNECTIONS" --duration "${DURATION}s" --rate max --json >"$tmp/allocstorm.json"
    field() { grep -o "\"$1\":[0-9.eE+-]*" "$tmp/allocstorm.json" | head -1 | cut -d: -f2; }
    as_rps=$(field throughput_rps)
    as_errors=$(field errors)
    as_cpu=$(field client_cpu_s)
}

run_wrk 2s # warm-up, not reported

printf '%-6s %-12s %12s  %s\n' round client "req/s" notes
wrk_all=""
as_all=""
for round in $(seq "$ROUNDS"); do
    run_wrk "${DURATION}s"
    printf '%-6s %-12s %12.1f  %s\n' "$round" wrk "$wrk_rps" "non-2xx ${wrk_bad:-0}${wrk_errors:+; $wrk_errors}"
    run_allocstorm
    printf '%-6s %-12s %12.1f  %s\n' "$round" allocstorm "$as_rps" "errors $as_errors, client cpu $(printf %.2f "$as_cpu") s"
    wrk_all="$wrk_all $wrk_rps"
    as_all="$as_all $as_rps"
done
awk -v a="$as_all" -v w="$wrk_all" 'BEGIN {
    n = split(a, as, " "); split(w, ws, " ")
    for (i = 1; i <= n; i++) { sa += as[i]; sw += ws[i] }
    printf "mean   %-12s %12.1f\nmean   %-12s %12.1f\nratio allocstorm/wrk: %.2f\n", "wrk", sw / n, "allocstorm", sa / n, sa / sw
}'
