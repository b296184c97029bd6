#!/usr/bin/env bash
# The Debian packages allocstorm's preload variants need: allocators that a variant's `preload`
# loads into target-server-glibc with LD_PRELOAD (scenarios/variants.toml names each library
# and its `package`). Runs apt-get only when a package is missing (apt-get update first), with
# sudo when not root, and prints where the libraries are.
#
#   scripts/deps.sh                      all of them, and iproute2 (`ip`, `tc`: the [network]
#                                        lab and harness/tests/netlab_e2e.rs) (make deps; make
#                                        test depends on it: the preload tests need them). Fails
#                                        if one cannot be had.
#   scripts/deps.sh --scenario FILE [--variants LIST]
#                                        only what FILE's variants preload and is missing
#                                        (make compare, quick, gate, incidents, run). Never
#                                        fails: where a library cannot be had (not Debian, no
#                                        root, no network), it says so and the comparison
#                                        reports that variant `skipped` with the fix.
#                                        A [target] scenario gets scripts/servers.sh too, a
#                                        [network] one iproute2.
#                                        Needs the allocstorm binary: $ALLOCSTORM, default
#                                        target/release/allocstorm.
set -euo pipefail
# No globbing: package names come from variants.toml, and a `*` in one must stay a `*`.
set -f

ALL=(libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0)
# `ip` and `tc`, for the [network] lab (docs/network.md).
NETWORK=(iproute2)
# shellcheck source=scripts/apt.sh
. "$(dirname "$0")/apt.sh"

where() {
  local p lib
  for p in "$@"; do
    while read -r lib; do
      [ -n "$lib" ] || continue
      if [ -L "$lib" ]; then
        echo "deps: $p: $lib -> $(readlink -f "$lib")"
      else
        echo "deps: $p: $lib"
      fi
    done < <(dpkg -L -- "$p" 2>/dev/null | grep -E '/lib[^/]*\.so(\.[0-9]+)*$' | grep -v '_debug\.' || true)
  done
}

if [ "${1:-}" = "--scenario" ]; then
  scenario=${2:?"deps: --scenario needs a scenario file"}
  shift 2
  variants=all
  if [ "${1:-}" = "--variants" ]; then
    variants=${2:?"deps: --variants needs a list"}
  fi
  # A [target] scenario starts a server of its own: the example servers come from servers.sh.
  if grep -q '^\[target\]' "$scenario" 2>/dev/null; then
    bash "$(dirname "$0")/servers.sh" || echo "deps: the servers of scripts/servers.sh could not be installed: $scenario may not load" >&2
  fi
  # A [network] scenario makes its lab with ip and tc.
  if grep -q '^\[network\]' "$scenario" 2>/dev/null; then
    (apt_ensure deps "install iproute2 (ip, tc) by hand: $scenario needs them" "${NETWORK[@]}") \
      || echo "deps: iproute2 could not be installed: $scenario cannot make its lab" >&2
  fi
  bin=${ALLOCSTORM:-target/release/allocstorm}
  # Exit 0 all present, 3 something missing, anything else: the scenario itself is wrong, which
  # allocstorm compare will say in one line; nothing to install then.
  set +e
  packages=$("$bin" deps --scenario "$scenario" --variants "$variants" --missing)
  code=$?
  set -e
  case $code in
    0) exit 0 ;;
    3) ;;
    *) exit 0 ;;
  esac
  if [ -z "$packages" ]; then
    echo "deps: $scenario preloads a library with no Debian package named in variants.toml: install it by hand ($bin deps --scenario $scenario)" >&2
    exit 0
  fi
  # One package a line, as it is (no word splitting); apt_ensure refuses what is no Debian
  # package name (allocstorm checked them too, where it read variants.toml).
  mapfile -t pkgs <<<"$packages"
  set -- "${pkgs[@]}"
  if (apt_ensure deps "install the allocator libraries by hand: $*" "$@"); then
    where "$@"
  else
    echo "deps: could not install $*: the variants that preload them will be reported skipped, with the fix" >&2
  fi
  exit 0
fi

# Not Debian-like: say what to install and go on; only the preload tests need them.
apt_ensure deps "install jemalloc, tcmalloc (minimal) and mimalloc shared libraries, and iproute2, by hand; harness/tests/preload_e2e.rs needs /usr/lib/x86_64-linux-gnu/libjemalloc.so.2, netlab_e2e.rs ip and tc" \
  "${ALL[@]}" "${NETWORK[@]}" || exit 0
where "${ALL[@]}"
