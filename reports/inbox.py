"""The clinician's inbox, read from its read model (``InboxEntry``, kept by
``reports.inbox_entries``): one page of rows, unread first, then those needing attention, then the
most recently issued; searchable by patient name, MRN and collection date.

A page is one query on an index matching its order (``inbox_reader_order_idx``) with a LIMIT,
whatever the number of reports: no count (the page says whether there is a next one by reading
one row more), and the rows are plain dicts with their text already made, so that the template
only places them. Who sees what is ``access.inbox_scope``, the mirror of ``access.reports_scope``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol

from django.contrib.auth.models import AnonymousUser, User
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from labpanel.accounts import access
from labpanel.compiled_queries import CompiledQueries
from labpanel.reversing import url_for
from reports.models import InboxEntry, ReportStage

PAGE_ROWS = 25
_ORDER = ("-unread", "-needs_attention", "-issued_at", "-id")
# A page without search words is compiled once per scope, date and page (labpanel.compiled_queries).
_COMPILED = CompiledQueries()
_STAGES = {stage.value: stage.label.upper() for stage in ReportStage}
_COLUMNS = (
    "report_id",
    "stage",
    "collected_at",
    "accession",
    "patient_mrn",
    "patient_family_name",
    "patient_given_name",
    "unread",
    "acknowledged",
    "needs_attention",
    "results_total",
    "results_abnormal",
    "results_critical",
    "results_not_interpreted",
    "results_indeterminate",
    # For the read audit (labpanel.audit): the ids the page shows.
    "panel_id",
    "panel__patient_id",
)


class ResultCounts(Protocol):
    results_total: int
    results_abnormal: int
    results_not_interpreted: int
    results_indeterminate: int


def flag_summary_words(
    *, total: int, abnormal: int, not_interpreted: int, indeterminate: int
) -> str:
    """The inbox's words for a report's results: how many are abnormal, not interpreted and
    indeterminate; "all within interval" only when every result was judged and normal."""
    if total == 0:
        return "no results"
    parts = []
    if abnormal:
        parts.append(f"{abnormal} abnormal")
    if not_interpreted:
        parts.append(f"not interpreted: {not_interpreted}")
    if indeterminate:
        parts.append(f"indeterminate: {indeterminate}")
    return "; ".join(parts) if parts else "all within interval"


def flag_summary(counts: ResultCounts) -> str:
    """:func:`flag_summary_words` of anything carrying the four counts (an inbox entry)."""
    return flag_summary_words(
        total=counts.results_total,
        abnormal=counts.results_abnormal,
        not_interpreted=counts.results_not_interpreted,
        indeterminate=counts.results_indeterminate,
    )


@dataclass(frozen=True, slots=True)
class InboxPage:
    """One page of the inbox: its ``rows`` (dicts: ``url``, ``patient``, ``mrn``,
    ``accession``, ``collected``, ``stage``, ``summary``, ``unread``, ``flagged``,
    ``critical``, ``acknowledged``, ``report_id``, ``panel_id``, ``patient_id``), its
    ``number`` and its neighbours."""

    rows: list[dict[str, Any]]
    number: int
    has_previous: bool
    has_next: bool

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1


def page_number(text: str | None) -> int:
    """The page asked for: a positive integer, else the first."""
    try:
        number = int(text or 1)
    except ValueError:
        return 1
    return max(number, 1)


def inbox_rows(
    *,
    user: User | AnonymousUser,
    search: str = "",
    collected_on: date | None = None,
    page: int = 1,
) -> InboxPage:
    """Page ``page`` (from 1) of ``user``'s inbox: per panel its newest report ``user`` may
    see (``access.inbox_scope``), unread first, then those needing attention (an abnormal,
    critical, not interpreted or indeterminate result), then the most recently issued.
    ``search``: every word matches the patient's family or given name (contained, any case)
    or the MRN's beginning; a word with a digit in it is an MRN and matches only the MRN's
    beginning. ``collected_on``: the collection date in the site's time zone. One query,
    compiled once per process for a page without search words."""
    scope = access.inbox_scope(user)
    offset = (page - 1) * PAGE_ROWS

    def build() -> QuerySet[InboxEntry, tuple[Any, ...]]:
        return _page_entries(scope, search, collected_on, offset)

    words = search.split()
    if not words:
        found = _COMPILED.rows(("inbox", scope, collected_on, offset), build)
    else:
        # Compiled once per shape of search (how many words, which are MRNs), with stand-ins
        # for the words, replaced in its parameters: the words are not kept.
        kinds = tuple(_is_mrn(word) for word in words)
        markers = [_word_marker(index, mrn) for index, mrn in enumerate(kinds)]
        found = _COMPILED.rows(
            ("inbox search", scope, collected_on, offset, kinds),
            build,
            marked=lambda: _page_entries(scope, " ".join(markers), collected_on, offset),
            substitute=_words_in(markers, words),
        )
    url_format = _detail_url_format()
    return InboxPage(
        rows=[_row(entry, url_format) for entry in found[:PAGE_ROWS]],
        number=page,
        has_previous=page > 1,
        has_next=len(found) > PAGE_ROWS,
    )


def _page_entries(
    scope: Q, search: str, collected_on: date | None, offset: int
) -> QuerySet[InboxEntry, tuple[Any, ...]]:
    """The entries of the page at ``offset`` within ``scope`` (``access.inbox_scope``), and
    one more: :func:`inbox_rows`' query."""
    entries = InboxEntry.objects.filter(scope)
    for word in search.split():
        mrn = Q(patient_mrn__startswith=word) | Q(patient_mrn__startswith=word.upper())
        if _is_mrn(word):
            entries = entries.filter(mrn)
        else:
            entries = entries.filter(
                Q(patient_family_name__icontains=word) | Q(patient_given_name__icontains=word) | mrn
            )
    if collected_on is not None:
        start = timezone.make_aware(datetime.combine(collected_on, time.min))
        entries = entries.filter(
            collected_at__gte=start, collected_at__lt=start + timedelta(days=1)
        )
    # A deferred join: the page's ids are picked from the order's index alone (OFFSET skips
    # index entries, not rows with their panels), then its 26 rows are read with the panel's
    # patient (the read audit's).
    page_ids = entries.order_by(*_ORDER).values("id")[offset : offset + PAGE_ROWS + 1]
    return InboxEntry.objects.filter(id__in=page_ids).order_by(*_ORDER).values_list(*_COLUMNS)


