#!/usr/bin/env bash
# The [remote] topology for real on one host (`make compose-test`): deploy/compose/compose.yaml
# with Debian's docker-compose, the image of docker/, a coordinator container and the
# scenario's [remote] workers count of load-worker containers on a private network of their
# own (198.18.0.0/24, internal). The same topology as `allocstorm manifests` (docs/cluster.md).
#
#  1. installs Debian's docker.io, docker-compose and mmdebstrap when missing (scripts/apt.sh);
#  2. starts dockerd when no daemon answers, and stops the one it started when it ends
#     (scripts/dockerd.sh);
#  3. builds allocstorm:bookworm (scripts/docker.sh image: every layer cached after
#     `make docker-test`, a few seconds; from nothing about 9 min);
#  4. runs glibc and glibc-mmap64k of scenarios/hot-range-remote.toml, --quick --runs 1, as
#     `docker-compose up --scale worker=N --exit-code-from coordinator`, into a temporary
#     directory under reports/, as uid 4242 when run as root (else yours);
#  5. checks, on the host: the report's files; both variants ok; glibc's RSS after drain above
#     glibc-mmap64k's; in every run record, each load's merged figures (ok, requests, bytes,
#     errors, client CPU) the sums over its N workers, each worker with ok responses of its
#     own, and the load's target an address of the private network, not loopback;
#  6. removes every container and the network, also on failure or interrupt (EXIT trap), and
#     checks that none is left.
#
# Prints one line per check and, last, `compose-test: N passed, M failed`; exits 1 if a check
# failed (keeping its directory under reports/, and saying where), 0 otherwise (removing it).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$ROOT"
IMAGE=${ALLOCSTORM_IMAGE:-allocstorm:bookworm}
SCENARIO=scenarios/hot-range-remote.toml
VARIANTS=glibc,glibc-mmap64k
COMPOSE_FILE=deploy/compose/compose.yaml
T0=$(date +%s)
TMPD=$ROOT/reports/compose-test-$(date -u +%Y%m%d-%H%M%S)-$$
LOGS=$TMPD/logs
PROJECT=allocstorm-compose-test-$$
mkdir -p "$LOGS"
# Every docker-compose command reads the file, whose ${ALLOCSTORM_TOKEN:?} must be set (also
# for `down`).
ALLOCSTORM_TOKEN=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
export ALLOCSTORM_TOKEN

CHECKS=compose-test
# shellcheck source=scripts/checks.sh
. "$ROOT/scripts/checks.sh"
compose() { bounded "$1" docker-compose --ansi never -p "$PROJECT" -f "$COMPOSE_FILE" "${@:2}"; }

# shellcheck source=scripts/dockerd.sh
. "$ROOT/scripts/dockerd.sh"

# What this test made on the daemon: its project's containers and networks.
leftovers() {
  {
    bounded 20 "$DOCKER" ps -aq --filter "label=com.docker.compose.project=$PROJECT"
    bounded 20 "$DOCKER" network ls -q --filter "label=com.docker.compose.project=$PROJECT"
  } 2>&1 | tr '\n' ' ' | sed 's/ *$//'
}

cleaned=
cleanup() {
  [ -z "$cleaned" ] || return 0
  cleaned=1
  if [ -n "${DOCKER:-}" ] && command -v docker-compose >/dev/null 2>&1 && dockerd_up 10; then
    compose 120 down --volumes --remove-orphans --timeout 10 >"$LOGS/down.log" 2>&1 ||
      say "docker-compose down failed (log: $LOGS/down.log)" >&2
    local left
    left=$(leftovers)
    if [ -n "$left" ]; then
      say "removing what docker-compose down left: $left" >&2
      # shellcheck disable=SC2086 # one id a word
      bounded 30 "$DOCKER" rm -f $left >/dev/null 2>&1 || true
      # shellcheck disable=SC2086
      bounded 30 "$DOCKER" network rm $left >/dev/null 2>&1 || true
    fi
  fi
}

