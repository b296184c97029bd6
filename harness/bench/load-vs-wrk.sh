#!/usr/bin/env bash
# Benchmark, not a test: how close `allocstorm load --rate max` comes to wrk against the same
# server, with the same connections, duration and range, and what each client costs in CPU.
#
# The load client normally offers a fixed rate; this checks that its closed-loop ceiling is well
# above any rate a scenario asks for, i.e. that the client is not what limits a run, and that it
# takes no more of the shared cores per response than wrk does. Client and server share the
# machine's cores, as they do in a run, so the numbers are relative.
#
# Usage: harness/bench/load-vs-wrk.sh
# Environment: CONNECTIONS (8, in total: wrk -c, allocstorm --connections), DURATION (seconds
# per run, 10), PROCESSES (allocstorm workers and wrk threads, 2), RANGE (0-1048575), FILE_SIZE
# (3MiB), ROUNDS (3), CARGO_TARGET_DIR (target). BASELINE: another allocstorm binary (say one
# built from main) that then takes its turn in every round too, so a change to the client is
# measured against the old one on the same server in the same run.
#
# The two clients take turns, ROUNDS times, after a warm-up: on a small machine the server's
# throughput drifts (page cache, arenas, TCP buffers), and whichever client ran first on a cold
# server would look worse.
#
# Client CPU is measured the same way for both: the user + system time of this shell's reaped
# children (cutime + cstime in /proc/$$/stat, read with the `read` builtin so nothing is forked
# in between) before and after the client's command. The kernel adds a child's time, and that
# of the children it reaped, when the child is reaped: wrk's threads, and allocstorm's parent
# with its load-worker processes (which it reaps before exiting), start-up included. The server
# is a child too but is not reaped until the end, so it is never counted. It is divided by the
# client's ok responses: wrk's requests minus its non-2xx, allocstorm's `ok` (every response
# with status 206 and exactly the range's bytes, including the few finished after the stop, as
# wrk counts none of those).
set -euo pipefail
cd "$(dirname "$0")/../.."

CONNECTIONS=${CONNECTIONS:-8}
DURATION=${DURATION:-10}
PROCESSES=${PROCESSES:-2}
RANGE=${RANGE:-0-1048575}
FILE_SIZE=${FILE_SIZE:-3MiB}
ROUNDS=${ROUNDS:-3}
bin=${CARGO_TARGET_DIR:-target}/release

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

clk_tck=$(getconf CLK_TCK)
# Ticks of CPU time (user + system) of this shell's reaped children, into $1.
children_ticks() {
    local stat
    read -r stat </proc/$$/stat
    # Fields after the command name, which may hold spaces: state is [0], cutime [13], cstime [14].
    local -a f
    read -r -a f <<<"${stat##*) }"
    printf -v "$1" '%d' $((f[13] + f[14]))
}

# The server's first stdout line is `listening on IP:PORT`.
coproc SERVER { exec "$bin/target-server-glibc" --create-file "$FILE_SIZE" 2>"$tmp/server.err"; }
server_pid=$SERVER_PID
if ! read -r -t 30 first <&"${SERVER[0]}"; then
    echo "load-vs-wrk: the server did not start:" >&2
    cat "$tmp/server.err" >&2
    exit 1
