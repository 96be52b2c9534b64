"""Permission-aware reads of panels for the panels API: its answers embed the panel's reports
(newest first), so the reads add them to ``panels.selectors.panel_details``; and the reads of
the stored documents (``panels.documents``, the read model), each in ONE statement with the
reports the reader may see (``reports.selectors.panel_reports_json``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import OuterRef, QuerySet, Subquery, TextField
from django.db.models.functions import Cast

from labpanel.accounts import access
from labpanel.audit.services import (
    ReadRecording,
    one_read_recorded,
    read_record,
    read_recorded,
)
from labpanel.pagination import Position, keyset_filter, keyset_order
from panels.models import Panel, PanelDocument
from panels.selectors import panel_details, panels_visible_to
from reference_ranges.selectors import catalogue_updated_at
from reports.selectors import panel_reports_json, with_reports


def panel_list(*, user: User | AnonymousUser) -> QuerySet[Panel]:
    return with_reports(panel_details(panels_visible_to(user=user)), user=user).order_by(
        "-created_at", "-pk"
    )


def panel_get(*, pk: int, user: User | AnonymousUser) -> Panel | None:
    return (
        with_reports(panel_details(panels_visible_to(user=user)), user=user).filter(pk=pk).first()
    )


@dataclass(frozen=True, slots=True)
class PanelRead:
    """One panel as the read model answers it: its ids, its stored document's text (the
    detail, or the list's summary; ``document`` parses it) or ``None`` when none is current (to
    be built from the records), and the reports ``user`` may see
    (``reports.selectors.panel_reports_json``, newest first)."""

    pk: int
    patient_id: int
    lab_id: int
    stored: str | None
    reports: list[dict[str, Any]]

    @property
    def document(self) -> dict[str, Any] | None:
        """The stored document, parsed (each time asked)."""
        return None if self.stored is None else orjson.loads(self.stored)


def read_model_available() -> bool:
    """Whether the reads below can be used: PostgreSQL (not the embedded SQLite default, which
    is answered from the records)."""
    return connection.vendor == "postgresql"


def _stored(field: str) -> Subquery:
    """The stored document ``field`` of the panel as text, when written from the panel,
    patient and analyte catalogue as they are now (``panels.models_documents``); null
    otherwise."""
    return Subquery(
        PanelDocument.objects.filter(
            panel_id=OuterRef("pk"),
            panel_updated_at=OuterRef("updated_at"),
            patient_updated_at=OuterRef("patient__updated_at"),
            catalogue_updated_at=catalogue_updated_at(),
        ).values(text=Cast(field, TextField())),
        output_field=TextField(),
    )


def panel_reads(
    *, user: User | AnonymousUser, field: str, positioned: bool = False
) -> QuerySet[Panel, tuple[Any, ...]]:
    """The panels ``user`` may see (``access.panels_scope``), newest first, each as one row of
    its ids, its stored document ``field`` (``detail`` or ``summary``) and its reports (and,
    ``positioned``, its ``created_at``: where a cursor page ends): ONE statement for one panel
    or a page of them."""
    fields = ("pk", "patient_id", "lab_id", "stored", "listed_reports")
    return (
        panels_visible_to(user=user)
        .annotate(stored=_stored(field), listed_reports=panel_reports_json(user=user))
        .order_by("-created_at", "-pk")
        .values_list(*fields, *(("created_at",) if positioned else ()))
    )


def panel_read(row: tuple[Any, ...]) -> PanelRead:
    """A row of :func:`panel_reads`, parsed."""
    pk, patient_id, lab_id, stored, reports = row[:5]
    if isinstance(reports, str | bytes):  # read by ``PanelReads`` (no field conversion)
        reports = orjson.loads(reports)
    return PanelRead(
        pk=pk,
        patient_id=patient_id,
        lab_id=lab_id,
        stored=stored,
        reports=reports or [],
    )


_NO_PANEL = -7_770_001
"""A panel id no row has: where the id goes among a compiled read's parameters."""
_COMPILED_MAX = 4096


@dataclass(frozen=True, slots=True)
class _Compiled:
    page: tuple[str, tuple[Any, ...]]
    one: tuple[str, tuple[Any, ...], int]
    count: tuple[str, tuple[Any, ...]]


_compiled: dict[tuple[Any, ...], _Compiled] = {}


