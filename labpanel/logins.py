"""Logins: sessions that end after idle time, the page a locked-out login gets, and what
django-axes writes to the log (the lockout itself is django-axes', configured in settings).

``SESSION_COOKIE_AGE`` (``LABPANEL_SESSION_IDLE_MINUTES``) is how long a session lives after it
was last saved; the database row's expiry is checked on every request, so an idle session is
over whatever the browser keeps. :class:`SessionIdleMiddleware` stamps a logged-in session
(one holding a login, on a request that read it: API token requests have none and get none, and
a view that needs no login does not count as activity) with the time whenever it is
saved anyway (the login itself), and saves it again once its stamp is
``SESSION_IDLE_REFRESH_SECONDS`` old, which moves the expiry (row and cookie) forward: one
session write a minute at most, not one per request as ``SESSION_SAVE_EVERY_REQUEST`` would (an
expiry is therefore up to a minute early, never late). A session without a stamp was not made by
a login request (a test's ``force_login``) and simply ends ``SESSION_COOKIE_AGE`` after it was
saved; the ones made before this policy were ended by migration accounts 0004.

:func:`lockout_response` is the "Login locked" page (429) the web login and the admin login
answer once ``AXES_FAILURE_LIMIT`` failures in a row locked a username at an address.
:func:`login_client_str` is django-axes' description of a login attempt in its log lines: the
address and the path, never the username typed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

SEEN_KEY = "_labpanel_seen"


class SessionIdleMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is None or not session.accessed:
            # Nothing of this request read the session (a view that needs no login, static
            # files): it is not the login's activity, and reading the row only to stamp it
            # would cost such a request a statement.
            return response
        if SESSION_KEY not in session:
            return response  # no login in this session (an API token request, a visitor)
        now = int(time.time())
        seen = session.get(SEEN_KEY)
        stale = isinstance(seen, int) and now - seen >= settings.SESSION_IDLE_REFRESH_SECONDS
        if session.modified or stale:
            # A change marks the session modified: SessionMiddleware (outside this one) saves
            # it with a fresh expiry and sends the cookie again.
            session[SEEN_KEY] = now
        return response


def login_client_str(
    username: str, ip_address: str, user_agent: str, path_info: Any, request: HttpRequest
) -> str:
    """How django-axes names a login attempt in its log: address and path only."""
    path = path_info[0] if isinstance(path_info, tuple | list) else path_info
    return f"ip_address={ip_address} path={path}"


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: Any
) -> HttpResponse:
    """The "Login locked" page: how many failures locked the login and for how long."""
    response = TemplateResponse(
        request,
        "registration/locked_out.html",
        {
            "failure_limit": settings.AXES_FAILURE_LIMIT,
            "lockout_minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
        },
        status=settings.AXES_HTTP_RESPONSE_CODE,
    )
    return response.render()
