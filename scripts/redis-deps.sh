#!/usr/bin/env bash
# Installs what the Redis tests need (redis-server and redis-cli, from the
# Debian package redis-server) when they are missing. Idempotent: does
# nothing when both are already on PATH. The tests start their own servers
# on free loopback ports.
set -euo pipefail
. "$(dirname "$0")/apt-install.sh"

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  # On hosts with an init system the package also starts a system
  # redis-server on port 6379; the tests neither use nor mind it.
  apt_install redis-deps redis-server
fi
echo "redis-deps: $(redis-server --version | head -n1)"
