"""The API's pagination: ``?limit=`` and ``?offset=``, 50 a page by default, never more than
``MAX_LIMIT`` whatever the caller asks (a larger ``limit`` is answered with ``MAX_LIMIT``).

Lists newest first (``created_at`` DESC, ``id`` DESC) also page by cursor
(:class:`NewestFirstPagination`), for integrators who poll: a request naming ``?cursor=``
(empty for the first page) is answered ``{"next", "previous", "results"}`` (DRF's
``CursorPagination`` shape, no ``count``), each link carrying an opaque cursor. A cursor is
the position of a page's edge, ``(created_at, id)``, signed (``django.core.signing``), and the
next page is the rows strictly past it in the list's order (a keyset, not an offset): rows
created between two requests neither repeat nor push rows off, and no count is asked.
``previous`` (the ``limit`` rows just newer than a page, answered newest first) is given even
when none is newer yet, so that a client polling for new rows keeps its place;
``next`` is ``null`` past the oldest row. A cursor not signed here answers 400.

A page that sets the newest edge a poller keeps (the first page, and every ``previous`` page)
serves only rows that are settled: created before every transaction still in progress began
that has written anything (PostgreSQL's ``pg_stat_activity``: ``xact_start`` of those with a
``backend_xid``; one that has written nothing stamps its rows when it writes them, so a
session left open reading holds nothing back), less ``LABPANEL_CURSOR_SETTLE_SECONDS`` (the
clocks of the web hosts and the database may differ; 1 s by default). A panel's ``created_at``
is stamped inside its transaction, which can commit after a later panel's: without this, a
poller that had already moved its edge past the later panel never saw the earlier one (its
``previous`` asks only for rows newer than the edge). Held back, such rows come on a later
poll; a transaction left open holds the newest rows back until it ends (a delay, never a
loss). Sessions of other database roles are not seen (their ``xact_start`` is hidden): panels
are written by the application's own role. On SQLite (the embedded mode, one writer at a time)
the settle time alone applies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from django.conf import settings
from django.core import signing
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

MAX_LIMIT = 500


class LabpanelPagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = MAX_LIMIT


@dataclass(frozen=True, slots=True)
class Position:
    """A row's place in a newest-first list."""

    created_at: datetime
    pk: int


class KeysetSource(Protocol):
    """What a cursor page reads: ``limit`` rows strictly past ``after`` (``None``: from the
    start) in the list's order, newest first, or (``backwards``) oldest first, and a row's
    position."""

    def keyset(self, *, after: Position | None, backwards: bool, limit: int) -> Sequence[Any]: ...

    def position(self, row: Any) -> Position: ...


def keyset_filter(after: Position, *, backwards: bool) -> Q:
    """The rows past ``after`` in the order ``(created_at, id)`` DESC (ASC: ``backwards``)."""
    if backwards:
        return Q(created_at__gt=after.created_at) | Q(created_at=after.created_at, pk__gt=after.pk)
    return Q(created_at__lt=after.created_at) | Q(created_at=after.created_at, pk__lt=after.pk)


def keyset_order(*, backwards: bool) -> tuple[str, str]:
    return ("created_at", "pk") if backwards else ("-created_at", "-pk")


class QuerySetKeyset:
    """A queryset of model rows with ``created_at`` as a :class:`KeysetSource`."""

    def __init__(self, queryset: QuerySet[Any]) -> None:
        self._queryset = queryset

    def keyset(self, *, after: Position | None, backwards: bool, limit: int) -> list[Any]:
        rows = self._queryset
        if after is not None:
            rows = rows.filter(keyset_filter(after, backwards=backwards))
        return list(rows.order_by(*keyset_order(backwards=backwards))[:limit])

    def position(self, row: Any) -> Position:
        return Position(created_at=row.created_at, pk=row.pk)


_OLDEST_TRANSACTION = (
    "SELECT min(xact_start) FROM pg_stat_activity WHERE datname = current_database()"
    " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
    " AND xact_start IS NOT NULL AND backend_xid IS NOT NULL"
)


def settled_before() -> datetime:
    """The instant before which every row a list will ever hold is visible now (the module's
    last paragraph): the start of the oldest transaction in progress on this database (or now),
    less the settle time."""
    horizon = timezone.now()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_OLDEST_TRANSACTION)
            row = cursor.fetchone()
        if row is not None and row[0] is not None:
            horizon = min(horizon, row[0])
    seconds = float(getattr(settings, "LABPANEL_CURSOR_SETTLE_SECONDS", 1.0))
    return horizon - timedelta(seconds=seconds)


