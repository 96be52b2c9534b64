"""Project-level views: the home page (each user's own, by ``access.home_url_name``), the
health check used by the launcher and docker compose, and the 404 for a URL nothing matches
(in the API's error shape under ``/api/``, Django's page elsewhere)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views import defaults

from labpanel.accounts import access


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Where a user lands after login: a clinician's inbox, the lab staff's import page."""
    return redirect(access.home_url_name(request.user))


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """``handler404``: an API client gets JSON, as from every other API answer."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"code": "not_found", "message": "Not found.", "details": []}, status=404
        )
    return defaults.page_not_found(request, exception)
