"""Runs Django's own session and signing code for the djangosession tests.

Reads one JSON object {"ops": [...]} on stdin and prints {"results": [...],
"zlib": version}, one result per op, and the version of the zlib Python
uses. Objects travel as JSON text ("obj"), which json.loads turns
into the Python values Django sees; decoded sessions come back as canonical
JSON text: json.dumps(d, separators=(",", ":"), sort_keys=True).

Ops (every op may carry "key", the SECRET_KEY, and "time", the value
time.time() returns while it runs):

  dumps        signing.dumps(obj, salt=salt, compress=True)     -> out
  loads        signing.loads(signed, salt=salt, max_age=max_age) -> out | error
  encode       <backend>.SessionStore().encode(obj)             -> out
  decode       <backend>.SessionStore().decode(data)            -> out ({} on bad data)
  cookie_save  signed_cookies.SessionStore: update(obj); save() -> out (the cookie)
  cookie_load  signed_cookies.SessionStore(cookie).load()       -> out, reset
  pycase       SessionStore().encode(PY_CASES[name])            -> out, canon
  validate_key _validate_session_key(k), file backend's check    -> valid, file_ok
  isoformat    datetime(...).isoformat() variants                -> out (JSON list)

File backend ops, in the directory "dir" (SESSION_FILE_PATH), with
"cookie_name" (SESSION_COOKIE_NAME, default "sessionid") and "age"
(SESSION_COOKIE_AGE, default 1209600); "time" also freezes
timezone.now():

  file_save    file.SessionStore(session_key): update(obj), pop each of
               "remove", set_expiry("expiry") if given (null: None),
               set_expiry(datetime at "expiry_at") if given; save()
                                                          -> out (the key) | error
  file_load    file.SessionStore(session_key).load(), its create() a no-op
               as in clear_expired                        -> out, exists (the file,
               afterwards), age (get_expiry_age()), browser_close | error
  file_delete  file.SessionStore(session_key).delete()    -> exists
  file_clear   file.SessionStore.clear_expired()          -> out (JSON list of
               the directory's names afterwards)

"salt": null means the default salt of signing.dumps/loads.
"""

import datetime
import json
import os
import sys
import time
import zlib
from unittest import mock

from django.conf import settings

settings.configure(
    SECRET_KEY="placeholder",
    INSTALLED_APPS=["django.contrib.sessions"],
    SESSION_COOKIE_AGE=1209600,
    USE_TZ=True,
)

import django  # noqa: E402

django.setup()

from django.contrib.sessions.backends import cached_db, db, file, signed_cookies  # noqa: E402
from django.contrib.sessions.backends.base import VALID_KEY_CHARS  # noqa: E402
from django.core import signing  # noqa: E402

BACKENDS = {"db": db, "file": file, "cached_db": cached_db}


def canon(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=True)


# Values only Python can make, which Go reads back (or refuses).
PY_CASES = {
    # Insertion order that is not sorted: Go reads it, writes it sorted.
    "unsorted": {"b": 1, "a": {"z": 1, "y": [2, 1]}},
    # Integers beyond the 64-bit range: Go refuses the session.
    "bigint": {"n": 2**70},
    "bigneg": {"n": -(2**63) - 1},
    # The edges of what Go holds.
    "maxuint": {"max": 2**64 - 1, "min": -(2**63), "maxint": 2**63 - 1},
    # Non-finite floats, which Python's json writes.
    "nonfinite": {"nan": float("nan"), "inf": float("inf"), "ninf": float("-inf")},
    # A lone surrogate: Go reads U+FFFD.
    "surrogate": {"s": "a\ud800b"},
    # A tuple is a list in JSON.
    "tuple": {"t": (1, "two", 3.0)},
    # Floats of every form repr takes.
    "floats": {"f": [1.0, 0.1, -0.0, 1e16, 1e15, 1e-05, 0.0001, 1.5e-07, 5e-324, 1.7976931348623157e308, 123456789.125, 2.5e-300]},
    # set_expiry(int) and the auth keys, as login() leaves them.
    "auth": {
        "_auth_user_id": "42",
        "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
        "_auth_user_hash": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "_session_expiry": 300,
    },
}


