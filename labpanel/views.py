"""Project-level views: the home page (each user's own, by ``access.home_url_name``) and the
health check used by the launcher and docker compose."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect

from labpanel.accounts import access


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Where a user lands after login: a clinician's inbox, the lab staff's import page."""
    return redirect(access.home_url_name(request.user))


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
