#!/usr/bin/env bash
# Throughput of the three target-server binaries against nginx, serving the same 1 MiB range of
# the same file under the same wrk load, side by side in one run.
#
# Not a test and not a gate: it says how far the toy server is from a production static file
# server, so a reader knows what its allocation-heavy design costs. nginx serves the range with
# sendfile (zero-copy from the page cache); target-server, by design, mallocs a fresh 1 MiB
# buffer per request, preads into it and writes it out.
#
# Usage: target-server/bench/vs-nginx.sh
# Environment (defaults in brackets):
#   CONNECTIONS [64]  wrk connections       THREADS [2]   wrk threads
#   DURATION    [10s] wrk duration per run  WORKERS [nproc]  server workers, both servers
#   FILE_SIZE_MIB [8] size of the hot file   OUT_DIR [target/bench/vs-nginx/DATE-HOST]
# Needs wrk and nginx; installs them with apt-get when missing (as root, or through sudo).
set -euo pipefail

CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
DURATION=${DURATION:-10s}
WORKERS=${WORKERS:-$(nproc)}
FILE_SIZE_MIB=${FILE_SIZE_MIB:-8}
ROUNDS=${ROUNDS:-1}
RANGE_BYTES=1048576
ALLOCATORS=(glibc jemalloc mimalloc)

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT_DIR=${OUT_DIR:-$ROOT/target/bench/vs-nginx/$(date -u +%Y%m%dT%H%M%SZ)-$(hostname -s)}

log() { printf '%s\n' "$*" >&2; }
die() {
    log "vs-nginx: $*"
    exit 1
}

# --- tools ---------------------------------------------------------------------------------
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
find_nginx() { command -v nginx || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true; }
if ! command -v wrk >/dev/null || [ -z "$(find_nginx)" ]; then
    log "installing wrk and nginx with apt-get"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx-light ||
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx
fi
NGINX=$(find_nginx)
[ -n "$NGINX" ] || die "nginx is not installed and could not be installed"
command -v wrk >/dev/null || die "wrk is not installed and could not be installed"
command -v curl >/dev/null || die "curl is needed to check each server before loading it"

log "building target-server (release)"
(cd "$ROOT" && cargo build --release -p target-server --quiet)
BIN_DIR=$ROOT/target/release

# --- scratch space, cleaned up however the script ends ---------------------------------------
WORK=$(mktemp -d -t allocstorm-vs-nginx.XXXXXX)
# The one server running at a time; cleared once it has been stopped and reaped, so cleanup
# never signals a pid that may since have been reused.
SERVER_PID=""
stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}
cleanup() {
    stop_server
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$WORK/www" "$OUT_DIR"
head -c "$((FILE_SIZE_MIB << 20))" /dev/urandom >"$WORK/www/hot.bin"
# Both servers read from the page cache, never from disk.
cat "$WORK/www/hot.bin" >/dev/null

cat >"$WORK/range.lua" <<EOF
wrk.headers["Range"] = "bytes=0-$((RANGE_BYTES - 1))"

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d bytes=%d errors=%d non2xx=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, summary.bytes,
    e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
EOF

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
        echo 18080
}

# Waits until URL answers the range with 206 and exactly RANGE_BYTES bytes.
check_range() {
    local url=$1 out
    for _ in $(seq 1 100); do
        out=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' \
            -H "Range: bytes=0-$((RANGE_BYTES - 1))" "$url" || true)
        if [ "$out" = "206 $RANGE_BYTES" ]; then
            return 0
        fi
        sleep 0.1
    done
    die "$url does not answer the range with 206 and $RANGE_BYTES bytes (last: '$out')"
}

# run_wrk NAME URL ROUND: one wrk run; appends "NAME req/s MiB/s p50_ms p99_ms errors" to
# the results.
run_wrk() {
    local name=$1 url=$2 round=$3
    check_range "$url"
    log "wrk: $name, round $round/$ROUNDS, $CONNECTIONS connections, $THREADS threads, $DURATION"
    wrk -c "$CONNECTIONS" -t "$THREADS" -d "$DURATION" --latency -s "$WORK/range.lua" "$url" \
        >"$OUT_DIR/wrk-$name-$round.txt"
    awk -v name="$name" '/^RESULT/ {
        for (i = 2; i <= NF; i++) { split($i, kv, "="); r[kv[1]] = kv[2] }
        secs = r["duration_us"] / 1e6
        printf "%s %.1f %.1f %.1f %.1f %d\n", name, r["requests"] / secs,
            r["bytes"] / secs / 1048576, r["p50_us"] / 1000, r["p99_us"] / 1000,
            r["errors"] + r["non2xx"]
    }' "$OUT_DIR/wrk-$name-$round.txt" >>"$WORK/results"
}

