"""The lab's worklist: the panels awaiting a person (received: to verify; verified: to release).

Critical ones (a current result flagged ``HH``/``LL``) come first, then the oldest collection.
Each panel carries its current results counted by judgement (``panels.result_counts``, stored
in the transaction of every change to them), so a page is one query whatever its size and its
depth: the page's panels with their patients and the number of panels (counted up to a bound),
read in order from the ``panel_worklist_order`` index alone; the flagged filter is a column
of that index, not a probe of each panel's results. Who sees which panels is
``labpanel.accounts.access.worklist_scope``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from labpanel.accounts import access
from panels.models import Panel, Patient, ReviewState

AWAITING = (ReviewState.RECEIVED, ReviewState.VERIFIED)
PAGE_PANELS = 25
COUNT_UP_TO = 1000  # panels counted at most (or to the end of the page asked for)
ORDER = ("-is_critical", "collected_at", "accession")
# What a row reads, in :class:`WorklistPanel`'s order: the ``panel_worklist_order`` index holds
# every panel column of it; the patient's are joined for the page's 25 alone.
ROW_COLUMNS = (
    "pk",
    "accession",
    "lab_id",
    "submitted_by_id",
    "collected_at",
    "review_state",
    "is_critical",
    "results_total",
    "results_flagged",
    "results_critical",
    "results_not_interpreted",
    "results_indeterminate",
    "patient_id",
    "patient__mrn",
    "patient__family_name",
    "patient__given_name",
)


@dataclass(frozen=True, slots=True)
class WorklistPanel:
    """A worklist line's panel, read as a tuple (building model instances cost the page more
    than its query): what the row shows and what deciding the user's actions needs."""

    pk: int
    accession: str
    lab_id: int
    submitted_by_id: int
    collected_at: datetime
    review_state: str
    is_critical: bool
    results_total: int
    results_flagged: int
    results_critical: int
    results_not_interpreted: int
    results_indeterminate: int
    patient_id: int
    mrn: str
    family_name: str
    given_name: str


@dataclass(frozen=True)
class WorklistFilter:
    """What the worklist is narrowed to: one review state (``""``: both), flagged panels only,
    a patient's names or MRN (words), a collection date (UTC)."""

    state: str = ""
    flagged_only: bool = False
    search: str = ""
    collected_on: date | None = None


def worklist_panels(*, user: Any, narrowed: WorklistFilter | None = None) -> QuerySet[Panel]:
    """The panels on ``user``'s worklist, critical first, then oldest collection, then
    accession, with their stored result counts (no patient: :func:`worklist_page_get` and
    :func:`worklist_panel_get` read them for their rows alone)."""
    return _panels_in(access.worklist_scope(user), narrowed or WorklistFilter())


def _panels_in(scope: Q, narrowed: WorklistFilter) -> QuerySet[Panel]:
    """The worklist's panels within ``scope`` (``access.worklist_scope``), narrowed."""
    states = [narrowed.state] if narrowed.state in AWAITING else list(AWAITING)
    panels = Panel.objects.filter(scope, review_state__in=states)
    for word in narrowed.search.split():
        panels = panels.filter(
            Q(patient__family_name__icontains=word)
            | Q(patient__given_name__icontains=word)
            | Q(patient__mrn__iexact=word)
            | Q(accession__iexact=word)
        )
    if narrowed.collected_on is not None:
        panels = panels.filter(collected_at__date=narrowed.collected_on)
    if narrowed.flagged_only:
        panels = panels.filter(results_flagged__gt=0)
    return panels.order_by(*ORDER)


def _lines(panels: QuerySet[Panel]) -> list[WorklistPanel]:
    return [WorklistPanel(*values) for values in panels.order_by(*ORDER).values_list(*ROW_COLUMNS)]


def worklist_panel_get(*, user: Any, panel_id: int) -> WorklistPanel | None:
    """Panel ``panel_id`` as its worklist row shows it, or None when it is not (any longer) on
    ``user``'s worklist."""
    found = _lines(worklist_panels(user=user).filter(pk=panel_id))
    return found[0] if found else None


@dataclass
class WorklistPage:
    """One page of the worklist (as much of Django's ``Page`` as the template reads): its
    ``panels`` (with their patients and counts), its ``number``, and ``count`` panels in all,
    or, when ``count_exact`` is false, more than ``count`` (counted no further)."""

    panels: list[WorklistPanel]
    number: int
    count: int
    count_exact: bool = True
    paginator: WorklistPage = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.paginator = self  # the template asks ``page.paginator.count``, as of Django's Page

    @property
    def num_pages(self) -> int:
        return pages_for(self.count)

    def has_previous(self) -> bool:
        return self.number > 1

    def has_next(self) -> bool:
        return not self.count_exact or self.number < self.num_pages

    def previous_page_number(self) -> int:
        return self.number - 1

    def next_page_number(self) -> int:
        return self.number + 1


