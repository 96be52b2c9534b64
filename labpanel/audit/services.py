"""Recording a read: ``read_record`` writes ONE row per request that returned patient data.

A view calls it with the ids its answer actually carried (a list: the ids of the page
returned), after the answer's data is built and before it is returned, in autocommit (or in the
request's transaction when there is one): the entry is committed before the client has the data,
never by a thread after it. If the insert fails the request fails; no unrecorded read is served.
On PostgreSQL in autocommit the one INSERT commits without waiting for the WAL flush (see
``_INSERT``).

Where the request came from: the client's address is ``REMOTE_ADDR`` unless the deployment says
how many proxies it trusts (``LABPANEL_AUDIT_PROXY_HOPS``, default 0): with N, the N-th address
from the right of ``X-Forwarded-For`` (the one the nearest trusted proxy saw), and
``REMOTE_ADDR`` when the header has fewer entries (the request did not come through them). A
client can prepend anything to ``X-Forwarded-For``; only the entries the trusted proxies
appended are read.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import connections, router
from django.http import HttpRequest
from django.utils import timezone

from labpanel.accounts import access
from labpanel.audit.models import Channel, ReadEntry

USER_AGENT_MAX = 400
PATH_MAX = 400


def _ids(values: Iterable[int | None]) -> list[int]:
    """Distinct integer ids in the order given (``None`` left out)."""
    return list(dict.fromkeys(int(value) for value in values if value is not None))


READS_ATTRIBUTE = "labpanel_reads"


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
    entry = ReadEntry(
        occurred_at=timezone.now(),
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
    # what was read, kept on the request: an answer replayed for an Idempotency-Key
    # (labpanel.idempotency) records it again
    http.__dict__.setdefault(READS_ATTRIBUTE, []).append(
        {
            "patient_ids": entry.patient_ids,
            "panel_ids": entry.panel_ids,
            "report_ids": entry.report_ids,
            "import_job_id": import_job_id,
            "lab_id": lab_id,
        }
    )
    connection = connections[router.db_for_write(ReadEntry)]
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        _insert_committed_without_flush(entry, connection)
    else:
        entry.save(force_insert=True)
    return entry


# The entry's INSERT in autocommit, as ONE statement that also sets ``synchronous_commit`` off
# for its own transaction (``set_config(..., true)``: local to it): the row is committed before
# the answer is sent, and the commit does not wait for the WAL to reach the disk. Only a crash of
# the PostgreSQL server (not of the web process) in the following moment (at most three times
# ``wal_writer_delay``: 0.6 s by default) could lose it; the fsync it saves costs a read about
# 2 ms here (bench/read_audit.py). Inside a transaction the row simply commits with it.
_INSERT = (
    "INSERT INTO audit_readentry (occurred_at, lab_id, user_id, token_id, channel, view, path,"
    " ip, user_agent, patient_ids, panel_ids, report_ids, import_job_id)"
    " SELECT %s, %s, %s, %s, %s, %s, %s, %s::inet, %s, %s::jsonb, %s::jsonb, %s::jsonb, %s"
    " FROM (SELECT set_config('synchronous_commit', 'off', true)) AS without_flush"
    " RETURNING id"
)


def _insert_committed_without_flush(entry: ReadEntry, connection: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT,
            [
                entry.occurred_at,
                entry.lab_id,
                entry.user_id,
                entry.token_id,
                entry.channel,
                entry.view,
                entry.path,
                entry.ip,
                entry.user_agent,
                json.dumps(entry.patient_ids),
                json.dumps(entry.panel_ids),
                json.dumps(entry.report_ids),
                entry.import_job_id,
            ],
        )
        row = cursor.fetchone()
    entry.pk = row[0]
    entry._state.adding = False
    entry._state.db = connection.alias
