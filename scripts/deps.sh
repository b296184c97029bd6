#!/usr/bin/env bash
# The Debian packages allocstorm's tests and preload variants need: allocators that a variant's
# `preload` loads into target-server-glibc with LD_PRELOAD (harness/tests/preload_e2e.rs runs
# jemalloc's). Runs apt-get only when a package is missing (apt-get update first), with sudo
# when not root, and prints where the libraries are, so a variant can name them.
# `make deps` runs it; `make test` depends on it.
set -euo pipefail

PACKAGES=(libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0)

installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  # Not Debian-like: say what to install and go on; only the preload test needs them.
  echo "deps: no dpkg-query/apt-get here: install jemalloc, tcmalloc (minimal) and mimalloc shared libraries by hand;" \
    "harness/tests/preload_e2e.rs needs /usr/lib/x86_64-linux-gnu/libjemalloc.so.2" >&2
  exit 0
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if installed "$p"; then
    echo "deps: $p already installed"
  else
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "deps: ${missing[*]} missing, and this is not root and has no sudo: install them as root" >&2
      exit 1
    fi
    SUDO=(sudo)
  fi
  echo "deps: installing ${missing[*]}: ${SUDO[*]:+${SUDO[*]} }apt-get update, then apt-get install"
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Use-Pty=0 \
    --no-install-recommends "${missing[@]}" >/dev/null
  for p in "${missing[@]}"; do
    installed "$p" || { echo "deps: $p is still not installed" >&2; exit 1; }
    echo "deps: installed $p ($(dpkg-query -W -f='${Version}' "$p"))"
  done
fi

# Where the shared libraries are: what a variant's `preload` names (an absolute path; the
# unversioned-minor names are symlinks, the harness accepts either).
for p in "${PACKAGES[@]}"; do
  while read -r lib; do
    [ -n "$lib" ] || continue
    if [ -L "$lib" ]; then
      echo "deps: $p: $lib -> $(readlink -f "$lib")"
    else
      echo "deps: $p: $lib"
    fi
  done < <(dpkg -L "$p" 2>/dev/null | grep -E '/lib[^/]*\.so(\.[0-9]+)*$' | grep -v '_debug\.' || true)
done