def _compile(user: User | AnonymousUser, field: str) -> _Compiled | None:
    """The SQL of :func:`panel_reads` for ``user`` (a page, one panel, the count), compiled by
    the ORM once per scope (``access.scope_key``) and kept: building it was most of a read's
    own time. ``None`` when the scope is empty (no membership: the ORM answers nothing)."""
    scope = access.scope_key(user)
    if scope is None:
        return None
    key = (field, *scope)
    found = _compiled.get(key)
    if found is not None:
        return found
    try:
        page = panel_reads(user=user, field=field).query.sql_with_params()
        one_sql, one_params = (
            panel_reads(user=user, field=field).filter(pk=_NO_PANEL).query.sql_with_params()
        )
        counted, count_params = panels_visible_to(user=user).values("pk").query.sql_with_params()
    except EmptyResultSet:
        return None
    if list(one_params).count(_NO_PANEL) != 1:
        return None
    found = _Compiled(
        page=(page[0], tuple(page[1])),
        one=(one_sql, tuple(one_params), list(one_params).index(_NO_PANEL)),
        count=(f"SELECT COUNT(*) FROM ({counted}) counted", tuple(count_params)),  # noqa: S608
    )
    if len(_compiled) >= _COMPILED_MAX:
        _compiled.clear()
    _compiled[key] = found
    return found


_NO_INSTANT = datetime(1901, 2, 3, 4, 5, 6, 789_012, tzinfo=UTC)
"""An instant no panel was created at: where a cursor's ``created_at`` goes among the
parameters of a compiled cursor page."""


@dataclass(frozen=True, slots=True)
class _KeysetCompiled:
    """A cursor page's SQL (no ``LIMIT``) and where a position goes among its parameters."""

    sql: str
    params: tuple[Any, ...]
    instants: tuple[int, ...]
    ids: tuple[int, ...]

    def bound(self, after: Position | None) -> tuple[str, tuple[Any, ...]]:
        params = list(self.params)
        if after is not None:
            for index in self.instants:
                params[index] = after.created_at
            for index in self.ids:
                params[index] = after.pk
        return self.sql, tuple(params)


_keyset_compiled: dict[tuple[Any, ...], _KeysetCompiled | None] = {}


def _keyset_compile(
    user: User | AnonymousUser, field: str, *, after: bool, backwards: bool
) -> _KeysetCompiled | None:
    """The SQL of a cursor page of :func:`panel_reads` for ``user`` (from the start, or past a
    position, forwards or ``backwards``), compiled once per scope and kept, as
    :func:`_compile` keeps the offset page's. ``None``: the scope is empty, or the position's
    placeholders cannot be told from the scope's own parameters."""
    scope = access.scope_key(user)
    if scope is None:
        return None
    key = (field, after, backwards, *scope)
    if key in _keyset_compiled:
        return _keyset_compiled[key]
    reads = panel_reads(user=user, field=field, positioned=True)
    if after:
        reads = reads.filter(
            keyset_filter(Position(created_at=_NO_INSTANT, pk=_NO_PANEL), backwards=backwards)
        )
    try:
        sql, params = reads.order_by(*keyset_order(backwards=backwards)).query.sql_with_params()
    except EmptyResultSet:
        return None
    instants = tuple(i for i, param in enumerate(params) if param == _NO_INSTANT)
    ids = tuple(i for i, param in enumerate(params) if param == _NO_PANEL)
    found = (
        _KeysetCompiled(sql=sql, params=tuple(params), instants=instants, ids=ids)
        if (len(instants), len(ids)) == ((2, 1) if after else (0, 0))
        else None
    )
    if len(_keyset_compiled) >= _COMPILED_MAX:
        _keyset_compiled.clear()
    _keyset_compiled[key] = found
    return found


