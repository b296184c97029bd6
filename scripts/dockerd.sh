# The Docker daemon for allocstorm's Docker tests: sourced by docker-test.sh and compose-test.sh.
#
# docker_client          sets and exports DOCKER (unless set): Debian's /usr/bin/docker, the
#                        same version as Debian's dockerd (another client on PATH, e.g. a static
#                        /usr/local/bin/docker 28, talks to it too but has no BuildKit there),
#                        else the docker on PATH; returns 1 when there is none
# dockerd_up SECS        succeeds when a daemon answers $DOCKER within SECS
# dockerd_ensure LOGDIR  a daemon that answers: the one there is, else a dockerd of our own in
#                        the background (its defaults: overlay2, cgroupfs, its own containerd;
#                        log LOGDIR/dockerd.log), waited for at most 60 s; sets DOCKERD_STARTED
#                        to its pid and DOCKERD_WHAT to what it found or did; returns 1 (after
#                        the log's tail on stderr) if no daemon answers. Not in a subshell: the
#                        EXIT trap's dockerd_stop needs DOCKERD_STARTED.
# dockerd_stop           stops the dockerd that dockerd_ensure started, if any (SIGTERM, SIGKILL
#                        after 30 s); call it from the EXIT trap, whatever the outcome.

DOCKERD_STARTED=
DOCKERD_WHAT=

docker_client() {
  if [ -z "${DOCKER:-}" ]; then
    if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; else DOCKER=$(command -v docker || true); fi
  fi
  export DOCKER
  [ -n "$DOCKER" ] && [ -x "$DOCKER" ]
}

dockerd_up() {
  timeout --kill-after=10 "$1" "$DOCKER" version --format '{{.Server.Version}}' >/dev/null 2>&1
}

dockerd_ensure() {
  local logs=$1 _
  if dockerd_up 20; then
    DOCKERD_WHAT="a Docker daemon answers ($("$DOCKER" version --format '{{.Server.Version}}' 2>/dev/null))"
    return 0
  fi
  command -v dockerd >/dev/null 2>&1 || {
    echo "no dockerd" >&2
    return 1
  }
  dockerd >"$logs/dockerd.log" 2>&1 &
  DOCKERD_STARTED=$!
  for _ in $(seq 60); do
    kill -0 "$DOCKERD_STARTED" 2>/dev/null || break
    if dockerd_up 5; then
      DOCKERD_WHAT="dockerd started (pid $DOCKERD_STARTED: $("$DOCKER" info --format '{{.ServerVersion}}, {{.Driver}}, cgroup v{{.CgroupVersion}}' 2>/dev/null))"
      return 0
    fi
    sleep 1
  done
  tail -20 "$logs/dockerd.log" >&2 || true
  echo "dockerd did not answer within 60 s (log: $logs/dockerd.log)" >&2
  return 1
}

dockerd_stop() {
  local _
  [ -n "$DOCKERD_STARTED" ] && kill -0 "$DOCKERD_STARTED" 2>/dev/null || return 0
  echo "stopping the dockerd it started (pid $DOCKERD_STARTED)"
  kill -TERM "$DOCKERD_STARTED" 2>/dev/null || true
  for _ in $(seq 30); do
    kill -0 "$DOCKERD_STARTED" 2>/dev/null || return 0
    sleep 1
  done
  echo "dockerd did not stop in 30 s: SIGKILL" >&2
  kill -KILL "$DOCKERD_STARTED" 2>/dev/null || true
}
