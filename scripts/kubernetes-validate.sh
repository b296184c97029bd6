#!/usr/bin/env bash
# kubernetes-validate (PyPI: the Kubernetes API's JSON schemas, offline, no cluster), in a venv
# of its own under the build directory, made on first use (about 6 s here):
#
#   scripts/kubernetes-validate.sh --strict -k 1.37.0 FILE.yaml...
#
# The arguments are kubernetes-validate's. Exit status: its own (0 every resource valid, 1 one
# is not, 2 one could not be validated), or 77 when PyPI cannot be reached to install it (the
# tests then skip, saying so), or 2 when it cannot be installed for another reason.
#
#   KUBERNETES_VALIDATE_VENV  the venv [${CARGO_TARGET_DIR:-target}/kubernetes-validate-VERSION]
#   PYTHON                    the python3 that makes it [python3; Debian's python3-venv is
#                             installed when its venv module cannot]
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
# Pinned: the schemas it ships are what the manifests are checked against (1.25 to 1.37).
VERSION=1.37.0
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
VENV=${KUBERNETES_VALIDATE_VENV:-$TARGET/kubernetes-validate-$VERSION}
BIN=$VENV/bin/kubernetes-validate

say() { echo "kubernetes-validate.sh: $*" >&2; }

# Says why, and succeeds, when pip failed because its index cannot be reached (not because the
# package or the version is not there).
unreachable() {
  local log=$1 index
  if grep -qiE 'NewConnectionError|Temporary failure in name resolution|Network is unreachable|ConnectTimeoutError|No route to host|ProxyError' "$log"; then
    grep -m1 -iE 'connection|resolution|unreachable|timeout|route|proxy' "$log"
    return 0
  fi
  # With no retries pip says only "from versions: none": ask the index itself.
  grep -q 'from versions: none' "$log" || return 1
  index=${PIP_INDEX_URL:-$("$VENV/bin/pip" config get global.index-url 2>/dev/null || true)}
  index=${index:-https://pypi.org/simple}
  "$VENV/bin/python" - "${index%/}/kubernetes-validate/" <<'PY'
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1], timeout=20).read(1)
except urllib.error.HTTPError:
    sys.exit(1)  # the index answers
except Exception as e:
    print(f"{sys.argv[1]}: {e}")
    sys.exit(0)
sys.exit(1)
PY
}

install() {
  local py=${PYTHON:-python3} log=$VENV.log
  rm -rf "$VENV"
  if ! "$py" -m venv "$VENV" >"$log" 2>&1; then
    # Debian's python3 has no venv (ensurepip) without python3-venv.
    say "$py -m venv failed ($(tail -1 "$log")): installing Debian's python3-venv"
    (
      # shellcheck source=scripts/apt.sh
      . "$ROOT/scripts/apt.sh"
      apt_ensure kubernetes-validate.sh "install python3 with its venv module, or set PYTHON" python3 python3-venv
    ) >&2 || exit 2
    py=/usr/bin/python3
    rm -rf "$VENV"
    "$py" -m venv "$VENV" >"$log" 2>&1 || {
      cat "$log" >&2
      say "cannot make a venv with $py"
      exit 2
    }
  fi
  say "installing kubernetes-validate==$VERSION from PyPI into $VENV"
  if ! "$VENV/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$VERSION" >>"$log" 2>&1; then
    if why=$(unreachable "$log"); then
      rm -rf "$VENV"
      say "PyPI cannot be reached: $why"
      exit 77
    fi
    rm -rf "$VENV"
    tail -20 "$log" >&2
    say "pip install kubernetes-validate==$VERSION failed (log: $log)"
    exit 2
  fi
  "$BIN" --version >/dev/null
}

if [ ! -x "$BIN" ]; then
  mkdir -p "$(dirname "$VENV")"
  # Tests run in parallel: one of them installs, the others wait for it.
  exec 9>"$VENV.lock"
  flock 9
  [ -x "$BIN" ] || install
  flock -u 9
fi
exec "$BIN" "$@"
