#!/usr/bin/env bash
# Runs staticcheck over the module, on the packages as the race-enabled
# tests build them (after scripts/test.sh, they are in the build cache).
# It is kept out of scripts/test.sh, CI's command, whose ten minutes on two
# cores the race tests, the browser tests and the fuzzing pass take.
set -euo pipefail
cd "$(dirname "$0")/.."
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
GOBIN=$tools go install honnef.co/go/tools/cmd/staticcheck@v0.6.1
GOFLAGS=-race "$tools/staticcheck" ./...
