#!/usr/bin/env bash
# Installs what the djangosession tests need: Django importable by
# /usr/bin/python3, from the Debian package python3-django, when it is
# missing. Idempotent: does nothing when the import already works. The tests
# run Django's own signing and session code in-process in short Python
# scripts (djangosession/testdata/django_oracle.py).
set -euo pipefail
. "$(dirname "$0")/apt-install.sh"

python=/usr/bin/python3
if ! "$python" -c 'import django' >/dev/null 2>&1; then
  apt_install django-deps python3-django
  if ! "$python" -c 'import django' >/dev/null 2>&1; then
    echo "django-deps: the python3-django package did not make django importable by $python" >&2
    exit 1
  fi
fi
echo "django-deps: Django $("$python" -c 'import django; print(django.get_version())')"