class PanelReads:
    """A page source for the API's pagination (``count()`` and a slice) over :func:`panel_reads`
    by its kept SQL (:func:`_compile`); the ORM's queryset when there is none, or when the list
    is narrowed to the panels ``within`` (its filters: ``panels.intake.filters``; still one
    statement for the count and one for the page). Also a cursor page's source
    (``labpanel.pagination.KeysetSource``: ONE statement, no count)."""

    def __init__(
        self,
        *,
        user: User | AnonymousUser,
        field: str,
        within: QuerySet[Panel] | None = None,
    ) -> None:
        self._user, self._field, self._within = user, field, within
        self._compiled = _compile(user, field) if within is None else None

    def _reads(self) -> QuerySet[Panel, tuple[Any, ...]]:
        reads = panel_reads(user=self._user, field=self._field)
        if self._within is not None:
            reads = reads.filter(pk__in=self._within.values("pk"))
        return reads

    def keyset(
        self, *, after: Position | None, backwards: bool, limit: int
    ) -> list[tuple[Any, ...]]:
        """``limit`` rows past ``after`` (a cursor's position) in the list's order, or
        (``backwards``) in the reverse order: one statement, its SQL kept per scope and
        direction (:func:`_keyset_compile`) unless the list is narrowed."""
        compiled = (
            _keyset_compile(self._user, self._field, after=after is not None, backwards=backwards)
            if self._within is None
            else None
        )
        if compiled is not None:
            sql, params = compiled.bound(after)
            with connection.cursor() as cursor:
                cursor.execute(f"{sql} LIMIT %s", (*params, limit))
                return list(cursor.fetchall())
        reads = panel_reads(user=self._user, field=self._field, positioned=True)
        if self._within is not None:
            reads = reads.filter(pk__in=self._within.values("pk"))
        if after is not None:
            reads = reads.filter(keyset_filter(after, backwards=backwards))
        return list(reads.order_by(*keyset_order(backwards=backwards))[:limit])

    def position(self, row: tuple[Any, ...]) -> Position:
        return Position(created_at=row[5], pk=row[0])

    def count(self) -> int:
        if self._compiled is None:
            return self._reads().count()
        with connection.cursor() as cursor:
            cursor.execute(*self._compiled.count)
            row = cursor.fetchone()
        return int(row[0]) if row else 0

    def __getitem__(self, window: slice) -> list[tuple[Any, ...]]:
        if self._compiled is None:
            return list(self._reads()[window])
        start = window.start or 0
        sql, params = self._compiled.page
        with connection.cursor() as cursor:
            cursor.execute(f"{sql} LIMIT %s OFFSET %s", (*params, window.stop - start, start))
            return list(cursor.fetchall())


def panel_document_get(*, pk: int, user: User | AnonymousUser) -> PanelRead | None:
    """Panel ``pk`` as ``user`` may read it (``None``: not found or not theirs): one statement
    (its SQL kept per scope: :func:`_compile`)."""
    compiled = _compile(user, "detail")
    if compiled is None:
        row = panel_reads(user=user, field="detail").filter(pk=pk).first()
        return None if row is None else panel_read(row)
    sql, params, index = compiled.one
    with connection.cursor() as cursor:
        cursor.execute(sql, (*params[:index], pk, *params[index + 1 :]))
        found = cursor.fetchone()
    return None if found is None else panel_read(found)


# The ids of the reports the row of a panel read lists (``listed_reports``: the reports the
# reader may see, newest first), as the read's audit entry records them: in that order.
_LISTED_REPORT_IDS = (
    "COALESCE((SELECT jsonb_agg(listed.report -> 'id' ORDER BY listed.position)"
    " FROM jsonb_array_elements(found.listed_reports) WITH ORDINALITY"
    " AS listed(report, position)), '[]'::jsonb)"
)


def panel_document_read_recorded(
    *, pk: int, user: User | AnonymousUser, recording: ReadRecording
) -> PanelRead | None:
    """:func:`panel_document_get`, its read recorded in the read audit (``recording``: the
    reader's side of the entry) with the panel, its patient and the reports read: one
    statement for both where the SQL is kept (:func:`_compile`). Nothing is recorded when
    ``None`` (not found, or not the reader's)."""
    compiled = _compile(user, "detail")
    if compiled is None:
        read = panel_document_get(pk=pk, user=user)
        if read is not None:
            read_record(
                request=recording.request,
                patient_ids=[read.patient_id],
                panel_ids=[read.pk],
                report_ids=[report["id"] for report in read.reports],
                lab_id=recording.lab_id,
            )
        return read
    sql, params, index = compiled.one
    statement, statement_params = one_read_recorded(
        recording,
        sql,
        (*params[:index], pk, *params[index + 1 :]),
        patient_id="patient_id",
        panel_id="pk",
        report_ids=_LISTED_REPORT_IDS,
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, statement_params)
        found = cursor.fetchone()
    if found is None:
        return None
    read = panel_read(found)
    read_recorded(
        recording,
        patient_ids=[read.patient_id],
        panel_ids=[read.pk],
        report_ids=[report["id"] for report in read.reports],
    )
    return read