fi
addr=${first#listening on }
url="http://$addr/file/hot"
echo "load-vs-wrk: server on $addr; $PROCESSES processes/threads, $CONNECTIONS connections," \
    "${DURATION}s, range $RANGE of $FILE_SIZE, $ROUNDS rounds" >&2

cat >"$tmp/range.lua" <<LUA
wrk.headers["Range"] = "bytes=$RANGE"
LUA

run_wrk() {
    local before after
    children_ticks before
    wrk -t "$PROCESSES" -c "$CONNECTIONS" -d "$1" -s "$tmp/range.lua" "$url" >"$tmp/wrk.txt"
    children_ticks after
    wrk_cpu=$(awk -v t=$((after - before)) -v hz="$clk_tck" 'BEGIN {print t / hz}')
    wrk_rps=$(awk '/^Requests\/sec:/ {print $2}' "$tmp/wrk.txt")
    wrk_bad=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$tmp/wrk.txt")
    wrk_errors=$(awk '/Socket errors:/ {print $0}' "$tmp/wrk.txt")
    local requests
    requests=$(awk '/ requests in / {print $1}' "$tmp/wrk.txt")
    wrk_ok=$((requests - ${wrk_bad:-0}))
}
run_allocstorm() {
    local exe=$1 before after
    children_ticks before
    "$exe" load --target "$url" --range "$RANGE" --processes "$PROCESSES" \
        --connections "$CONNECTIONS" --duration "${DURATION}s" --rate max --json >"$tmp/allocstorm.json"
    children_ticks after
    as_cpu=$(awk -v t=$((after - before)) -v hz="$clk_tck" 'BEGIN {print t / hz}')
    # The summary's own keys come before its `workers` and `per_second`, which repeat some.
    field() { grep -o "\"$1\":[0-9.eE+-]*" "$tmp/allocstorm.json" | head -1 | cut -d: -f2; }
    as_rps=$(field throughput_rps)
    as_ok=$(field ok)
    as_errors=$(field errors)
    as_worker_cpu=$(field client_cpu_s)
}
per_1000() { awk -v c="$1" -v n="$2" 'BEGIN {printf "%.3f", (n > 0 ? 1000 * c / n : 0)}'; }

run_wrk 2s # warm-up, not reported

printf '%-6s %-12s %10s %8s %10s %10s  %s\n' round client "req/s" ok "cpu s" "cpu/1000" notes
wrk_all=""
as_all=""
base_all=""
for round in $(seq "$ROUNDS"); do
    run_wrk "${DURATION}s"
    printf '%-6s %-12s %10.1f %8d %10.2f %10s  %s\n' "$round" wrk "$wrk_rps" "$wrk_ok" "$wrk_cpu" \
        "$(per_1000 "$wrk_cpu" "$wrk_ok")" "non-2xx ${wrk_bad:-0}${wrk_errors:+; $wrk_errors}"
    wrk_all="$wrk_all $wrk_rps/$wrk_cpu/$wrk_ok"
    for client in allocstorm ${BASELINE:+baseline}; do
        exe="$bin/allocstorm"
        if [ "$client" = baseline ]; then exe=$BASELINE; fi
        run_allocstorm "$exe"
        printf '%-6s %-12s %10.1f %8d %10.2f %10s  %s\n' "$round" "$client" "$as_rps" "$as_ok" \
            "$as_cpu" "$(per_1000 "$as_cpu" "$as_ok")" \
            "errors $as_errors; workers' own cpu $(printf %.2f "$as_worker_cpu") s"
        if [ "$client" = baseline ]; then
            base_all="$base_all $as_rps/$as_cpu/$as_ok"
        else
            as_all="$as_all $as_rps/$as_cpu/$as_ok"
        fi
    done
done
# Means: req/s over rounds; CPU per 1000 responses as total CPU over total responses.
awk -v a="$as_all" -v w="$wrk_all" -v b="$base_all" '
function mean(list, name,    n, i, x, r, c, o) {
    n = split(list, runs, " ")
    for (i = 1; i <= n; i++) { split(runs[i], x, "/"); r += x[1]; c += x[2]; o += x[3] }
    rps[name] = r / n; cpu[name] = 1000 * c / o
    printf "%-22s %12.1f %26.3f\n", name, rps[name], cpu[name]
}
BEGIN {
    printf "\n%-22s %12s %26s\n", "client", "mean req/s", "client cpu s / 1000 ok"
    mean(w, "wrk"); mean(a, "allocstorm")
    if (b != "") mean(b, "baseline")
    printf "%-22s %12.2f %26.2f\n", "ratio allocstorm/wrk", rps["allocstorm"] / rps["wrk"],
        cpu["allocstorm"] / cpu["wrk"]
    if (b != "")
        printf "%-22s %12.2f %26.2f\n", "ratio baseline/wrk", rps["baseline"] / rps["wrk"],
            cpu["baseline"] / cpu["wrk"]
}'
