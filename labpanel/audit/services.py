"""Recording a read: ``read_record`` writes ONE row per request that returned patient data.

A view calls it with the ids its answer actually carried (a list: the ids of the page
returned), after the answer's data is built and before it is returned, in autocommit (or in the
request's transaction when there is one): the entry is stored before the client has the data,
never by a thread after it. If the insert fails the request fails; no unrecorded read is served.

Where the request came from: the client's address is ``REMOTE_ADDR`` unless the deployment says
how many proxies it trusts (``LABPANEL_AUDIT_PROXY_HOPS``, default 0): with N, the N-th address
from the right of ``X-Forwarded-For`` (the one the nearest trusted proxy saw), and
``REMOTE_ADDR`` when the header has fewer entries (the request did not come through them). A
client can prepend anything to ``X-Forwarded-For``; only the entries the trusted proxies
appended are read.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from labpanel.accounts import access
from labpanel.audit.models import Channel, ReadEntry

USER_AGENT_MAX = 400
PATH_MAX = 400


def _ids(values: Iterable[int | None]) -> list[int]:
    """Distinct integer ids in the order given (``None`` left out)."""
    return list(dict.fromkeys(int(value) for value in values if value is not None))


def _http_request(request: Any) -> HttpRequest:
    """The Django request under a DRF ``Request`` (or the request itself)."""
    inner = getattr(request, "_request", None)
    return inner if isinstance(inner, HttpRequest) else request


def client_address(request: HttpRequest) -> str | None:
    """The client's IP address as the policy above reads it, or ``None`` when it is not one."""
    hops = int(getattr(settings, "LABPANEL_AUDIT_PROXY_HOPS", 0))
    address = request.META.get("REMOTE_ADDR", "")
    if hops > 0:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= hops:
            address = forwarded[-hops]
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def _token_id(request: Any) -> str:
    """The API token's id (knox's digest, its primary key) when the request was token-
    authenticated, else ""."""
    digest = getattr(getattr(request, "auth", None), "digest", None)
    return str(digest) if digest else ""


def _view_name(request: HttpRequest) -> tuple[str, bool]:
    match = request.resolver_match
    if match is None:
        return "", False
    return match.view_name or "", "admin" in match.app_names


def read_record(
    *,
    request: Any,
    patient_ids: Iterable[int | None] = (),
    panel_ids: Iterable[int | None] = (),
    report_ids: Iterable[int | None] = (),
    import_job_id: int | None = None,
    lab_id: int | None = None,
) -> ReadEntry:
    """Record that ``request`` (a Django ``HttpRequest`` or DRF ``Request``) read the data of
    ``patient_ids`` (their panels ``panel_ids``, reports ``report_ids``, import job
    ``import_job_id``): one INSERT. ``lab_id`` is the lab of the data read; by default the
    reader's lab. Returns the stored entry; raises what the database raises (the read then
    fails: no answer without its entry)."""
    http = _http_request(request)
    user = getattr(request, "user", None)
    user_id = user.pk if user is not None and user.is_authenticated else None
    token_id = _token_id(request)
    view, in_admin = _view_name(http)
    if token_id:
        channel = Channel.TOKEN
    elif in_admin:
        channel = Channel.ADMIN
    else:
        channel = Channel.SESSION
    if lab_id is None:
        staff = access.staff_for(user)
        lab_id = staff.lab_id if staff is not None else None
    return ReadEntry.objects.create(
        lab_id=lab_id,
        user_id=user_id,
        token_id=token_id,
        channel=channel,
        view=view[:120],
        path=http.path[:PATH_MAX],
        ip=client_address(http),
        user_agent=http.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_MAX],
        patient_ids=_ids(patient_ids),
        panel_ids=_ids(panel_ids),
        report_ids=_ids(report_ids),
        import_job_id=import_job_id,
    )
