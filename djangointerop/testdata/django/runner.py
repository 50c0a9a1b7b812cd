"""Serves the seed's Django project (URLs sessionframework.urls, views
student.views) to the Go tests through Django's test client, in one
long-lived process.

Usage: runner.py CONFIG

CONFIG is a JSON object of the session settings:

  engine       "db", "file" or "signed_cookies" (SESSION_ENGINE's last part)
  secret_key   SECRET_KEY
  file_path    SESSION_FILE_PATH (optional)
  cookie_age   SESSION_COOKIE_AGE in seconds (optional)
  database     Django's DATABASES["default"] (optional: an unused in-memory
               SQLite database)
  migrate      true to run the sessions app's migration first, with
               --fake-initial (a table the Go store made is taken as is)

Once Django is set up the runner prints {"ready": true, "django": version}
on one line, then reads requests, one JSON array of them per line of
stdin, and answers each line with one line: a JSON array of responses, in
order. A request is an object:

  path         the path and query, as in "/count/?read=1"
  cookie       the session cookie to send (optional)
  secret_key   SECRET_KEY for this request alone (optional)
  time         what time.time() and timezone.now() return during the
               request, in Unix seconds (optional: the real time)

A response is {"status", "body", "cookie"}: "cookie" is null when Django
set no session cookie, else {"value", "max_age", "expires"}; a deleted
cookie has the value "". A view that raised gives {"error": the
exception}. Each request gets a new test client, which sends no cookie
but the one given: the Go test plays the browser.
"""

import contextlib
import datetime
import json
import os
import sys
import traceback
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

config = json.loads(sys.argv[1])

from django.conf import settings  # noqa: E402

settings.configure(
    DEBUG=False,
    SECRET_KEY=config["secret_key"],
    ALLOWED_HOSTS=["testserver"],
    INSTALLED_APPS=["django.contrib.sessions", "student"],
    # The seed's middleware, less the apps this project leaves out
    # (admin, auth, messages).
    MIDDLEWARE=[
        "django.middleware.security.SecurityMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    ],
    ROOT_URLCONF="sessionframework.urls",
    TEMPLATES=[
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "DIRS": [],
            "APP_DIRS": True,
            "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
        }
    ],
    DATABASES={"default": config.get("database") or {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    SESSION_ENGINE="django.contrib.sessions.backends." + config["engine"],
    SESSION_FILE_PATH=config.get("file_path") or None,
    SESSION_COOKIE_AGE=config.get("cookie_age") or 1209600,
    USE_TZ=True,
    TIME_ZONE="UTC",
    DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import override_settings, setup_test_environment  # noqa: E402

setup_test_environment()
if config.get("migrate"):
    call_command("migrate", "sessions", fake_initial=True, verbosity=0, interactive=False)


def serve(req):
    client = Client()
    if req.get("cookie"):
        client.cookies[settings.SESSION_COOKIE_NAME] = req["cookie"]
    with contextlib.ExitStack() as stack:
        if req.get("secret_key"):
            stack.enter_context(override_settings(SECRET_KEY=req["secret_key"]))
        if req.get("time") is not None:
            t = float(req["time"])
            now = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
            stack.enter_context(mock.patch("time.time", return_value=t))
            stack.enter_context(mock.patch("django.utils.timezone.now", return_value=now))
        try:
            resp = client.get(req["path"])
        except Exception as e:  # noqa: BLE001 - reported to the Go test
            return {"error": "".join(traceback.format_exception_only(type(e), e)).strip()}
    out = {"status": resp.status_code, "body": resp.content.decode("utf-8"), "cookie": None}
    m = resp.cookies.get(settings.SESSION_COOKIE_NAME)
    if m is not None:
        out["cookie"] = {"value": m.value, "max_age": str(m["max-age"]), "expires": m["expires"]}
    return out


def main():
    print(json.dumps({"ready": True, "django": django.get_version()}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        print(json.dumps([serve(r) for r in json.loads(line)]), flush=True)


main()
