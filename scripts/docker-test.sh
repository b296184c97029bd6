#!/usr/bin/env bash
# docker-test: allocstorm's Docker environment, tested for real on a Debian host (`make
# docker-test`; .ci/run runs it as its own step, as root, on a machine that may have no Docker).
#
#  1. installs Debian's docker.io and mmdebstrap when missing (scripts/apt.sh: apt-get update
#     first, no service started);
#  2. starts dockerd in the background when no daemon answers (log: <tmp>/logs/dockerd.log), and
#     stops the dockerd it started when it ends, whatever the outcome;
#  3. makes debian:bookworm-slim with mmdebstrap when it is not here (no registry needed);
#  4. builds allocstorm:bookworm (scripts/docker.sh image; cached layers are reused);
#  5. runs scenarios/hot-range.toml's glibc and glibc-mmap64k, --quick --runs 1, in it
#     (scripts/docker.sh quick) into a temporary directory under reports/, as a uid the image
#     does not know (4242 when run as root, else yours), like a laptop user's;
#  6. checks the report on the host, the container's provenance, the interrupt path (SIGINT
#     to scripts/docker.sh mid-run: exit 130, no container left) and docker.sh's errors.
#
# Prints one line per check and, last, `docker-test: N passed, M failed`; exits 1 if a check
# failed (keeping the temporary directory, and saying where), 0 otherwise (removing it).
# Every wait is bounded. From a bare machine about 10.5 min here (9 of them the image's Rust
# build); warm (docker.io installed, images cached) about 1 min. Measured: docs/docker.md.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$ROOT"
IMAGE=${ALLOCSTORM_IMAGE:-allocstorm:bookworm}
BASE=debian:bookworm-slim
SCENARIO=scenarios/hot-range.toml
T0=$(date +%s)
TMPD=$ROOT/reports/docker-test-$(date -u +%Y%m%d-%H%M%S)-$$
LOGS=$TMPD/logs
REPORT=$TMPD/report
NAME=allocstorm-docker-test-$$
mkdir -p "$LOGS"

CHECKS=docker-test
# shellcheck source=scripts/checks.sh
. "$ROOT/scripts/checks.sh"

# shellcheck source=scripts/dockerd.sh
. "$ROOT/scripts/dockerd.sh"

finish() {
  local code=$?
  trap - EXIT INT TERM HUP
  if [ -n "${DOCKER:-}" ] && [ -x "$DOCKER" ] && dockerd_up 10; then
    local left
    left=$(bounded 10 "$DOCKER" ps -q --filter "name=^/${NAME}" 2>/dev/null || true)
    if [ -n "$left" ]; then
      say "killing containers left running: $left" >&2
      # shellcheck disable=SC2086 # one id a word
      bounded 30 "$DOCKER" kill $left >/dev/null 2>&1 || true
    fi
  fi
  checks_end "$code"
}
trap finish EXIT
trap 'fail "interrupted"; exit 130' INT
trap 'fail "terminated"; exit 143' TERM HUP

# 1. Debian's docker.io (dockerd 20.10, containerd, runc, tini for --init) and mmdebstrap.
#    In a subshell: apt.sh's own EXIT trap removes its temporary policy-rc.d when it is done.
t=$(date +%s)
if (
  # shellcheck source=scripts/apt.sh
  . "$ROOT/scripts/apt.sh"
  apt_ensure docker-test "this test needs a Debian-like host (docker.io, mmdebstrap)" docker.io mmdebstrap
) >"$LOGS/apt.log" 2>&1; then
  sed 's/^/  /' "$LOGS/apt.log"
  pass "docker.io and mmdebstrap installed ($(elapsed "$t") s)"
else
  cat "$LOGS/apt.log" >&2
  abort "installing docker.io and mmdebstrap"
fi

docker_client || abort "no docker client after installing docker.io"

# 2. The daemon: the one that answers, else a dockerd of our own (scripts/dockerd.sh).
say "looking for a Docker daemon (a dockerd of its own logs to $LOGS/dockerd.log)"
if dockerd_ensure "$LOGS"; then pass "$DOCKERD_WHAT"; else abort "no Docker daemon"; fi

# 3. The base image, without a registry when there is none.
if "$DOCKER" image inspect "$BASE" >/dev/null 2>&1; then
  pass "$BASE is here"
