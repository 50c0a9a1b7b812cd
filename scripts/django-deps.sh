#!/usr/bin/env bash
# Installs what the Django tests need: Django and its PostgreSQL driver
# importable by /usr/bin/python3, from the Debian packages python3-django
# and python3-psycopg2, when they are missing. Idempotent: does nothing
# when the imports already work. The tests run Django's own code
# in-process from short Python scripts (djangosession/testdata,
# djangointerop/testdata).
set -euo pipefail
. "$(dirname "$0")/apt-install.sh"

python=/usr/bin/python3
# psycopg2 is Django's PostgreSQL driver, for the tests that share a
# PostgreSQL table with Django.
if ! "$python" -c 'import django, psycopg2' >/dev/null 2>&1; then
  apt_install django-deps python3-django python3-psycopg2
  if ! "$python" -c 'import django, psycopg2' >/dev/null 2>&1; then
    echo "django-deps: python3-django and python3-psycopg2 did not make django and psycopg2 importable by $python" >&2
    exit 1
  fi
fi
echo "django-deps: Django $("$python" -c 'import django; print(django.get_version())')"
