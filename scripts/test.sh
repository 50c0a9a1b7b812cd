#!/usr/bin/env bash
# Runs every check and test of sessionkv: formatting, go vet,
# the whole test suite under the race detector (real redis-server,
# PostgreSQL and MariaDB servers, real bbolt, SQLite and file stores, crash,
# soak and hostile-input suites, Django's own code for the Django format),
# the browser tests in headless Chromium, the benchmark suite's tests,
# which run it in smoke mode, and, beside them at the lowest priority, a
# short fuzzing pass over every parser. It installs what the tests need
# (redis-server, postgresql, mariadb-server, python3-django, chromium) from
# the distribution's packages when they are missing. This is the README's
# test command and exactly what CI runs. scripts/lint.sh runs staticcheck,
# which does not fit in CI's ten minutes on two cores beside the rest.
#
# Environment: SESSIONKV_FUZZSCALE (percent of each fuzz target's
# execution budget, default 100); SESSIONKV_SKIP_DEPS=1 to skip the
# package installs.
set -euo pipefail
cd "$(dirname "$0")/.."
export SESSIONKV_REQUIRE_REDIS=1 SESSIONKV_REQUIRE_BROWSER=1 SESSIONKV_REQUIRE_POSTGRES=1 SESSIONKV_REQUIRE_MYSQL=1 SESSIONKV_REQUIRE_DJANGO=1
fuzzscale=${SESSIONKV_FUZZSCALE:-100}
started=$SECONDS

step() { echo; echo "== $* ($((SECONDS - started))s)"; }

if [ "${SESSIONKV_SKIP_DEPS:-}" != 1 ]; then
  step "dependencies"
  ./scripts/redis-deps.sh
  ./scripts/sql-deps.sh
  ./scripts/django-deps.sh
  ./scripts/chromium-deps.sh
fi

step "gofmt"
unformatted=$(gofmt -l . | grep -v '/testdata/' || true)
if [ -n "$unformatted" ]; then
  echo "not gofmt-formatted:" >&2
  echo "$unformatted" >&2
  exit 1
fi

# go vet checks the packages built as the race-enabled tests build them,
# so that the tests reuse what it compiled instead of compiling everything
# a second time.
step "go vet"
go vet -race ./...
for mod in bench e2e; do
  (cd "$mod" && go vet -race ./...)
done

logs=$(mktemp -d)
cleanup() { # on any exit: the background jobs of an early failure, the logs
  for p in ${lane_a:-} ${lane_b:-}; do
    pkill -P "$p" 2>/dev/null || true
    kill "$p" 2>/dev/null || true
  done
  rm -rf "$logs"
}
trap cleanup EXIT

step "fuzzing (about 10s per target, two lanes) starts in the background, niced"
# The fuzzers run beside the race and browser tests at the lowest
# priority, so that they take only the CPU those leave idle (servers
# starting, timeouts, one long test binary) and do not slow them down; one
# after the other, the steps would not fit CI's ten minutes on two cores.
# Their results are checked at the end.
# Each target gets a count of executions, about ten seconds' worth here,
# not a duration: Go 1.26's fuzzer can fail a duration-bounded run with a
# bare "context deadline exceeded" when its deadline races a worker
# (go.dev/issue/75804), and a count has no deadline. -timeout still stops
# a hung target (generously: a niced target waits for idle CPU). The
# nostores tag leaves the root package's tests of the real stores out of
# its fuzzing build: instrumenting SQLite's Go port and the database
# drivers for the fuzzer would cost minutes.
fuzz() { # log package target executions
  local execs=$(($4 * fuzzscale / 100))
  nice -n 19 go test -tags nostores -run='^$' -fuzz="^$3\$" -fuzztime="${execs}x" -timeout=15m -parallel=1 "$2" >"$1" 2>&1 ||
    { cat "$1"; echo "fuzz $3 failed" >&2; return 1; }
  grep -q 'execs: ' "$1" || { cat "$1"; echo "fuzz $3 did not run" >&2; return 1; }
  echo "$3: $(grep -Eo 'execs: [0-9]+' "$1" | tail -1)"
}
lane() { # name, then package, target and executions triples
  local log="$logs/fuzz-$1.log"
  shift
  while [ $# -gt 0 ]; do
    fuzz "$log" "$1" "$2" "$3" || return 1
    shift 3
  done
}
lane a . FuzzMsgpackDecode 60000 . FuzzMsgpackMerge 60000 . FuzzRequestCookie 50000 . FuzzDecodeRecord 80000 . FuzzValidID 100000 ./djangosession FuzzOpen 2000 >"$logs/lane-a.log" 2>&1 &
lane_a=$!
# Lane b comes to the root package last, once lane a has built its fuzzing
# binary: two lanes building it at once would double that compile.
lane b ./cookiestore FuzzOpen 200000 ./boltstore FuzzCheck 5000 ./filestore FuzzDecodeFile 35000 ./redisstore FuzzDecodeValue 70000 . FuzzIndexMsgpack 60000 >"$logs/lane-b.log" 2>&1 &
lane_b=$!

step "go test -race (library, stores, commands, crash, soak, battery)"
go test -race -count=1 ./...

step "browser tests (headless Chromium)"
(cd e2e && go test -race -count=1 ./...)

step "the benchmark suite's tests, in smoke mode (every case runs; not its speed), at normal priority"
# Not niced: they start database servers with deadlines of their own.
(cd bench && go test -race -count=1 ./...)

step "fuzzing: waiting for it"
failed=0
wait "$lane_a" || failed=1
wait "$lane_b" || failed=1
cat "$logs/lane-a.log" "$logs/lane-b.log"
[ "$failed" = 0 ] || exit 1

echo; echo "== all checks passed in $((SECONDS - started))s"
