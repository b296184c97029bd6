# Installing Debian packages for allocstorm's scripts: sourced by deps.sh and servers.sh.
#
# apt_ensure TAG HINT PACKAGE...
#   Installs the PACKAGEs that are missing: apt-get update first, then apt-get install
#   --no-install-recommends, with sudo when not root. Never starts a service: if the machine has
#   no /usr/sbin/policy-rc.d, a temporary one that denies every start is in place for the
#   install (nginx-common's postinst would otherwise start a system nginx on port 80). Prints a
#   line per package, prefixed with TAG. Returns 1, after printing HINT, where there is no
#   dpkg-query/apt-get (not Debian-like); exits 1 if a package cannot be installed.

apt_installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

apt_ensure() {
  local tag=$1 hint=$2
  shift 2
  if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    echo "$tag: no dpkg-query/apt-get here: $hint" >&2
    return 1
  fi
  local missing=() p
  for p in "$@"; do
    if apt_installed "$p"; then
      echo "$tag: $p already installed"
    else
      missing+=("$p")
    fi
  done
  [ ${#missing[@]} -gt 0 ] || return 0

  APT_SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "$tag: ${missing[*]} missing, and this is not root and has no sudo: install them as root" >&2
      exit 1
    fi
    APT_SUDO=(sudo)
  fi
  local policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    # Deny service starts during the install only (invoke-rc.d exit 101 = "action forbidden").
    printf '#!/bin/sh\n# temporary, from allocstorm scripts/apt.sh\nexit 101\n' | "${APT_SUDO[@]}" tee "$policy" >/dev/null
    "${APT_SUDO[@]}" chmod 755 "$policy"
    trap '"${APT_SUDO[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  echo "$tag: installing ${missing[*]}: ${APT_SUDO[*]:+${APT_SUDO[*]} }apt-get update, then apt-get install"
  "${APT_SUDO[@]}" apt-get update -qq
  "${APT_SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Use-Pty=0 \
    --no-install-recommends "${missing[@]}" >/dev/null
  for p in "${missing[@]}"; do
    apt_installed "$p" || { echo "$tag: $p is still not installed" >&2; exit 1; }
    echo "$tag: installed $p ($(dpkg-query -W -f='${Version}' "$p"))"
  done
}