def _is_mrn(word: str) -> bool:
    """A search word with a digit in it is an MRN."""
    return any(character.isdigit() for character in word)


def _word_marker(index: int, mrn: bool) -> str:
    """The stand-in for the ``index``-th search word while its query is compiled: letters
    between two SUB characters (never in another marker, nor in its upper case), with a digit
    when the word is an MRN (so that it is searched as one)."""
    letters = "".join(chr(ord("a") + int(digit)) for digit in str(index))
    return f"\x1a{letters}{'9' if mrn else ''}\x1a"


def _words_in(markers: list[str], words: list[str]) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    """Parameters of the query compiled with ``markers``, as they are with ``words``: each
    marker (and its upper case) in a LIKE pattern replaced, in one pass, by the word (and its
    upper case) escaped for LIKE as Django escapes it (``prep_for_like_query``)."""
    prep = connection.ops.prep_for_like_query
    replacements: dict[str, str] = {}
    for marker, word in zip(markers, words, strict=True):
        replacements[marker] = prep(word)
        replacements[marker.upper()] = prep(word.upper())
    pattern = re.compile("|".join(re.escape(marker) for marker in replacements))

    def substitute(params: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(
            pattern.sub(lambda found: replacements[found.group()], param)
            if isinstance(param, str)
            else param
            for param in params
        )

    return substitute


# One table row: built here rather than by the template's loop, which costs the page more than
# its query does (bench/review_pages.py). The flags are words as well as styles.
_ROW_HTML = (
    '<tr{}><th scope="row"><a href="{}">{}</a></th><td>{}</td><td>{}</td><td>{}</td>'
    '<td class="status">{}</td><td{}>{}{}</td><td>{}</td></tr>\n'
)
_ROW_CLASSES = {
    (False, False): "",
    (True, False): mark_safe(' class="unread"'),
    (False, True): mark_safe(' class="critical-row"'),
    (True, True): mark_safe(' class="unread critical-row"'),
}
_ABNORMAL_CLASS = mark_safe(' class="abnormal"')
_UNREAD = mark_safe("<strong>Unread</strong>")
# A critical result is highlighted, in words as well as colour, until the report is acknowledged.
_CRITICAL = mark_safe('<strong class="critical-flag">CRITICAL — not acknowledged</strong>; ')


def rows_html(rows: list[dict[str, Any]]) -> SafeString:
    """The ``<tbody>`` rows of ``rows`` (from :func:`inbox_rows`), every text escaped."""
    return mark_safe(  # noqa: S308 - every part is escaped by format_html
        "".join(
            format_html(
                _ROW_HTML,
                _ROW_CLASSES[row["unread"], row["critical"] and not row["acknowledged"]],
                row["url"],
                row["patient"],
                row["mrn"],
                row["accession"],
                row["collected"],
                row["stage"],
                _ABNORMAL_CLASS if row["flagged"] else "",
                _CRITICAL if row["critical"] and not row["acknowledged"] else "",
                row["summary"],
                _UNREAD if row["unread"] else "Opened",
            )
            for row in rows
        )
    )


def _detail_url_format() -> str:
    """The report page's URL with ``{}`` for the id: one ``reverse`` per process
    (``labpanel.reversing``), not per row."""
    return url_for("reports:detail", pk=0).replace("/0/", "/{}/")


def _row(entry: tuple[Any, ...], url_format: str) -> dict[str, Any]:
    (
        report_id,
        stage,
        collected_at,
        accession,
        mrn,
        family_name,
        given_name,
        unread,
        acknowledged,
        _needs_attention,
        total,
        abnormal,
        critical,
        not_interpreted,
        indeterminate,
        panel_id,
        patient_id,
    ) = entry
    return {
        "report_id": report_id,
        "panel_id": panel_id,
        "patient_id": patient_id,
        "url": url_format.format(report_id),
        "patient": f"{family_name}, {given_name}" if given_name else family_name,
        "mrn": mrn,
        "accession": accession,
        "collected": f"{timezone.localtime(collected_at):%Y-%m-%d %H:%M}",
        "stage": _STAGES[stage],
        "summary": flag_summary_words(
            total=total,
            abnormal=abnormal,
            not_interpreted=not_interpreted,
            indeterminate=indeterminate,
        ),
        "unread": unread,
        "flagged": abnormal > 0,
        "critical": critical > 0,
        "acknowledged": acknowledged,
    }