finish() {
  local code=$?
  trap - EXIT INT TERM HUP
  cleanup
  checks_end "$code"
}
trap finish EXIT
trap 'fail "interrupted"; exit 130' INT
trap 'fail "terminated"; exit 143' TERM HUP

# 1. Debian's docker.io, docker-compose (1.29, python) and mmdebstrap.
t=$(date +%s)
if (
  # shellcheck source=scripts/apt.sh
  . "$ROOT/scripts/apt.sh"
  apt_ensure compose-test "this test needs a Debian-like host (docker.io, docker-compose, mmdebstrap)" \
    docker.io docker-compose mmdebstrap
) >"$LOGS/apt.log" 2>&1; then
  sed 's/^/  /' "$LOGS/apt.log"
  pass "docker.io, docker-compose and mmdebstrap installed ($(elapsed "$t") s; $(docker-compose version --short 2>/dev/null || echo '?'))"
else
  cat "$LOGS/apt.log" >&2
  abort "installing docker.io, docker-compose and mmdebstrap"
fi

docker_client || abort "no docker client after installing docker.io"

# 2. The daemon.
if dockerd_ensure "$LOGS"; then pass "$DOCKERD_WHAT"; else abort "no Docker daemon"; fi

# 3. The image (the base made with mmdebstrap by docker.sh where no registry answers).
t=$(date +%s)
say "building $IMAGE (log: $LOGS/build.log)"
if bounded 3600 bash scripts/docker.sh image >"$LOGS/build.log" 2>&1; then
  pass "$IMAGE built ($(elapsed "$t") s)"
else
  tail -40 "$LOGS/build.log" >&2
  abort "building $IMAGE (log: $LOGS/build.log)"
fi

# 4. The comparison over the compose network.
workers=$(python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["remote"]["workers"])' "$SCENARIO")
port=$(python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["remote"]["listen"].rsplit(":", 1)[1])' "$SCENARIO")
if [ "$(id -u)" -eq 0 ]; then uid=4242 gid=4242; else uid=$(id -u) gid=$(id -g); fi
REPORTS=$TMPD/reports
REPORT=$REPORTS/remote
mkdir -p "$REPORTS"
[ "$(id -u)" -ne 0 ] || chown "$uid:$gid" "$REPORTS"
t=$(date +%s)
say "running $VARIANTS of $SCENARIO --quick --runs 1 with $workers load-worker containers (log: $LOGS/compose.log)"
set +e
ALLOCSTORM_IMAGE=$IMAGE ALLOCSTORM_UID=$uid ALLOCSTORM_GID=$gid ALLOCSTORM_REPORTS=$REPORTS \
  SCENARIO=$SCENARIO VARIANTS=$VARIANTS RUNS=1 QUICK=--quick OUT=reports/remote REMOTE_PORT=$port \
  compose 600 up --scale "worker=$workers" --exit-code-from coordinator >"$LOGS/compose.log" 2>&1
code=$?
set -e
if [ "$code" -eq 0 ]; then
  pass "docker-compose up: the coordinator exited 0 ($(elapsed "$t") s)"
else
  tail -40 "$LOGS/compose.log" >&2
  fail "docker-compose up exited $code (log: $LOGS/compose.log)"
fi
grep -E 'coordinator_1 +\| +(variant|glibc)' "$LOGS/compose.log" | sed 's/^/  /' || true
started=$(grep -oE "^(Creating|Starting) ${PROJECT}_worker_[0-9]+" "$LOGS/compose.log" | awk '{print $2}' | sort -u | wc -l)
if [ "$started" -eq "$workers" ]; then
  pass "$workers load-worker containers started"
else
  fail "$started load-worker containers started, want $workers (log: $LOGS/compose.log)"
fi

# 5. The report, on the host.
for f in report.md rss-timeline.png rss-summary.png summary.json; do
  if [ -s "$REPORT/$f" ]; then pass "$f is there ($(wc -c <"$REPORT/$f") bytes)"; else fail "$REPORT/$f is missing or empty"; fi
