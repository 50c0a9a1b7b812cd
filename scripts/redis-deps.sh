#!/usr/bin/env bash
# Installs what the Redis tests need (redis-server and redis-cli, from the
# Debian/Ubuntu package redis-server) when they are missing. Idempotent: does
# nothing when both are already on PATH. The tests start their own servers
# on free loopback ports.
set -euo pipefail

if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
  echo "redis-deps: $(redis-server --version | head -n1)"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "redis-deps: redis-server is missing and apt-get is not available; install Redis 6.2 or later by hand" >&2
  exit 1
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "redis-deps: installing redis-server needs root (or sudo)" >&2
    exit 1
  fi
  sudo="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
# On hosts with an init system the package also starts a system
# redis-server on port 6379; the tests neither use nor mind it.
$sudo apt-get install -y -q --no-install-recommends redis-server
echo "redis-deps: $(redis-server --version | head -n1)"
