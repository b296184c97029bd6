#!/usr/bin/env bash
# The Debian packages for the real servers that scenarios/targets/ starts (see
# scenarios/targets/README.md), and the load generator used to check them by hand:
#   nginx       /usr/sbin/nginx, the bare flavour (nginx-light adds the echo module,
#               nginx-core/-full/-extras add more; none is needed). Pulls nginx-common.
#   apache2-bin /usr/sbin/apache2 and its modules in /usr/lib/apache2/modules, without the
#               `apache2` package's /etc/apache2 tree, apache2ctl and service: the template
#               scenarios/targets/apache2.conf is complete by itself (LoadModule lines included).
#   wrk         /usr/bin/wrk, the HTTP load generator the README's measurements used.
#   python3-aiohttp  aiohttp 3.8 for Debian's /usr/bin/python3 (not a pyenv or venv python,
#               which does not see Debian's packages): scenarios/targets/aiohttp_server.py.
# The allocators that the measurements preload come from scripts/deps.sh.
# Runs apt-get only when a package is missing (apt-get update first), with sudo when not
# root, and prints where the binaries are. Installing never starts a service: if the machine
# has no /usr/sbin/policy-rc.d (Docker images ship one that denies every start), a temporary
# one denying starts is put there for the install and removed after it, so nginx-common's
# postinst does not start a system nginx on port 80.
set -euo pipefail

PACKAGES=(nginx apache2-bin wrk python3-aiohttp)

installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "servers: no dpkg-query/apt-get here: install nginx (/usr/sbin/nginx), apache2 (/usr/sbin/apache2" \
    "with modules in /usr/lib/apache2/modules) and wrk by hand" >&2
  exit 0
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if installed "$p"; then
    echo "servers: $p already installed"
  else
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "servers: ${missing[*]} missing, and this is not root and has no sudo: install them as root" >&2
      exit 1
    fi
    SUDO=(sudo)
  fi
  POLICY=/usr/sbin/policy-rc.d
  if [ ! -e "$POLICY" ]; then
    # Deny service starts during the install only (invoke-rc.d exit 101 = "action forbidden").
    printf '#!/bin/sh\n# temporary, from allocstorm scripts/servers.sh\nexit 101\n' | "${SUDO[@]}" tee "$POLICY" >/dev/null
    "${SUDO[@]}" chmod 755 "$POLICY"
    trap '"${SUDO[@]}" rm -f "$POLICY"' EXIT
  fi
  echo "servers: installing ${missing[*]}: ${SUDO[*]:+${SUDO[*]} }apt-get update, then apt-get install"
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Use-Pty=0 \
    --no-install-recommends "${missing[@]}" >/dev/null
  for p in "${missing[@]}"; do
    installed "$p" || { echo "servers: $p is still not installed" >&2; exit 1; }
    echo "servers: installed $p ($(dpkg-query -W -f='${Version}' "$p"))"
  done
fi

# Where the binaries are: what a scenario's [target] command names.
for bin in /usr/sbin/nginx /usr/sbin/apache2 /usr/bin/wrk; do
  if [ -x "$bin" ]; then
    echo "servers: $bin ($(dpkg-query -S "$bin" 2>/dev/null | cut -d: -f1))"
  else
    echo "servers: $bin is missing" >&2
    exit 1
  fi
done
echo "servers: nginx: $(/usr/sbin/nginx -v 2>&1)"
echo "servers: apache2: $(/usr/sbin/apache2 -v 2>/dev/null | head -1)"
echo "servers: apache2 modules: /usr/lib/apache2/modules"
# mod_unixd (User/Group), mod_so (LoadModule) and mod_log_config are compiled into /usr/sbin/apache2.
/usr/bin/python3 -c 'import aiohttp, sys; print("servers: aiohttp", aiohttp.__version__, "for /usr/bin/python3", sys.version.split()[0])' \
  || { echo "servers: /usr/bin/python3 cannot import aiohttp (python3-aiohttp)" >&2; exit 1; }
for m in mod_mpm_event.so mod_authz_core.so mod_alias.so mod_mime.so; do
  [ -f "/usr/lib/apache2/modules/$m" ] || { echo "servers: /usr/lib/apache2/modules/$m is missing" >&2; exit 1; }
done
