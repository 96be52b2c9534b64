"""The real URL configuration plus the yardsticks the benches measure against (same middleware):
``/bench/bare/``, a view returning "ok" and nothing else, and ``/bench/bare-user/``, a view that
also reads the logged-in user (the session and the user: the least any page behind a login
costs), both for ``bench/review_pages.py``; ``/bench/bare-json/?size=N``, a bare Django
``JsonResponse`` of about N bytes (a fixed body built once, no database), for
``bench/panel_read.py``."""

from functools import cache
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

from labpanel.urls import urlpatterns as real_urlpatterns


def bare(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


@login_required
def bare_user(request: HttpRequest) -> HttpResponse:
    return HttpResponse(request.user.get_username())


@cache
def _json_body(size: int) -> dict[str, Any]:
    """A JSON body of about ``size`` bytes: rows shaped like a panel's results."""
    row = {
        "position": 1,
        "analyte": "IL6",
        "analyte_name": "IL-6",
        "value": "148.2",
        "comparator": "",
        "unit": "pg/mL",
        "interpretation": "H",
        "reference_interval": "0.0-7.0 pg/mL",
    }
    rows = max(1, size // (len(str(row)) + 1))
    return {"id": 1, "results": [{**row, "position": n} for n in range(1, rows + 1)]}


def bare_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse(_json_body(int(request.GET.get("size", "4000"))))


urlpatterns = [
    path("bench/bare/", bare),
    path("bench/bare-json/", bare_json),
    path("bench/bare-user/", bare_user),
    *real_urlpatterns,
]
