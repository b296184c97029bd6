#!/usr/bin/env bash
# allocstorm in its pinned Linux container (docker/Dockerfile: Debian 12, glibc 2.36), for
# macOS and Windows laptops (Docker Desktop) and for Linux hosts whose glibc or packages differ
# from the baselines'. See docs/docker.md.
#
#   scripts/docker.sh image     build the image (docker's layer cache makes a rebuild cheap)
#   scripts/docker.sh quick     `make quick` in the container: --runs 1 --quick
#   scripts/docker.sh compare   `make compare` in the container: --runs $RUNS, full phases
#
# `make docker-image`, `make docker-quick`, `make docker-compare` run it. From the environment:
#   SCENARIO  scenario file [scenarios/hot-range.toml]; one under the checkout's scenarios/ is
#             the image's copy, any other is mounted read-only with its directory
#   RUNS      runs per variant for `compare` [3]
#   OUT       report directory [reports/<date>-<time>-<scenario>/], created on the host, owned
#             by you; one outside reports/ is mounted into the container
#   VARIANTS  variants to run [all], e.g. glibc,glibc-mmap64k
#   DOCKER    the docker client [docker]
#   ALLOCSTORM_IMAGE             image tag [allocstorm:bookworm]
#   ALLOCSTORM_DOCKER_NAME       container name [allocstorm-<mode>-<pid>]
#   ALLOCSTORM_DOCKER_USER       uid:gid the comparison runs as [$(id -u):$(id -g)]
#   ALLOCSTORM_DOCKER_RUN_FLAGS  extra `docker run` flags, e.g. "--cpus 2 --memory 4g"
#   ALLOCSTORM_DOCKER_BUILD_FLAGS extra `docker build` flags, e.g. "--network host"
#   ALLOCSTORM_DOCKER_CA         PEM file of extra CAs for the build stage (a TLS-intercepting
#                                proxy) [the host's /usr/local/share/ca-certificates/*.crt];
#                                "none" for none
#   ALLOCSTORM_MMDEBSTRAP=0      never make the base image with mmdebstrap
#
# Exit status: the container's, i.e. the harness's contract (0 ok, 1 a run failed, 2 input or
# harness error, 3 incomplete, 130 interrupted); 2 when docker is missing or unreachable or
# the image cannot be built.
set -euo pipefail

MODE=${1:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
IMAGE=${ALLOCSTORM_IMAGE:-allocstorm:bookworm}
BASE=debian:bookworm-slim
DOCKER=${DOCKER:-docker}
SCENARIO=${SCENARIO:-scenarios/hot-range.toml}
RUNS=${RUNS:-3}
OUT=${OUT:-}
VARIANTS=${VARIANTS:-all}
WORKDIR=/allocstorm # the image's WORKDIR: scenarios/ and reports/ are under it

say() { echo "docker.sh: $*" >&2; }
die() {
  say "$*"
  exit 2
}

case $MODE in
  image | quick | compare) ;;
  *) die "usage: scripts/docker.sh image|quick|compare (SCENARIO=... RUNS=... OUT=... from the environment)" ;;
esac

# Git Bash (MSYS) rewrites arguments that look like paths (the container's side of -v too).
case $(uname -s) in MINGW* | MSYS* | CYGWIN*) export MSYS_NO_PATHCONV=1 ;; esac

# Input first, so that a wrong SCENARIO fails before a build. The scenario: under the
# checkout's scenarios/ it is the image's copy (the image is built from this checkout below);
# anywhere else its directory (its variants.toml, its templates) is mounted read-only.
mounts=()
if [ "$MODE" != image ]; then
  [ -f "$SCENARIO" ] || die "SCENARIO=$SCENARIO: no such file"
  case $RUNS in '' | *[!0-9]*) die "RUNS=$RUNS: not a number" ;; esac
  sdir=$(cd "$(dirname "$SCENARIO")" && pwd -P)
  sbase=$(basename "$SCENARIO")
  case $sdir/ in
    "$ROOT/scenarios/"*) cscenario=scenarios${sdir#"$ROOT/scenarios"}/$sbase ;;
    *)
      mounts+=(-v "$sdir:$WORKDIR/scenario-dir:ro")
      cscenario=scenario-dir/$sbase
      ;;
  esac
fi

# Runs "$@" for at most $1 seconds (coreutils timeout is not on every macOS).
bounded() {
  local secs=$1
  shift
  if command -v timeout >/dev/null 2>&1; then
    timeout "$secs" "$@"
    return
  fi
  "$@" &
  local pid=$! waited=0
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$waited" -ge "$secs" ]; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
      return 124
    fi
    sleep 1
    waited=$((waited + 1))
  done
  wait "$pid"
}