def pages_for(count: int) -> int:
    return max(1, -(-count // PAGE_PANELS))


def page_number(text: str | None) -> int:
    """The page asked for: a positive integer, else the first."""
    try:
        return max(int(text or 1), 1)
    except ValueError:
        return 1


PAGE_SQL = """
SELECT {columns}, (SELECT count(*) FROM ({every} LIMIT %s) AS counted)
FROM {panel} AS panel JOIN {patient} AS patient ON patient.id = panel.patient_id
WHERE panel.id IN ({every} LIMIT %s OFFSET %s)
ORDER BY panel.is_critical DESC, panel.collected_at, panel.accession
"""


def _page_sql(every_sql: str) -> str:
    columns = ", ".join(
        f"patient.{column.removeprefix('patient__')}"
        if column.startswith("patient__")
        else f"panel.{'id' if column == 'pk' else column}"
        for column in ROW_COLUMNS
    )
    return PAGE_SQL.format(
        columns=columns,
        every=every_sql,
        panel=Panel._meta.db_table,
        patient=Patient._meta.db_table,
    )


@lru_cache(maxsize=256)
def _page_sql_cached(
    scope: Q, narrowed: WorklistFilter, vendor: str, timezone_name: str
) -> tuple[str, tuple[Any, ...]]:
    """The page's statement and the worklist's parameters for ``scope`` (a ``Q``: hashable,
    its values included) and a ``narrowed`` without search words, compiled once per process
    (compiling costs the page more than running it does: bench/worklist_pages.py). The SQL is
    a function of these alone: the database's vendor, and the time zone a collection date is
    read in."""
    every_sql, params = _panels_in(scope, narrowed).values("pk").query.sql_with_params()
    return _page_sql(every_sql), tuple(params)


@lru_cache(maxsize=256)
def _page_statement_cached(
    scope: Q, narrowed: WorklistFilter, vendor: str, timezone_name: str, up_to: int, number: int
) -> tuple[str, tuple[Any, ...] | None]:
    """Page ``number``'s statement, counting up to ``up_to``, with its parameters. On PostgreSQL
    its values are written into it as literals (``compose_sql``: psycopg's own quoting; a
    search's words never come here) and it takes none: prepared once per connection (psycopg's
    ``prepare_threshold``), it is then planned once, where the same statement with parameters
    is planned again at every request (PostgreSQL keeps choosing a custom plan: the partial
    ``panel_worklist_order`` index cannot serve a generic plan whose review states are
    parameters). Planning cost the page a third of its query (bench/worklist_pages.py)."""
    sql, params = _page_sql_cached(scope, narrowed, vendor, timezone_name)
    values = [*params, up_to + 1, *params, PAGE_PANELS, (number - 1) * PAGE_PANELS]
    if vendor == "postgresql":
        composed: str = connection.ops.compose_sql(sql, values)  # type: ignore[attr-defined]
        return composed, None  # None: no placeholder is parsed in it
    return sql, tuple(values)


_COLLECTED = ROW_COLUMNS.index("collected_at")


def _line(row: tuple[Any, ...]) -> WorklistPanel:
    """A raw row as a line: its collection time aware. SQLite, the embedded mode, gives text,
    or a naive datetime where its declared-type converter parsed it, both in UTC, where
    PostgreSQL gives an aware datetime; the ORM's converters do not run on a raw row."""
    collected = row[_COLLECTED]
    parsed = collected if isinstance(collected, datetime) else parse_datetime(str(collected))
    if parsed is None:
        raise ValueError(f"not a date and time: {collected!r}")
    if not timezone.is_aware(parsed):
        parsed = timezone.make_aware(parsed, UTC)
    if parsed is not collected:
        row = (*row[:_COLLECTED], parsed, *row[_COLLECTED + 1 :])
    return WorklistPanel(*row)


def worklist_page_get(
    *, user: Any, narrowed: WorklistFilter | None = None, number: int = 1
) -> WorklistPage:
    """Page ``number`` (from 1; past the last: the last) of ``user``'s worklist. One query: the
    page's panels (picked from the index first, then the patients of its 25 joined, not those
    of the panels before it), each carrying the number of panels; a page with no panel counts
    them in one more (and, past the last page, reads the last).

    The panels are counted up to ``COUNT_UP_TO`` or the end of the page asked for, whichever
    is further (counting costs what reading the index that far costs: a deep page reads it
    anyway); beyond, the page says "more than" that number. The worklist's queryset is
    compiled (its SQL and parameters, as Django makes them) and used twice in the page's
    statement: compiling it costs more than running it, so without search words it is compiled
    once per process and scope (:func:`_page_sql_cached`)."""
    scope = access.worklist_scope(user)
    narrowed = narrowed or WorklistFilter()
    up_to = max(COUNT_UP_TO, number * PAGE_PANELS)
    if narrowed.search:  # a search's words are not kept beyond its request
        every_sql, params = _panels_in(scope, narrowed).values("pk").query.sql_with_params()
        sql = _page_sql(every_sql)

        def statement(at: int) -> tuple[str, Sequence[Any] | None]:
            offset = (at - 1) * PAGE_PANELS
            return sql, [*params, up_to + 1, *params, PAGE_PANELS, offset]

    else:
        vendor, zone = connection.vendor, timezone.get_current_timezone_name()

        def statement(at: int) -> tuple[str, Sequence[Any] | None]:
            return _page_statement_cached(scope, narrowed, vendor, zone, up_to, at)

    def page(at: int) -> list[tuple[Any, ...]]:
        with connection.cursor() as cursor:
            cursor.execute(*statement(at))
            found: list[tuple[Any, ...]] = cursor.fetchall()
        return found

    rows = page(number)
    count = rows[0][-1] if rows else _panels_in(scope, narrowed).values("pk")[: up_to + 1].count()
    exact = count <= up_to
    count = min(count, up_to)
    if not rows and count:
        number = pages_for(count)
        rows = page(number)
    return WorklistPage(
        panels=[_line(row[:-1]) for row in rows],
        number=number if rows else 1,
        count=count,
        count_exact=exact,
    )