# --- nginx, the reference ------------------------------------------------------------------
NGINX_PORT=$(free_port)
for d in client_body proxy fastcgi uwsgi scgi; do mkdir -p "$WORK/nginx/$d"; done
# Run as root, nginx's workers would drop to nobody, who cannot read the private scratch dir.
NGINX_USER=""
[ "$(id -u)" -eq 0 ] && NGINX_USER="user root;"
cat >"$WORK/nginx/nginx.conf" <<EOF
$NGINX_USER
daemon off;
master_process on;
worker_processes $WORKERS;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    client_body_temp_path $WORK/nginx/client_body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    types { application/octet-stream bin; }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $WORK/www;
    }
}
EOF
bench_nginx() {
    local round=$1
    "$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" &
    SERVER_PID=$!
    run_wrk nginx "http://127.0.0.1:$NGINX_PORT/hot.bin" "$round"
    stop_server
}

# --- the three target-server binaries ------------------------------------------------------
bench_target_server() {
    local alloc=$1 round=$2 bin addr=""
    bin=$BIN_DIR/target-server-$alloc
    "$bin" --file "$WORK/www/hot.bin" --workers "$WORKERS" >"$WORK/$alloc.out" 2>"$WORK/$alloc.err" &
    SERVER_PID=$!
    for _ in $(seq 1 100); do
        addr=$(sed -n '1s/^listening on //p' "$WORK/$alloc.out")
        [ -n "$addr" ] && break
        kill -0 "$SERVER_PID" 2>/dev/null || die "$bin exited: $(cat "$WORK/$alloc.err")"
        sleep 0.1
    done
    [ -n "$addr" ] || die "$bin printed no 'listening on' line"
    run_wrk "target-server-$alloc" "http://$addr/file/hot" "$round"
    curl -s "http://$addr/stats" >"$OUT_DIR/stats-$alloc-$round.json"
    stop_server
}

for round in $(seq 1 "$ROUNDS"); do
    bench_nginx "$round"
    for alloc in "${ALLOCATORS[@]}"; do
        bench_target_server "$alloc" "$round"
    done
done

# --- the table -----------------------------------------------------------------------------
# Per server, the run with the median req/s; errors summed over all rounds.
: >"$WORK/medians"
for name in nginx "${ALLOCATORS[@]/#/target-server-}"; do
    errors=$(awk -v n="$name" '$1 == n { e += $6 } END { print e + 0 }' "$WORK/results")
    awk -v n="$name" '$1 == n' "$WORK/results" | sort -k2,2 -g |
        awk -v e="$errors" '{ line[NR] = $0 } END { $0 = line[int((NR + 1) / 2)]; $6 = e; print }' \
            >>"$WORK/medians"
done
{
    echo "wrk -c $CONNECTIONS -t $THREADS -d $DURATION, Range: bytes=0-$((RANGE_BYTES - 1)) of a" \
        "$FILE_SIZE_MIB MiB file in the page cache; $WORKERS server workers; $(nproc) cores;" \
        "median of $ROUNDS round(s); $(uname -r); $("$NGINX" -v 2>&1 | sed 's/^nginx version: //');" \
        "$(wrk -v 2>&1 | head -1 | awk '{print $1, $2}')"
    echo
    awk 'NR == 1 { ref = $2 }
        BEGIN {
            print "| server | req/s | MiB/s | vs nginx | p50 ms | p99 ms | errors |"
            print "|---|---:|---:|---:|---:|---:|---:|"
        }
        { printf "| %s | %.0f | %.0f | %.2f | %.1f | %.1f | %d |\n", $1, $2, $3, $2 / ref, $4, $5, $6 }' \
        "$WORK/medians"
} | tee "$OUT_DIR/table.md"
cp "$WORK/results" "$OUT_DIR/runs.txt"
log "raw wrk output, /stats documents and every run: $OUT_DIR"