_SALT = "labpanel.pagination.cursor"
INVALID_CURSOR = "Invalid cursor: pass the cursor of a `next` or `previous` link as it is."


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a cursor page starts: past ``after``, going forwards (older) or backwards."""

    after: Position
    backwards: bool

    def encode(self) -> str:
        return signing.dumps(
            [self.after.created_at.isoformat(), self.after.pk, int(self.backwards)], salt=_SALT
        )

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """The cursor ``text`` signs; 400 for anything else (altered, made up, truncated)."""
        try:
            created_at, pk, backwards = signing.loads(text, salt=_SALT)
            return cls(
                after=Position(created_at=datetime.fromisoformat(created_at), pk=int(pk)),
                backwards=bool(backwards),
            )
        except (signing.BadSignature, TypeError, ValueError) as error:
            raise ValidationError({"cursor": [INVALID_CURSOR]}) from error


class NewestFirstPagination(LabpanelPagination):
    """Limit/offset (the default, unchanged), or by cursor when the request names ``cursor``
    (see the module). ``limit`` sizes cursor pages too; ``offset`` is ignored with a cursor.
    The source paged by cursor is a :class:`KeysetSource`, or a queryset of rows with
    ``created_at``."""

    cursor_query_param = "cursor"
    cursor_query_description = (
        "Page by cursor instead of offset: empty for the first page, then the cursor of the "
        "`next` or `previous` link. The answer then has `next`, `previous` and `results`, no "
        "`count`; pages are stable when panels arrive between them."
    )

    def __init__(self) -> None:
        self.by_cursor = False
        self.base_url = ""
        self.next_cursor: Cursor | None = None
        self.previous_cursor: Cursor | None = None

    def paginate_queryset(
        self, queryset: Any, request: Request, view: Any = None
    ) -> list[Any] | None:
        if self.cursor_query_param not in request.query_params:
            return super().paginate_queryset(queryset, request, view)
        self.by_cursor, self.request = True, request
        self.base_url = remove_query_param(request.build_absolute_uri(), self.offset_query_param)
        source: KeysetSource = (
            QuerySetKeyset(queryset) if isinstance(queryset, QuerySet) else queryset
        )
        limit = self.get_limit(request) or self.default_limit
        text = request.query_params[self.cursor_query_param]
        cursor = Cursor.decode(text) if text else None
        backwards = cursor is not None and cursor.backwards
        after = cursor.after if cursor else None
        rows = list(source.keyset(after=after, backwards=backwards, limit=limit + 1))
        if cursor is None or backwards:  # this page sets the newest edge: settled rows only
            settled = settled_before()
            if any(source.position(row).created_at >= settled for row in rows):
                if backwards:  # oldest first: the unsettled ones are the last
                    rows = [row for row in rows if source.position(row).created_at < settled]
                else:  # the first page: the newest settled rows, read again from the horizon
                    horizon = Position(created_at=settled, pk=0)
                    rows = list(source.keyset(after=horizon, backwards=False, limit=limit + 1))
        more, rows = len(rows) > limit, rows[:limit]
        if backwards:
            rows.reverse()
        edge = cursor.after if cursor else None
        newest = source.position(rows[0]) if rows else edge
        oldest = source.position(rows[-1]) if rows else edge
        # ``next``: older rows, when more were found going forwards; always going backwards
        # (the cursor's own page follows). ``previous``: the rows newer than this page,
        # always given once there is a position, even when none is newer yet: an integrator
        # who polls keeps it and asks it again later for the panels that arrived since.
        has_next = more if not backwards else True
        self.next_cursor = (
            Cursor(after=oldest, backwards=False) if has_next and oldest is not None else None
        )
        self.previous_cursor = Cursor(after=newest, backwards=True) if newest is not None else None
        return rows

    def _link(self, cursor: Cursor | None) -> str | None:
        if cursor is None:
            return None
        return replace_query_param(self.base_url, self.cursor_query_param, cursor.encode())

    def get_paginated_response(self, data: Any) -> Response:
        if not self.by_cursor:
            return super().get_paginated_response(data)
        return Response(
            {
                "next": self._link(self.next_cursor),
                "previous": self._link(self.previous_cursor),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        by_offset: dict[str, Any] = super().get_paginated_response_schema(schema)
        link = {"type": "string", "nullable": True, "format": "uri"}
        by_cursor = {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {"next": link, "previous": link, "results": schema},
        }
        return {"anyOf": [by_offset, by_cursor]}

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters: list[dict[str, Any]] = super().get_schema_operation_parameters(view)
        return [
            *parameters,
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": self.cursor_query_description,
                "schema": {"type": "string"},
            },
        ]