def run(op):
    kind = op["op"]
    if "key" in op:
        settings.SECRET_KEY = op["key"]
    settings.SESSION_COOKIE_AGE = op.get("age", 1209600)
    settings.SESSION_COOKIE_NAME = op.get("cookie_name", "sessionid")
    if "dir" in op:
        file.SessionStore._storage_path = op["dir"]
    now = op.get("time", time.time())
    aware = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
    with mock.patch("time.time", return_value=now), mock.patch("django.utils.timezone.now", return_value=aware):
        if kind.startswith("file_"):
            try:
                return run_file(kind, op)
            except Exception as e:  # noqa: BLE001 - the class name is the answer
                return {"error": type(e).__name__}
        if kind == "dumps":
            kwargs = {"compress": True}
            if op.get("salt") is not None:
                kwargs["salt"] = op["salt"]
            return {"out": signing.dumps(json.loads(op["obj"]), **kwargs)}
        if kind == "loads":
            kwargs = {"max_age": op.get("max_age")}
            if op.get("salt") is not None:
                kwargs["salt"] = op["salt"]
            try:
                return {"out": canon(signing.loads(op["signed"], **kwargs))}
            except signing.BadSignature as e:
                return {"error": type(e).__name__}
            except Exception as e:  # noqa: BLE001 - the class name is the answer
                return {"error": type(e).__name__}
        if kind == "encode":
            store = BACKENDS[op["backend"]].SessionStore()
            return {"out": store.encode(json.loads(op["obj"]))}
        if kind == "decode":
            store = BACKENDS[op["backend"]].SessionStore()
            return {"out": canon(store.decode(op["data"]))}
        if kind == "cookie_save":
            store = signed_cookies.SessionStore()
            store.update(json.loads(op["obj"]))
            store.save()
            return {"out": store.session_key}
        if kind == "cookie_load":
            store = signed_cookies.SessionStore(op["cookie"])
            data = store.load()
            return {"out": canon(data), "reset": store.modified}
        if kind == "pycase":
            value = PY_CASES[op["name"]]
            out = db.SessionStore().encode(value)
            return {"out": out, "canon": canon(db.SessionStore().decode(out))}
        if kind == "validate_key":
            key = op["session_key"]
            store = db.SessionStore()
            return {
                "valid": bool(store._validate_session_key(key)),
                "file_ok": set(key).issubset(VALID_KEY_CHARS),
            }
        if kind == "isoformat":
            utc = datetime.timezone.utc
            ist = datetime.timezone(datetime.timedelta(hours=5, minutes=30))
            times = [
                datetime.datetime(2026, 5, 1, 12, 0, 0, tzinfo=utc),
                datetime.datetime(2026, 5, 1, 12, 0, 0, 123456, tzinfo=utc),
                datetime.datetime(2026, 5, 1, 17, 30, 0, 5, tzinfo=ist),
                datetime.datetime(2026, 5, 1, 12, 0, 0),  # naive
            ]
            return {"out": json.dumps([[t.isoformat(), t.replace(tzinfo=t.tzinfo or utc).timestamp()] for t in times])}
    raise ValueError("unknown op %r" % kind)


def run_file(kind, op):
    key = op.get("session_key")
    if kind == "file_save":
        store = file.SessionStore(key)
        store.update(json.loads(op.get("obj", "{}")))
        for k in op.get("remove", []):
            store.pop(k, None)
        if "expiry" in op:
            store.set_expiry(op["expiry"])
        if "expiry_at" in op:
            store.set_expiry(datetime.datetime.fromtimestamp(op["expiry_at"], datetime.timezone.utc))
        store.save()
        return {"out": store.session_key}
    if kind == "file_load":
        store = file.SessionStore(key)
        store.create = lambda: None
        data = store.load()
        path = os.path.join(op["dir"], settings.SESSION_COOKIE_NAME + key)
        store._session_cache = data
        age = store.get_expiry_age()
        return {
            "out": canon(data),
            "exists": os.path.exists(path),
            "age": age if isinstance(age, (int, float)) else None,
            "browser_close": store.get_expire_at_browser_close(),
        }
    if kind == "file_delete":
        file.SessionStore(key).delete()
        return {"exists": os.path.exists(os.path.join(op["dir"], settings.SESSION_COOKIE_NAME + key))}
    if kind == "file_clear":
        file.SessionStore.clear_expired()
        return {"out": json.dumps(sorted(os.listdir(op["dir"])))}
    raise ValueError("unknown op %r" % kind)


def main():
    ops = json.load(sys.stdin)["ops"]
    json.dump({"results": [run(op) for op in ops], "zlib": zlib.ZLIB_RUNTIME_VERSION}, sys.stdout)


main()