# 1. Docker itself.
command -v "$DOCKER" >/dev/null 2>&1 ||
  die "no '$DOCKER' command: install Docker Desktop (macOS, Windows: https://docs.docker.com/desktop/) or Docker Engine (Linux, e.g. apt-get install docker.io), then run this again"
# `docker version` fails, saying why on stderr, when the daemon does not answer (`docker info`
# prints the reason on stdout, and old clients only "errors pretty printing info" on stderr).
if ! why=$(bounded 30 "$DOCKER" version --format '{{.Server.Version}}' 2>&1 >/dev/null); then
  why=$(printf '%s\n' "$why" | grep -v '^ *$' | head -1)
  die "the Docker daemon is not reachable (${why:-no answer in 30 s}): start Docker Desktop, or on Linux start dockerd (sudo systemctl start docker) and make sure you may use it (root, or the docker group)"
fi

# 2. The base image: pulled if it is not here; where no registry answers, made with mmdebstrap
#    on a Linux host that has it (an image of bookworm's apt variant, ~30-70 s), else a hint.
if ! "$DOCKER" image inspect "$BASE" >/dev/null 2>&1; then
  say "$BASE is not here: pulling it"
  if ! bounded 300 "$DOCKER" pull "$BASE" >&2; then
    mk="mmdebstrap --variant=apt bookworm - | docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' --change 'CMD [\"bash\"]' - $BASE"
    if [ "$(uname -s)" = Linux ] && command -v mmdebstrap >/dev/null 2>&1 && [ "${ALLOCSTORM_MMDEBSTRAP:-1}" != 0 ]; then
      say "cannot pull $BASE: making it with mmdebstrap from Debian's mirror: $mk"
      # shellcheck disable=SC2016 # the ENV value is literal
      mmdebstrap --quiet --variant=apt bookworm - |
        "$DOCKER" import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
          --change 'CMD ["bash"]' - "$BASE" >/dev/null ||
        die "mmdebstrap | docker import failed; make $BASE by hand (as root, Debian/Ubuntu with mmdebstrap installed): $mk"
    else
      die "cannot pull $BASE and cannot make it here; on a Linux machine with Debian's mmdebstrap (as root): $mk (then docker save/load it here)"
    fi
  fi
fi

# 3. The image. BuildKit when this client has it (buildx, or a pre-23 client that talks to the
#    daemon's own BuildKit); the Dockerfile works with the legacy builder too.
if [ -z "${DOCKER_BUILDKIT:-}" ]; then
  client=$("$DOCKER" version --format '{{.Client.Version}}' 2>/dev/null || echo 0)
  if "$DOCKER" buildx version >/dev/null 2>&1; then
    :
  elif [ "${client%%.*}" -lt 23 ] 2>/dev/null; then
    export DOCKER_BUILDKIT=1
  else
    export DOCKER_BUILDKIT=0
  fi
fi
build=(build -f "$ROOT/docker/Dockerfile" -t "$IMAGE")
rev=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)
dirty=unknown
if [ "$rev" != unknown ]; then
  if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]; then dirty=true; else dirty=false; fi
