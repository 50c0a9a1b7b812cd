#!/usr/bin/env bash
# Installs what the SQL store tests need when it is missing: PostgreSQL's
# initdb and postgres (the Debian package postgresql, which puts them in
# /usr/lib/postgresql/N/bin, off PATH) and MariaDB's mariadbd and
# mariadb-install-db (the Debian package mariadb-server). Idempotent: does
# nothing when they are already there. The tests start their own servers on
# free loopback ports, from a data directory of their own; see the package
# sqlstore/sqltest.
set -euo pipefail
. "$(dirname "$0")/apt-install.sh"

# postgres_bin prints the newest /usr/lib/postgresql/N/bin that has both
# programs, else the directory of both on PATH, as sqltest looks for them.
postgres_bin() {
  local dir
  for dir in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -t/ -k5,5Vr); do
    if [ -x "$dir/initdb" ] && [ -x "$dir/postgres" ]; then
      echo "$dir"
      return
    fi
  done
  if command -v initdb >/dev/null 2>&1 && command -v postgres >/dev/null 2>&1; then
    dirname "$(command -v postgres)"
  fi
}

# mariadb_path prints the path of the first of its arguments found on PATH
# or in /usr/sbin (which is not on every user's PATH).
mariadb_path() {
  local name
  for name in "$@"; do
    if command -v "$name" >/dev/null 2>&1; then
      command -v "$name"
      return
    fi
    if [ -x "/usr/sbin/$name" ]; then
      echo "/usr/sbin/$name"
      return
    fi
  done
}

packages=()
[ -n "$(postgres_bin)" ] || packages+=(postgresql)
if [ -z "$(mariadb_path mariadbd mysqld)" ] || [ -z "$(mariadb_path mariadb-install-db mysql_install_db)" ]; then
  packages+=(mariadb-server)
fi
if [ ${#packages[@]} -gt 0 ]; then
  # On hosts with an init system the packages also start system servers on
  # ports 5432 and 3306; the tests neither use nor mind them.
  apt_install sql-deps "${packages[@]}"
fi
pg=$(postgres_bin)
[ -n "$pg" ] || { echo "sql-deps: PostgreSQL's initdb and postgres are still missing" >&2; exit 1; }
mariadbd=$(mariadb_path mariadbd mysqld)
[ -n "$mariadbd" ] || { echo "sql-deps: MariaDB's mariadbd is still missing" >&2; exit 1; }
echo "sql-deps: $("$pg/postgres" --version) ($pg)"
echo "sql-deps: $("$mariadbd" --version)"
