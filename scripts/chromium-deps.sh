#!/usr/bin/env bash
# Installs what the browser tests in e2e/ need: Chromium at /usr/bin/chromium,
# from the Debian package chromium. Idempotent: does nothing when
# /usr/bin/chromium is already there. The tests start their own headless
# browser with a fresh profile and talk to it on a pipe.
set -euo pipefail
. "$(dirname "$0")/apt-install.sh"

chromium=/usr/bin/chromium
if [ ! -x "$chromium" ]; then
  apt_install chromium-deps chromium
  if [ ! -x "$chromium" ]; then
    echo "chromium-deps: the chromium package did not install $chromium" >&2
    exit 1
  fi
fi
# Debian's launcher script prints shell noise on stderr; keep the version.
echo "chromium-deps: $("$chromium" --version 2>/dev/null || echo "(version unknown)")"
