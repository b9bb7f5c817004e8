#!/usr/bin/env bash
# Two app hosts (network namespaces) behind HAProxy, one PostgreSQL, one Redis, one scheduler; the sign-up rush
# through the balancer with one host killed in the middle. Needs root. Everything it makes is removed at the end.
#   sudo deploy/cluster-test.sh                # or: make cluster-test
#   CLUSTER_SUBNET=10.231.7.0/24 CLUSTER_PORT_BASE=6300 deploy/cluster-test.sh --requests 2000
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then echo "the cluster test needs root (ip netns, a bridge)"; exit 1; fi
need=()
command -v haproxy >/dev/null || need+=(haproxy)
command -v redis-server >/dev/null || need+=(redis-server)
command -v ip >/dev/null || need+=(iproute2)
command -v runuser >/dev/null || need+=(util-linux)
[ -x .venv/bin/python ] || python3 -c "import ensurepip" 2>/dev/null || need+=(python3-venv)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Debian keeps the PostgreSQL server programs out of PATH.
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
export PATH="${PGBIN:+$PGBIN:}$PATH"
make --no-print-directory setup >/dev/null
exec .venv/bin/python deploy/cluster_test.py "$@"
