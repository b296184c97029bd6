#!/usr/bin/env bash
# The checkers the tests use:
# - check-jsonschema, in a venv of its own under target/tools/ (not the machine's Python). It
#   ships SchemaStore's GitHub-workflow schema (`--builtin-schema vendor.github-workflows`), so
#   harness/tests/ci_workflow.rs checks docs/ci/github-actions.yml without reaching SchemaStore
#   itself, and harness/tests/exports.rs checks the `bmf` export against docs/schemas/bmf.json.
#   Installs from PyPI only when the pinned version is missing; a venv module missing from
#   Debian's python3 comes from python3-venv (scripts/apt.sh).
# - promtool, from Debian's prometheus package (apt-get only when it is missing; its service is
#   never started: scripts/apt.sh): harness/tests/exports.rs checks the `openmetrics` export
#   with `promtool check metrics`.
# - chromium, Debian's package (apt-get only when it is missing): harness/tests/report_html.rs
#   opens report.html headless and reads the screenshot's pixels.
# `make tools`; `make test` runs it first, and the tests run it themselves when a tool is
# missing.
#
#   scripts/tools.sh          installs; prints the tools' paths. Exit 1, with the reason on
#                             stderr, where one cannot be installed.
#   ALLOCSTORM_TOOLS=DIR      the venv's parent directory [default: target/tools of the checkout]
set -euo pipefail

CHECK_JSONSCHEMA_VERSION=0.39.0
root=$(cd "$(dirname "$0")/.." && pwd)
tools=${ALLOCSTORM_TOOLS:-$root/target/tools}
venv=$tools/venv
bin=$venv/bin/check-jsonschema

# shellcheck source=scripts/apt.sh
. "$(dirname "$0")/apt.sh"

apt_ensure tools "install Debian's prometheus package (for /usr/bin/promtool) by hand" prometheus \
  || exit 1
echo "tools: promtool: $(command -v promtool) ($(promtool --version 2>&1 | head -1))"

apt_ensure tools "install Debian's chromium package (for /usr/bin/chromium) by hand" chromium \
  || exit 1
echo "tools: chromium: $(command -v chromium) ($(chromium --version 2>/dev/null | head -1))"

if [ -x "$bin" ] && [ "$("$bin" --version 2>/dev/null | awk '{print $NF}')" = "$CHECK_JSONSCHEMA_VERSION" ]; then
  echo "tools: check-jsonschema $CHECK_JSONSCHEMA_VERSION already installed: $bin"
  exit 0
fi

# A python3 whose venv module works: the one on PATH, else Debian's (with python3-venv).
python=
for p in python3 /usr/bin/python3; do
  if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import venv, ensurepip' 2>/dev/null; then
    python=$p
    break
  fi
done
if [ -z "$python" ]; then
  apt_ensure tools "install python3 with its venv module (python3-venv) by hand" python3 python3-venv \
    || exit 1
  python=/usr/bin/python3
fi

mkdir -p "$tools"
rm -rf "$venv"
echo "tools: making $venv with $("$python" --version 2>&1) ($python)"
"$python" -m venv "$venv"
if ! "$venv/bin/pip" install --quiet --disable-pip-version-check "check-jsonschema==$CHECK_JSONSCHEMA_VERSION"; then
  echo "tools: pip could not install check-jsonschema==$CHECK_JSONSCHEMA_VERSION from PyPI" >&2
  exit 1
fi
echo "tools: installed check-jsonschema $("$bin" --version | awk '{print $NF}'): $bin"
