#!/usr/bin/env bash
# Sourced by the *-deps.sh scripts: apt_install NAME PACKAGE... installs
# Debian packages with apt-get (after apt-get update), as root or through
# sudo, and fails with a clear message where that is impossible. NAME
# prefixes the messages.

apt_install() {
  local name=$1
  shift
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "$name: $* missing and apt-get is not available; install it by hand" >&2
    return 1
  fi
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "$name: installing $* needs root (or sudo)" >&2
      return 1
    fi
    sudo="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  # Only what the tests use: Chromium's recommended packages alone (printing,
  # desktop integration) take minutes to install.
  $sudo apt-get install -y -q --no-install-recommends "$@"
}
