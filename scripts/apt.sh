# Installing Debian packages for allocstorm's scripts: sourced by deps.sh and servers.sh.
#
# apt_ensure TAG HINT PACKAGE...
#   Installs the PACKAGEs that are missing: apt-get update first, then apt-get install
#   --no-install-recommends, with sudo when not root. Never starts a service: if the machine has
#   no /usr/sbin/policy-rc.d, a temporary one that denies every start is in place for the
#   install (nginx-common's postinst would otherwise start a system nginx on port 80). Prints a
#   line per package, prefixed with TAG. Returns 1, after printing HINT, where there is no
#   dpkg-query/apt-get (not Debian-like); exits 1 if a package cannot be installed, or if a
#   PACKAGE is not a Debian package name (Policy 5.6.1: a-z, 0-9, + - .; two characters or more,
#   starting with a letter or digit): names come from variants.toml, and one starting with `-`
#   would be an option of `sudo apt-get install`.
#
# APT_POLICY_RC: where the temporary policy-rc.d goes [/usr/sbin/policy-rc.d] (tests only).

APT_POLICY_RC=${APT_POLICY_RC:-/usr/sbin/policy-rc.d}
APT_POLICY_MARK='# temporary, from allocstorm scripts/apt.sh'

apt_installed() {
  [ "$(dpkg-query -W -f='${Status}' -- "$1" 2>/dev/null || true)" = "install ok installed" ]
}

apt_package_name() {
  [[ $1 =~ ^[a-z0-9][a-z0-9+.-]+$ ]]
}

# Removes the policy-rc.d this shell wrote, and nothing else: not one that was there before,
# nor one something else put there since (it would not carry the mark).
apt_policy_remove() {
  [ -n "${APT_POLICY_MADE:-}" ] || return 0
  if [ "$(sed -n 2p "$APT_POLICY_RC" 2>/dev/null)" = "$APT_POLICY_MARK" ]; then
    "${APT_SUDO[@]}" rm -f -- "$APT_POLICY_RC"
  fi
  APT_POLICY_MADE=
}

# Denies service starts during the install only (invoke-rc.d exit 101 = "action forbidden").
# The traps are set before the file is written, so that a kill at any point after leaves no
# deny-all policy behind (later upgrades would never restart a service).
apt_policy_deny() {
  trap apt_policy_remove EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
  APT_POLICY_MADE=1
  printf '#!/bin/sh\n%s\nexit 101\n' "$APT_POLICY_MARK" | "${APT_SUDO[@]}" tee -- "$APT_POLICY_RC" >/dev/null
  "${APT_SUDO[@]}" chmod 755 -- "$APT_POLICY_RC"
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
    if ! apt_package_name "$p"; then
      echo "$tag: $(printf '%q' "$p") is not a Debian package name (a-z, 0-9, + - .; starting with a letter or digit): nothing installed" >&2
      exit 1
    fi
  done
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
  if [ ! -e "$APT_POLICY_RC" ]; then
    apt_policy_deny
  fi
  echo "$tag: installing ${missing[*]}: ${APT_SUDO[*]:+${APT_SUDO[*]} }apt-get update, then apt-get install"
  "${APT_SUDO[@]}" apt-get update -qq
  "${APT_SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Use-Pty=0 \
    --no-install-recommends -- "${missing[@]}" >/dev/null
  for p in "${missing[@]}"; do
    apt_installed "$p" || { echo "$tag: $p is still not installed" >&2; exit 1; }
    echo "$tag: installed $p ($(dpkg-query -W -f='${Version}' -- "$p"))"
  done
}
