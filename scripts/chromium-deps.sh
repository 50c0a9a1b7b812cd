#!/usr/bin/env bash
# Installs what the browser tests in e2e/ need: Chromium at /usr/bin/chromium,
# from the Debian package chromium. Idempotent: does nothing when
# /usr/bin/chromium is already there. The tests start their own headless
# browser with a fresh profile and talk to it on a pipe.
set -euo pipefail

chromium=/usr/bin/chromium

version() {
  # Debian's launcher script prints shell noise on stderr; keep the version.
  "$chromium" --version 2>/dev/null || echo "(version unknown)"
}

if [ -x "$chromium" ]; then
  echo "chromium-deps: $(version)"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium-deps: $chromium is missing and apt-get is not available; install Chromium by hand" >&2
  exit 1
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "chromium-deps: installing chromium needs root (or sudo)" >&2
    exit 1
  fi
  sudo="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q chromium
if [ ! -x "$chromium" ]; then
  echo "chromium-deps: the chromium package did not install $chromium" >&2
  exit 1
fi
echo "chromium-deps: $(version)"
