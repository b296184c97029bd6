#!/usr/bin/env bash
# The Debian packages allocstorm's tests and preload variants need: allocators that a variant's
# `preload` loads into target-server-glibc with LD_PRELOAD (harness/tests/preload_e2e.rs runs
# jemalloc's). Runs apt-get only when a package is missing (apt-get update first), with sudo
# when not root, and prints where the libraries are, so a variant can name them.
# `make deps` runs it; `make test` depends on it.
set -euo pipefail

PACKAGES=(libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0)
# shellcheck source=scripts/apt.sh
. "$(dirname "$0")/apt.sh"
# Not Debian-like: say what to install and go on; only the preload tests need them.
apt_ensure deps "install jemalloc, tcmalloc (minimal) and mimalloc shared libraries by hand; harness/tests/preload_e2e.rs needs /usr/lib/x86_64-linux-gnu/libjemalloc.so.2" \
  "${PACKAGES[@]}" || exit 0

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