fi
build+=(--build-arg "GIT_REVISION=$rev" --build-arg "GIT_DIRTY=$dirty")
ca=${ALLOCSTORM_DOCKER_CA:-}
if [ -z "$ca" ]; then
  for f in /usr/local/share/ca-certificates/*.crt; do [ -f "$f" ] && ca+="$(cat "$f")"$'\n'; done
elif [ "$ca" = none ]; then
  ca=
else
  [ -r "$ca" ] || die "ALLOCSTORM_DOCKER_CA=$ca: no such file"
  ca=$(cat "$ca")
fi
[ -z "$ca" ] || build+=(--build-arg "EXTRA_CA_CERTS=$ca")
# shellcheck disable=SC2206 # word splitting of the user's flags is the point
[ -z "${ALLOCSTORM_DOCKER_BUILD_FLAGS:-}" ] || build+=(${ALLOCSTORM_DOCKER_BUILD_FLAGS})
say "building $IMAGE from docker/Dockerfile (cached layers are reused; a first build took 9 min on 2 cores)"
start=$(date +%s)
"$DOCKER" "${build[@]}" "$ROOT" >&2 ||
  die "building $IMAGE failed (see above). A build container without DNS: ALLOCSTORM_DOCKER_BUILD_FLAGS='--network host'; behind a TLS proxy: ALLOCSTORM_DOCKER_CA=its-ca.pem"
say "image $IMAGE ready ($(($(date +%s) - start)) s): $("$DOCKER" run --rm --network none "$IMAGE" allocstorm --version)"
[ "$MODE" != image ] || exit 0

# 4. The comparison, as `make quick` / `make compare` would run it.
# The report directory, made here so that it is yours (docker would make a missing mount
# point as root). The default is the harness's: reports/<date>-<time>-<scenario name>.
mkdir -p "$ROOT/reports"
if [ -z "$OUT" ]; then
  name=$(sed -n 's/^name *= *"\([^"]*\)".*/\1/p' "$SCENARIO" | head -1)
  # One path component whatever the file says (the harness refuses such a name; this runs
  # before it, and mkdir -p would make the path): `x/../../escaped` stays under reports/.
  name=$(printf '%s' "$name" | tr -c 'A-Za-z0-9._-' _ | cut -c1-64)
  name=${name#.}
  OUT=$ROOT/reports/$(date -u +%Y%m%d-%H%M%S)-${name:-$(basename "$SCENARIO" .toml)}
fi
mkdir -p "$OUT"
hout=$(cd "$OUT" && pwd -P)
mounts+=(-v "$ROOT/reports:$WORKDIR/reports")
case $hout/ in
  "$ROOT/reports/"*) cout=reports/${hout#"$ROOT/reports/"} ;;
  *)
    mounts+=(-v "$hout:$WORKDIR/out")
    cout=out
    ;;
esac

args=(compare --scenario "$cscenario" --variants "$VARIANTS" --out "$cout")
if [ "$MODE" = quick ]; then args+=(--runs 1 --quick); else args+=(--runs "$RUNS"); fi

cname=${ALLOCSTORM_DOCKER_NAME:-allocstorm-$MODE-$$}
user=${ALLOCSTORM_DOCKER_USER:-$(id -u):$(id -g)}
# --network none: the container has only its loopback, where all of a comparison's traffic
# goes. --init: tini as PID 1 passes signals on to allocstorm and reaps what it leaves.
# --hostname: provenance records the machine's name, not a container id.
run=(run --rm --init --sig-proxy=false --name "$cname" --label "io.allocstorm.run=$MODE"
  --network none --hostname "$(hostname 2>/dev/null || echo allocstorm)" --user "$user" "${mounts[@]}")
# Live progress lines: the harness prints them only to a terminal.
if [ -t 2 ]; then run+=(-t); fi
# shellcheck disable=SC2206 # word splitting of the user's flags is the point
[ -z "${ALLOCSTORM_DOCKER_RUN_FLAGS:-}" ] || run+=(${ALLOCSTORM_DOCKER_RUN_FLAGS})

# shellcheck disable=SC2317 # called from the traps
running() { [ -n "$("$DOCKER" ps -q --filter "name=^/${cname}\$" 2>/dev/null)" ]; }
# Signals: the docker client does not pass them on (--sig-proxy=false; with -t it could not);
# this script does, once: SIGINT to the harness (via tini), which stops its server and load
# workers and writes what it measured (a second SIGINT would make it exit at once). After 30 s,
# or at a second Ctrl-C, the container is killed. Never leaves it running.
force=0
# shellcheck disable=SC2317 # called from the traps
on_signal() {
  local code=$1 _
  trap 'force=1' INT
  trap '' TERM HUP
  say "interrupted: stopping container $cname (Ctrl-C again to kill it at once)"
  "$DOCKER" kill --signal INT "$cname" >/dev/null 2>&1 || true
  for _ in $(seq 30); do
    running || break
    [ "$force" = 0 ] || break
    sleep 1
  done
  if running; then "$DOCKER" kill "$cname" >/dev/null 2>&1 || true; fi
  say "report (incomplete): $hout"
  exit "$code"
}
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
trap 'on_signal 129' HUP
trap 'if running; then "$DOCKER" kill "$cname" >/dev/null 2>&1 || true; fi' EXIT

say "running in $IMAGE as $user: allocstorm ${args[*]}"
# In the background and waited for, so that a signal runs the trap at once.
"$DOCKER" "${run[@]}" "$IMAGE" allocstorm "${args[@]}" &
set +e
wait $!
code=$?
set -e
case $code in
  0) say "report: $hout/report.md" ;;
  1 | 3) say "report: $hout/report.md (allocstorm exited $code: a run failed or a variant was skipped; see the report)" ;;
  125 | 126 | 127)
    say "docker run failed (exit $code): see above"
    code=2
    ;;
  *) say "allocstorm exited $code; what was measured is in $hout" ;;
esac
exit "$code"
