"""Recording a read: ``read_record`` writes ONE row per request that returned patient data.

A view calls it with the ids its answer actually carried (a list: the ids of the page
returned), after the answer's data is built and before it is returned, in autocommit (or in the
request's transaction when there is one): the entry is committed before the client has the data,
never by a thread after it. If the insert fails the request fails; no unrecorded read is served.
On PostgreSQL in autocommit the one INSERT commits without waiting for the WAL flush (see
``_INSERT``).

A read of one row can also write its entry in the statement that reads it
(:func:`one_read_recorded`): the entry is then written if and only if the row was found, with
the row's own ids, and the read costs one round trip instead of two. ``read_recording`` gives
what the entry says of the reader (who, how, from where, when), known before the read.

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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
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


@dataclass(frozen=True, slots=True)
class ReadRecording:
    """What a read's audit entry says of the reader, known before the read: the request, when,
    the lab, the user, the token, the channel, the view, the path, the address and the
    client."""

    request: HttpRequest
    occurred_at: datetime
    lab_id: int | None
    user_id: int | None
    token_id: str
    channel: str
    view: str
    path: str
    ip: str | None
    user_agent: str


def read_recording(*, request: Any, lab_id: int | None = None) -> ReadRecording:
    """The entry's fields for a read by ``request`` (a Django ``HttpRequest`` or DRF
    ``Request``); ``lab_id`` is the lab of the data read, by default the reader's lab."""
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
    return ReadRecording(
        request=http,
        occurred_at=timezone.now(),
        lab_id=lab_id,
        user_id=user_id,
        token_id=token_id,
        channel=channel,
        view=view[:120],
        path=http.path[:PATH_MAX],
        ip=client_address(http),
        user_agent=http.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_MAX],
    )


def read_recorded(
    recording: ReadRecording,
    *,
    patient_ids: Iterable[int | None] = (),
    panel_ids: Iterable[int | None] = (),
    report_ids: Iterable[int | None] = (),
    import_job_id: int | None = None,
) -> dict[str, Any]:
    """What the entry of ``recording`` records as read, kept on the request: an answer
    replayed for an Idempotency-Key (``labpanel.idempotency``) records it again."""
    read = {
        "patient_ids": _ids(patient_ids),
        "panel_ids": _ids(panel_ids),
        "report_ids": _ids(report_ids),
        "import_job_id": import_job_id,
        "lab_id": recording.lab_id,
    }
    recording.request.__dict__.setdefault(READS_ATTRIBUTE, []).append(read)
    return read


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
    recording = read_recording(request=request, lab_id=lab_id)
    read = read_recorded(
        recording,
        patient_ids=patient_ids,
        panel_ids=panel_ids,
        report_ids=report_ids,
        import_job_id=import_job_id,
    )
    entry = ReadEntry(
        occurred_at=recording.occurred_at,
        lab_id=recording.lab_id,
        user_id=recording.user_id,
        token_id=recording.token_id,
        channel=recording.channel,
        view=recording.view,
        path=recording.path,
        ip=recording.ip,
        user_agent=recording.user_agent,
        patient_ids=read["patient_ids"],
        panel_ids=read["panel_ids"],
        report_ids=read["report_ids"],
        import_job_id=import_job_id,
    )
    connection = connections[router.db_for_write(ReadEntry)]
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        _insert_committed_without_flush(entry, connection)
    else:
        entry.save(force_insert=True)
    return entry


def one_read_recorded(
    recording: ReadRecording,
    sql: str,
    params: Sequence[Any],
    *,
    patient_id: str,
    panel_id: str,
    report_ids: str,
) -> tuple[str, tuple[Any, ...]]:
    """``sql`` (with ``params``), a read of at most one row, as ONE statement that also writes
    the read's audit entry when it finds the row, and none when it finds none. Its rows are
    the read's own. ``patient_id`` and ``panel_id`` name the row's columns; ``report_ids`` is
    an SQL expression over the row (``found``) giving the reports' ids as a JSONB array.
    PostgreSQL only. In autocommit the entry commits without waiting for the WAL flush, as
    ``_INSERT``'s does; inside a transaction it commits with it. The caller then calls
    :func:`read_recorded` with the row's ids."""
    connection = connections[router.db_for_write(ReadEntry)]
    without_flush = (
        ""
        if connection.in_atomic_block
        else " CROSS JOIN (SELECT set_config('synchronous_commit', 'off', true)) AS without_flush"
    )
    statement = (
        f"WITH found AS ({sql}), recorded AS ("  # noqa: S608 - the caller's SQL, columns
        f"{_INSERT_COLUMNS} SELECT %s, %s, %s, %s, %s, %s, %s, %s::inet, %s,"
        f" jsonb_build_array(found.{patient_id}), jsonb_build_array(found.{panel_id}),"
        f" {report_ids}, NULL FROM found{without_flush})"
        " SELECT found.* FROM found"
    )
    return statement, (
        *params,
        recording.occurred_at,
        recording.lab_id,
        recording.user_id,
        recording.token_id,
        recording.channel,
        recording.view,
        recording.path,
        recording.ip,
        recording.user_agent,
    )


# The entry's INSERT in autocommit, as ONE statement that also sets ``synchronous_commit`` off
# for its own transaction (``set_config(..., true)``: local to it): the row is committed before
# the answer is sent, and the commit does not wait for the WAL to reach the disk. Only a crash of
# the PostgreSQL server (not of the web process) in the following moment (at most three times
# ``wal_writer_delay``: 0.6 s by default) could lose it; the fsync it saves costs a read about
# 2 ms here (bench/read_audit.py). Inside a transaction the row simply commits with it.
_INSERT_COLUMNS = (
    "INSERT INTO audit_readentry (occurred_at, lab_id, user_id, token_id, channel, view, path,"
    " ip, user_agent, patient_ids, panel_ids, report_ids, import_job_id)"
)
_INSERT = (
    f"{_INSERT_COLUMNS}"  # noqa: S608 - constant text
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
