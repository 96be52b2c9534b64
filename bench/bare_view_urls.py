"""The real URL configuration plus the yardsticks the benches measure against (same middleware):
``/bench/bare/``, a view returning "ok" and nothing else, and ``/bench/bare-user/``, a view that
also reads the logged-in user (the session and the user: the least any page behind a login
costs), both for ``bench/review_pages.py``; ``/bench/bare-json/?size=N``, a bare Django
``JsonResponse`` of about N bytes (a fixed body built once, no database), and
``/bench/floor-read/<pk>/``, the least an audited token read of a stored document can do, both
for ``bench/panel_read.py``."""

import hmac
import json
from functools import cache
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.urls import path
from django.utils import timezone
from knox.crypto import hash_token
from knox.settings import CONSTANTS

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


def floor_read(request: HttpRequest, pk: int) -> HttpResponse:
    """The floor of ``GET /api/v1/panels/{pk}/`` (issue 14): what any token-authenticated,
    read-audited answer of a stored panel document costs under the same middleware, with none
    of the product's choices. Three statements on the same connection as the read's (prepared
    the same way): the token's row by its key (its digest compared), the stored document as
    text, answered as it is (no parse, no reports spliced in), and the read audit's INSERT
    with synchronous_commit off. No DRF, no lab or care scope, no history check."""
    key = request.headers.get("Authorization", "").removeprefix("Token ")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t.digest, t.user_id FROM knox_authtoken t WHERE t.token_key = %s",
            [key[: CONSTANTS.TOKEN_KEY_LENGTH]],
        )
        found = cursor.fetchone()
        if found is None or not hmac.compare_digest(hash_token(key), found[0]):
            return HttpResponseForbidden()
        cursor.execute(
            "SELECT d.detail::text, p.patient_id FROM panels_paneldocument d "
            "JOIN panels_panel p ON p.id = d.panel_id WHERE d.panel_id = %s",
            [pk],
        )
        document, patient_id = cursor.fetchone()
        cursor.execute(
            "INSERT INTO audit_readentry (occurred_at, user_id, token_id, channel, view, path,"
            " user_agent, patient_ids, panel_ids, report_ids)"
            " SELECT %s, %s, %s, 'token', 'floor', %s, '', %s::jsonb, %s::jsonb, '[]'::jsonb"
            " FROM (SELECT set_config('synchronous_commit', 'off', true)) AS without_flush",
            [
                timezone.now(),
                found[1],
                found[0],
                request.path,
                json.dumps([patient_id]),
                json.dumps([pk]),
            ],
        )
    return HttpResponse(document, content_type="application/json")


urlpatterns = [
    path("bench/floor-read/<int:pk>/", floor_read),
    path("bench/bare/", bare),
    path("bench/bare-json/", bare_json),
    path("bench/bare-user/", bare_user),
    *real_urlpatterns,
]