else
  t=$(date +%s)
  say "making $BASE: mmdebstrap --variant=apt bookworm - | docker import - $BASE"
  if bounded 900 mmdebstrap --quiet --variant=apt bookworm - 2>"$LOGS/mmdebstrap.log" |
    bounded 300 "$DOCKER" import \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'CMD ["bash"]' - "$BASE" >/dev/null; then
    pass "$BASE made with mmdebstrap ($(elapsed "$t") s)"
  else
    tail -20 "$LOGS/mmdebstrap.log" >&2 || true
    abort "making $BASE with mmdebstrap (log: $LOGS/mmdebstrap.log)"
  fi
fi

# 4. The image, as `make docker-image` builds it.
t=$(date +%s)
say "building $IMAGE (log: $LOGS/build.log)"
if bounded 3600 bash scripts/docker.sh image >"$LOGS/build.log" 2>&1; then
  pass "$IMAGE built ($(elapsed "$t") s)"
else
  tail -40 "$LOGS/build.log" >&2
  abort "building $IMAGE (log: $LOGS/build.log)"
fi

if v=$(bounded 60 "$DOCKER" run --rm --network none "$IMAGE" allocstorm --version 2>&1) &&
  [[ $v == allocstorm\ * ]]; then
  pass "allocstorm --version in the image: $v"
else
  fail "allocstorm --version in the image: $v"
fi

# 5. A short comparison of two variants in the container, as `make docker-quick` runs it, as
#    a uid that the image's /etc/passwd does not know (Docker Desktop users' uids are not there).
if [ "$(id -u)" -eq 0 ]; then uid=4242 gid=4242; else uid=$(id -u) gid=$(id -g); fi
mkdir -p "$REPORT"
[ "$(id -u)" -ne 0 ] || chown "$uid:$gid" "$REPORT"
t=$(date +%s)
say "running glibc,glibc-mmap64k of $SCENARIO --quick --runs 1 in $IMAGE as $uid:$gid (log: $LOGS/run.log)"
set +e
SCENARIO=$SCENARIO VARIANTS=glibc,glibc-mmap64k OUT=$REPORT ALLOCSTORM_DOCKER_NAME=$NAME \
  ALLOCSTORM_DOCKER_USER=$uid:$gid bounded 600 bash scripts/docker.sh quick >"$LOGS/run.log" 2>&1
code=$?
set -e
if [ "$code" -eq 0 ]; then
  pass "the comparison in the container exited 0 ($(elapsed "$t") s)"
else
  tail -30 "$LOGS/run.log" >&2
  fail "the comparison in the container exited $code (log: $LOGS/run.log)"
fi
grep -E '^(variant|glibc)' "$LOGS/run.log" | sed 's/^/  /' || true

# 6. The report, on the host.
for f in report.md rss-timeline.png rss-summary.png summary.json; do
  if [ -s "$REPORT/$f" ]; then pass "$f is there ($(wc -c <"$REPORT/$f") bytes)"; else fail "$REPORT/$f is missing or empty"; fi
done
others=$(find "$REPORT" ! -uid "$uid" 2>/dev/null | head -3)
if [ -s "$REPORT/summary.json" ] && [ -z "$others" ]; then
  pass "every file of the report is owned by uid $uid"
else
  fail "files of the report not owned by uid $uid: ${others:-no report}"
fi

# One check per line of output: "ok <what>" or "FAILED <what>".
if [ -s "$REPORT/summary.json" ]; then
  rev=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || true)
  checks=$(python3 - "$REPORT/summary.json" "$rev" <<'EOF' 2>&1
import json, sys

s = json.load(open(sys.argv[1]))
v = {x.get("name"): x for x in s.get("variants", [])}
env = s.get("environment", {})
mib = lambda b: f"{b / 2**20:.1f} MiB" if isinstance(b, (int, float)) else repr(b)

def check(ok, what):
    print(("ok " if ok else "FAILED ") + what)

st = {n: v.get(n, {}).get("status") for n in ("glibc", "glibc-mmap64k")}
check(all(x == "ok" for x in st.values()), f"summary.json: both variants ok ({st})")
a = v.get("glibc", {}).get("rss_after_drain_bytes")
b = v.get("glibc-mmap64k", {}).get("rss_after_drain_bytes")
check(isinstance(a, int) and isinstance(b, int) and a > b,
      f"RSS after drain: glibc {mib(a)} > glibc-mmap64k {mib(b)} (incident 000 reproduces)")
check(env.get("container") == "docker",
      f"summary.json environment.container == \"docker\" (is {env.get('container')!r})")
check(env.get("glibc_version") == "2.36",
      f"summary.json environment.glibc_version == \"2.36\" (is {env.get('glibc_version')!r})")
if sys.argv[2]:  # a git checkout: the image says which revision it was built from
    check(env.get("git_revision") == sys.argv[2],
          f"summary.json environment.git_revision is the checkout's HEAD (is {env.get('git_revision')!r})")
EOF
  ) || true
  while IFS= read -r line; do
    case $line in
      "ok "*) pass "${line#ok }" ;;
      "FAILED "*) fail "${line#FAILED }" ;;
      *) fail "reading summary.json: $line" ;;
    esac
  done <<<"$checks"
