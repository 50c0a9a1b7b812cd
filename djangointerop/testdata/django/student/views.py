"""The seed's session views (programs 1 and 2 of the Django session
framework notes), and what the Go tests add to them: each of these has a
counterpart in the Go demo (cmd/sessiondemo/handlers.go) that uses the same
session keys."""

import json
import math

from django.http import HttpResponse
from django.shortcuts import render


def setsession(request):
    # Program 1.
    request.session["name"] = "Sonam"
    request.session["lname"] = "rathore"
    return render(request, "student/setsession.html")


def getsession(request):
    # Program 1's get with its default, and program 2's keys(), items()
    # and setdefault(): what the Go demo's /get/ shows.
    name = request.session.get("name", default="Guest")
    lname = request.session.get("lname", default="Guest")
    keys = request.session.keys()
    items = request.session.items()
    age = request.session.setdefault("age", "26")
    return render(
        request,
        "student/getsession.html",
        {"name": name, "lname": lname, "keys": keys, "items": items, "age": age},
    )


def delsession(request):
    if "name" in request.session:
        del request.session["name"]
        del request.session["lname"]
    return render(request, "student/delsession.html")


def flushsession(request):
    # Program 2's alternative: request.session.flush().
    request.session.flush()
    return HttpResponse("flushed\n", content_type="text/plain; charset=utf-8")


def count(request):
    # The Go demo's /count/: increments the int under "count" and prints
    # it; ?read=1 only prints it. ?expiry=N also calls set_expiry(N).
    n = request.session.get("count", 0)
    if not request.GET.get("read"):
        n += 1
        request.session["count"] = n
    if "expiry" in request.GET:
        request.session.set_expiry(int(request.GET["expiry"]))
    return HttpResponse("%d\n" % n, content_type="text/plain; charset=utf-8")


# A value of every JSON type Django's JSONSerializer stores.
ALL_TYPES = {
    "str": "Sonam",
    "unicode": "caf\u00e9 \u2615 \U0001f600 \u202e",
    "empty_str": "",
    "int": 42,
    "negative": -7,
    "big": 2**62,
    "zero": 0,
    "float": 3.25,
    "whole_float": 1.0,
    "tiny": 1e-7,
    "huge": 1e300,
    "inf": float("inf"),
    "neg_inf": float("-inf"),
    "true": True,
    "false": False,
    "none": None,
    "list": [1, "two", 3.0, None, [True, {"x": []}]],
    "dict": {"a": 1, "b": {"c": [None, False]}, "": "empty key"},
    "empty_list": [],
    "empty_dict": {},
}


def setall(request):
    for k, v in ALL_TYPES.items():
        request.session[k] = v
    return HttpResponse("ok\n", content_type="text/plain; charset=utf-8")


def typed(v):
    """v with each value tagged with its Python type, so that 1 and 1.0
    (and True and 1) stay apart in JSON."""
    if isinstance(v, dict):
        return ["dict", {k: typed(x) for k, x in v.items()}]
    if isinstance(v, list):
        return ["list", [typed(x) for x in v]]
    if isinstance(v, float) and not math.isfinite(v):
        return ["float", repr(v)]  # standard JSON has no infinities
    return [type(v).__name__, v]


def getall(request):
    # Every item, typed, as canonical JSON; "equal" says whether the
    # values of ALL_TYPES are all there, unchanged.
    items = dict(request.session.items())
    equal = all(k in items and typed(items[k]) == typed(v) for k, v in ALL_TYPES.items())
    body = json.dumps({"equal": equal, "items": typed(items)}, sort_keys=True)
    return HttpResponse(body, content_type="application/json")


def login(request):
    # What django.contrib.auth.login keeps in the session, for the tools
    # that list a user's sessions.
    request.session["_auth_user_id"] = request.GET["uid"]
    request.session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    return HttpResponse("ok\n", content_type="text/plain; charset=utf-8")