done
if [ -s "$REPORT/summary.json" ]; then
  checks=$(python3 - "$REPORT" "$workers" "$VARIANTS" <<'EOF' 2>&1
import ipaddress, json, math, pathlib, sys, urllib.parse

report, workers, variants = pathlib.Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3].split(",")
s = json.load(open(report / "summary.json"))
v = {x.get("name"): x for x in s.get("variants", [])}
mib = lambda b: f"{b / 2**20:.1f} MiB" if isinstance(b, (int, float)) else repr(b)

def check(ok, what):
    print(("ok " if ok else "FAILED ") + what)

st = {n: v.get(n, {}).get("status") for n in variants}
check(all(x == "ok" for x in st.values()), f"summary.json: both variants ok ({st})")
a = v.get("glibc", {}).get("rss_after_drain_bytes")
b = v.get("glibc-mmap64k", {}).get("rss_after_drain_bytes")
check(isinstance(a, int) and isinstance(b, int) and a > b,
      f"RSS after drain: glibc {mib(a)} > glibc-mmap64k {mib(b)} (incident 000 reproduces with remote load)")

# Every load of a run: the merged figures against the sum over its workers.
def loads(rec):
    if isinstance(rec.get("load"), dict):
        yield "during", rec["load"]
    for p in rec.get("phase_loads") or []:
        if isinstance(p, dict) and isinstance(p.get("summary"), dict):
            yield p.get("phase", "?"), p["summary"]

bench = ipaddress.ip_network("198.18.0.0/15")
for n in variants:
    path = report / "runs" / f"{n}-1.json"
    try:
        rec = json.load(open(path))
    except Exception as e:
        check(False, f"{path.name}: {e}")
        continue
    seen = 0
    for phase, load in loads(rec):
        ws = load.get("workers") or []
        host = urllib.parse.urlsplit(load.get("target", "")).hostname or ""
        try:
            on_bench = ipaddress.ip_address(host) in bench
        except ValueError:
            on_bench = False
        if phase != "during" and not (ws and on_bench):
            continue  # a trickle (warmup, nudge) that the coordinator sent itself, on loopback
        seen += 1
        what = f"{n} {phase}"
        check(len(ws) == workers and sorted(w.get("index") for w in ws) == list(range(workers)),
              f"{what}: {len(ws)} workers, indices {sorted(w.get('index') for w in ws)} (want {workers})")
        sums = {k: sum(w.get(k, 0) for w in ws) for k in ("ok", "requests", "bytes", "errors")}
        merged = {k: load.get(k) for k in sums}
        check(sums == merged, f"{what}: merged {merged} == sum over workers {sums}")
        cpu = sum(w.get("cpu_s", 0.0) for w in ws)
        check(math.isclose(cpu, load.get("client_cpu_s", -1), rel_tol=1e-6, abs_tol=1e-6),
              f"{what}: client_cpu_s {load.get('client_cpu_s')} == sum over workers {cpu:.6f}")
        if phase == "during":
            oks = [w.get("ok", 0) for w in ws]
            check(all(o > 0 for o in oks), f"{what}: every worker had ok responses ({oks})")
            check(on_bench, f"{what}: the target {load.get('target')!r} is on the private network (198.18.0.0/15), not loopback")
    check(seen > 0, f"{n}: a load with workers in the record")
EOF
  ) || true
  while IFS= read -r line; do
    case $line in
      "ok "*) pass "${line#ok }" ;;
      "FAILED "*) fail "${line#FAILED }" ;;
      *) fail "reading the report: $line" ;;
    esac
  done <<<"$checks"
else
  fail "report checks: no summary.json"
fi

# 6. Nothing of this test left.
cleanup
left=$(leftovers)
if [ -z "$left" ]; then pass "every container and the network removed"; else fail "left on the daemon: $left"; fi
