"""Failed logins throttled by account and by address (django-axes), on /login/ and the admin.

Why: 60 wrong passwords in 17 s, then the right one, logged in. Axes counts
failures in the database (every web process shares them) per username and
per client address, separately: after LOGIN_FAILURE_LIMIT failures of one
account, or from one address, that account, or that address, is refused,
the right password included, for LOGIN_COOLOFF_MINUTES (each attempt during
the lockout starts the wait again). Other accounts from other addresses log
in as before. The address is the connection's (REMOTE_ADDR): behind a proxy,
uvicorn sets it from X-Forwarded-For of FORWARDED_ALLOW_IPS only, so a client
cannot pick one per attempt.
"""

from __future__ import annotations

import math

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_cool_off
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string


class LoginThrottle(AxesStandaloneBackend):
    """Axes' check before Django's ModelBackend. A call of `authenticate()`
    without a request (a management command, the test client's `login()`)
    is no login attempt from a client: it is neither counted nor refused."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def minutes_in_words(minutes: int) -> str:
    if minutes < 60:
        return "1 minute" if minutes == 1 else f"{minutes} minutes"
    hours = math.ceil(minutes / 60)
    return "1 hour" if hours == 1 else f"{hours} hours"


def lockout_response(
    request: HttpRequest, original_response=None, credentials=None
) -> HttpResponse:
    """429 with Retry-After, and a page saying in plain words when to try again
    (AXES_LOCKOUT_CALLABLE): the login page and the admin's alike."""
    cool_off = get_cool_off(request)
    seconds = int(cool_off.total_seconds()) if cool_off else 0
    wait = minutes_in_words(max(1, math.ceil(seconds / 60)))
    body = render_to_string(
        "registration/locked_out.html",
        {"wait": wait, "login_url": request.path},
        request=request,
    )
    response = HttpResponse(body, status=429)
    if seconds:
        response["Retry-After"] = str(seconds)
    return response
