#!/usr/bin/env bash
# The Debian packages for the real servers that scenarios/targets/ starts (see
# scenarios/targets/README.md), and the load generator used to check them by hand:
#   nginx       /usr/sbin/nginx, the bare flavour (nginx-light adds the echo module,
#               nginx-core/-full/-extras add more; none is needed). Pulls nginx-common.
#   apache2-bin /usr/sbin/apache2 and its modules in /usr/lib/apache2/modules, without the
#               `apache2` package's /etc/apache2 tree, apache2ctl and service: the template
#               scenarios/targets/apache2.conf is complete by itself (LoadModule lines included).
#   wrk         /usr/bin/wrk, the HTTP load generator the measurements in docs/ used.
#   python3-aiohttp  aiohttp 3.8 for Debian's /usr/bin/python3 (not a pyenv or venv python,
#               which does not see Debian's packages): scenarios/targets/aiohttp_server.py.
#   redis-server /usr/bin/redis-server (Redis 7.0, linked against Debian's libjemalloc2:
#               docs/your-server.md says which preloads it takes); its postinst would start a
#               system redis on 6379, which apt.sh's policy-rc.d forbids.
#   redis-tools /usr/bin/redis-benchmark, the load of scenarios/redis.toml, and redis-cli, its
#               readiness check and INFO memory reader.
#   caddy       /usr/bin/caddy, a Go server (static, Go's own allocator): the control of
#               scenarios/caddy-control.toml, whose memory no C allocator can move.
# The allocators that the measurements preload come from scripts/deps.sh.
# Runs apt-get only when a package is missing (apt-get update first), with sudo when not
# root, and prints where the binaries are. Installing never starts a service (scripts/apt.sh).
set -euo pipefail

PACKAGES=(nginx apache2-bin wrk python3-aiohttp iproute2 redis-server redis-tools caddy)
# shellcheck source=scripts/apt.sh
. "$(dirname "$0")/apt.sh"
apt_ensure servers "install nginx (/usr/sbin/nginx), apache2 (/usr/sbin/apache2 with modules in /usr/lib/apache2/modules), python3-aiohttp for /usr/bin/python3, wrk, redis-server, redis-tools and caddy by hand" \
  "${PACKAGES[@]}" || exit 0

# Where the binaries are: what a scenario's [target] command names.
for bin in /usr/sbin/nginx /usr/sbin/apache2 /usr/bin/wrk /usr/bin/redis-server \
  /usr/bin/redis-benchmark /usr/bin/redis-cli /usr/bin/caddy; do
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
echo "servers: redis-server: $(/usr/bin/redis-server --version)"
echo "servers: caddy: $(/usr/bin/caddy version)"
# mod_unixd (User/Group), mod_so (LoadModule) and mod_log_config are compiled into /usr/sbin/apache2.
/usr/bin/python3 -c 'import aiohttp, sys; print("servers: aiohttp", aiohttp.__version__, "for /usr/bin/python3", sys.version.split()[0])' \
  || { echo "servers: /usr/bin/python3 cannot import aiohttp (python3-aiohttp)" >&2; exit 1; }
for m in mod_mpm_event.so mod_authz_core.so mod_alias.so mod_mime.so; do
  [ -f "/usr/lib/apache2/modules/$m" ] || { echo "servers: /usr/lib/apache2/modules/$m is missing" >&2; exit 1; }
done