else
  fail "summary.json checks: no summary.json"
fi

# The interrupt path: SIGINT to docker.sh's process group mid-run (a terminal's Ctrl-C) must
# end the run with 130, keep what was measured and leave no container.
INT_OUT=$TMPD/interrupted
mkdir -p "$INT_OUT"
[ "$(id -u)" -ne 0 ] || chown "$uid:$gid" "$INT_OUT"
set +e
python3 - "$LOGS/interrupt.log" <<EOF
import os, signal, subprocess, sys, time
env = dict(os.environ, SCENARIO="$SCENARIO", VARIANTS="glibc", OUT="$INT_OUT",
           ALLOCSTORM_DOCKER_NAME="$NAME-int", ALLOCSTORM_DOCKER_USER="$uid:$gid")
def foreground():  # as a terminal's foreground job: its own group, SIGINT not ignored
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.setsid()
p = subprocess.Popen(["bash", "scripts/docker.sh", "quick"], env=env, preexec_fn=foreground,
                     stdout=open(sys.argv[1], "w"), stderr=subprocess.STDOUT)
# Once the run has started (its time series is being written), and a few seconds into it.
series = "$INT_OUT/runs/glibc-1.jsonl"
for _ in range(180):
    if os.path.exists(series) or p.poll() is not None:
        break
    time.sleep(0.5)
time.sleep(5)
os.killpg(p.pid, signal.SIGINT)
try:
    sys.exit(p.wait(timeout=60))
except subprocess.TimeoutExpired:
    os.killpg(p.pid, signal.SIGKILL)
    sys.exit(124)
EOF
code=$?
set -e
left=$(bounded 10 "$DOCKER" ps -q --filter "name=^/${NAME}-int" 2>/dev/null || echo "(docker ps failed)")
rec=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("status"))' "$INT_OUT/runs/glibc-1.json" 2>/dev/null || echo none)
if [ "$code" -eq 130 ] && [ -z "$left" ] && [ "$rec" = interrupted ]; then
  pass "Ctrl-C: docker.sh exited 130, no container left, run recorded as interrupted"
else
  fail "Ctrl-C: docker.sh exited $code (want 130), containers left: ${left:-none}, run status: $rec (log: $LOGS/interrupt.log)"
fi

# docker.sh's errors when there is no docker, or no daemon: one line, exit 2.
set +e
msg=$(DOCKER=/nonexistent/docker bash scripts/docker.sh quick 2>&1)
code=$?
set -e
if [ "$code" -eq 2 ] && [[ $msg == *"install Docker Desktop"* ]]; then pass "no docker: exit 2, '$msg'"; else fail "no docker: exit $code, '$msg'"; fi
set +e
msg=$(DOCKER_HOST=unix://$TMPD/no-such.sock bounded 60 bash scripts/docker.sh quick 2>&1)
code=$?
set -e
if [ "$code" -eq 2 ] && [[ $msg == *"not reachable"*"start dockerd"* ]]; then pass "no daemon: exit 2, '$msg'"; else fail "no daemon: exit $code, '$msg'"; fi

# Nothing of this test is left running.
left=$(bounded 10 "$DOCKER" ps -q --filter "name=^/${NAME}" 2>&1 || echo "(docker ps failed)")
if [ -z "$left" ]; then pass "no container of the test left running"; else fail "containers left running: $left"; fi
