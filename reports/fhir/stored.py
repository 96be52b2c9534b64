"""The FHIR server's stored resources (``reports.models_fhir``): read for a DiagnosticReport
search, and written after a search built them from the records.

A search of 50 reports with ``_include`` of their results answers some 700 resources (about
1 MB). Building them from the records each time (the reports with their panels and findings,
650 results as rows, each resource, then the JSON) took some 25 ms against a panel read's 2
(issue 15's target is 0.4x that read). Here each report's DiagnosticReport is kept as the JSON
text the server writes (``encoding.fhir_dumps``), and the Observations of the results it links
as the Bundle entries a search with ``_include`` answers, compressed with zstd (70 kB to read
for 50 reports instead of 830: sending the texts had cost more than finding them). The search
reads its page, the number of matches and the stored rows in one statement, and writes its
Bundle around the texts in one pass (``bundles.searchset_written``).

What is served is what the records give now: a stored row is used only while its stamp is the
records' (``models_fhir``: the panel's API document, rewritten by every change to the panel;
the lab; the analyte catalogue; the code that builds the resources; and whether a later report
exists). A report whose row is missing or stale is read and built from the records as before
(``selectors.reports_read``), its row is written then, in a transaction of its own after the
reads (:func:`resources_store`), and the answer is taken from what was written. Not stored, and
added when read: the PDF's link (its URL is the request's; present once the PDF is drawn), the base
of each fullUrl (the request's), and
the findings of a reader who is not shown the earlier panel a finding is measured against (that
reader's report is built each time).

PostgreSQL only (:func:`read_model_available`), like the panels' read model: the embedded SQLite
default builds every answer from the records.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Any

import orjson
import zstandard
from django.core.exceptions import EmptyResultSet
from django.db import DatabaseError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from psycopg import pq
from psycopg.adapt import Loader

from labpanel.accounts import access
from labpanel.compiled_queries import CompiledQueries
from reports.fhir import bundles, codes, encoding, resources, rows
from reports.fhir.search import Search
from reports.fhir.selectors import AnyUser, released_at_of, reports_matching
from reports.models import Report, StoredDiagnosticReport
from reports.results_builder import FLAG_TEXT

logger = logging.getLogger(__name__)


def _fingerprint() -> str:
    """The code that writes the resources, as a fingerprint: its modules' source and the words
    it takes from elsewhere. A row written by other code is not served."""
    digest = hashlib.sha256(Path(__file__).read_bytes())  # how the rows are laid out
    for module in (resources, codes, rows, encoding, bundles):
        digest.update(Path(str(module.__file__)).read_bytes())
    digest.update(repr(sorted(FLAG_TEXT.items())).encode())
    return digest.hexdigest()[:16]


FORMAT = _fingerprint()


def read_model_available() -> bool:
    """Whether the stored resources are used: PostgreSQL, as the panels' read model."""
    return connection.vendor == "postgresql"


def stamp_of(document_written_at: bytes, lab_updated_at: bytes, catalogue_updated_at: bytes) -> str:
    """What a panel's stored resources are built from (``models_fhir``): this code, its API
    document as written at ``document_written_at``, its lab as updated at ``lab_updated_at``,
    the analyte catalogue as last updated at ``catalogue_updated_at`` (an analyte's names and
    verified LOINC are shown; all three as PostgreSQL writes them as text)."""
    return (
        f"{FORMAT} {document_written_at.decode()} {lab_updated_at.decode()} "
        f"{catalogue_updated_at.decode()}"
    )


MARK = b"\x00"
"""Stands, in a stored Observation's entry, for its fullUrl's base (the absolute URL of the
Observation route: the request's). orjson escapes every control character it writes in a
string, so the mark occurs nowhere else in the entries."""


def include_entry(pk: int, text: bytes) -> bytes:
    """The included entry of Observation ``pk`` (its JSON ``text``), its fullUrl's base the
    mark (:data:`MARK`)."""
    if MARK in text:  # where each entry ends, once its base is written, counts on one mark
        raise ValueError(f"Observation {pk}'s text holds the mark")
    return bundles.entry_written(b"%b/%d" % (MARK, pk), text, b"include")


def entries_pack(entries: Sequence[bytes]) -> tuple[bytes, list[int]]:
    """``entries`` as stored: comma-separated and compressed with zstd (a search of 50
    reports reads some 70 kB instead of 830, and PostgreSQL decompresses nothing), with where
    each ends in the uncompressed text."""
    text = b",".join(entries)
    ends = [end + index for index, end in enumerate(accumulate(len(e) for e in entries))]
    return zstandard.ZstdCompressor(level=3).compress(text), ends


def _base_written(entries: bytes, ends: list[int], base: bytes) -> tuple[bytes, list[int]]:
    """Stored ``entries`` (each ending at its ``ends``) with their fullUrl's ``base`` (JSON
    string content) in place of the mark, and where each ends then."""
    grow = len(base) - len(MARK)
    return entries.replace(MARK, base), [end + grow * index for index, end in enumerate(ends, 1)]


@dataclass(frozen=True, slots=True)
class ReportRow:
    """A report of a search's page, as one statement reads it with its stored resources.

    ``stamp``: what its panel's stored resources must have been built from (:func:`stamp_of`),
    ``None`` when the panel has no current API document (then nothing of it is stored or
    served from the store). ``stored``: its stored DiagnosticReport's text, when its row is
    current (its stamp is the records' and it was written as superseded as it is; else
    ``None``), with the results it links (``result_ids``), their Observations' included
    entries (``entries``: comma-separated, each ending at its ``entry_ends``) and whether its
    findings depend on the reader (``history_dependent``)."""

    pk: int
    panel_id: int
    patient_id: int
    lab_id: int
    ready: bool
    stamp: str | None
    stored: bytes | None
    result_ids: list[int]
    entries: bytes
    entry_ends: list[int]
    history_dependent: bool

    def included(self) -> Iterator[tuple[int, bytes]]:
        """Each linked result's id and its stored entry, in order."""
        start = 0
        for pk, end in zip(self.result_ids, self.entry_ends, strict=True):
            yield pk, self.entries[start:end]
            start = end + 1


@dataclass(frozen=True, slots=True)
class ReportPage:
    """The page's rows, whether more follow (``more``) and how many match (``total``; ``None``
    when the search wants no total: ``_total=none``)."""

    total: int | None
    rows: list[ReportRow]
    more: bool


class _TextAsBytes(Loader):
    """``text`` loaded as the bytes PostgreSQL sent (UTF-8): a stored resource is spliced into
    the answer as bytes, never decoded to ``str`` and encoded again. In the binary format, which
    the page is read in (``bytea`` as its bytes, not their hex digits: half the bytes to send)."""

    format = pq.Format.BINARY

    def load(self, data: Any) -> bytes:
        return bytes(data)


# The number of reports matching, and the page of them, each with what its stored row is
# checked against and the row itself: one statement (a row with the total alone when the page
# is empty). The reports are those ``reports_matching`` finds (the caller's scope and the
# search's filters: its SQL, compiled by the ORM), counted in a subquery and paged by id (read
# in the reports' order and stopped at the page's end: at 10,000 reports 3 ms, where taking the
# page from the counted set took 5.5). The patient and the lab are looked up per row
# (subqueries, planned apart) rather than joined: a join over them made planning a search over
# seven tables' orders (3.5 ms at every search with parameters, against 1.5 now).
_PAGE = """
SELECT {total} AS total, page.*
FROM (SELECT 1) AS one
LEFT JOIN (
    SELECT r.id, r.panel_id, p.patient_id, p.lab_id, r.status,
        EXISTS (
            SELECT 1 FROM reports_report later
            WHERE later.panel_id = r.panel_id AND later.id > r.id
        ) AS superseded,
        d.panel_updated_at = p.updated_at AND d.patient_updated_at = (
            SELECT pt.updated_at FROM panels_patient pt WHERE pt.id = p.patient_id
        ) AS current,
        d.written_at::text AS written_at,
        (SELECT l.updated_at FROM panels_lab l WHERE l.id = p.lab_id)::text AS lab_updated_at,
        (SELECT MAX(a.updated_at) FROM reference_ranges_analyte a)::text AS catalogue_updated_at,
        s.stamp, s.superseded AS stored_superseded, s.history_dependent, s.resource,
        s.result_ids::text AS result_ids, s.included, s.included_ends::text AS included_ends
    FROM reports_report r
    JOIN panels_panel p ON p.id = r.panel_id
    LEFT JOIN panels_paneldocument d ON d.panel_id = r.panel_id
    LEFT JOIN reports_storeddiagnosticreport s ON s.report_id = r.id
    WHERE r.id IN ({matching})
    ORDER BY r.id
    LIMIT %s OFFSET %s
) AS page ON true
ORDER BY page.id
"""
# The total: how many reports match (a search that wants none, ``_total=none``, reads instead
# the row after the page: is there a next page?). The matches counted are read in the order of
# the index ``report_lab_ids`` (lab, id), so that PostgreSQL counts them from that index alone:
# unordered, where every report is the lab's (a lab's own installation), it preferred reading
# the whole reports table (its default ``random_page_cost`` of 4 priced the index's pages
# higher): at 10,000 reports the page statement took 3.1 ms that way, 1.7 ms from the index
# (EXPLAIN ANALYZE, timing off; the count alone 1.2 against 0.7-0.9 ms).
_COUNTED = "(SELECT COUNT(*) FROM ({counting}) AS matching)"
_NOT_COUNTED = "NULL::bigint"


def _page_text(matching: str, counting: str | None) -> str:
    total = _NOT_COUNTED if counting is None else _COUNTED.format(counting=counting)
    return _PAGE.format(total=total, matching=matching)


def _page_params(
    params: tuple[Any, ...], counting_params: tuple[Any, ...] | None, search: Search
) -> tuple[Any, ...]:
    if counting_params is None:
        return (*params, search.count + 1, search.offset)
    return (*counting_params, *params, search.count, search.offset)


_COMPILED = CompiledQueries()


def _page_sql(user: AnyUser, search: Search) -> tuple[str, tuple[Any, ...] | None]:
    """The page statement (:data:`_PAGE`) and its parameters.

    A search naming no ids, patients, identifiers, codes or dates (an integrator paging
    through what it may see) has ``reports_matching``'s SQL compiled once per scope and
    statuses, and its values written into the statement as literals (``compose_sql``, psycopg's
    own quoting), sent without parameters: PostgreSQL would plan the statement with parameters
    at every search (its custom plans look cheaper than a generic one), where psycopg prepares
    the same text once it has run a few times (``prepare_threshold``), and PostgreSQL then plans
    it once per connection. Nothing a user typed is kept that way, in the compiled SQL or in
    psycopg's count of statements: another search is compiled each time and sent with
    parameters."""

    def build() -> QuerySet[Any, Any]:
        return reports_matching(user=user, search=search).order_by().values("pk")

    def build_counted() -> QuerySet[Any, Any]:  # in the index's order: see _COUNTED
        return reports_matching(user=user, search=search).order_by("lab_id", "pk").values("pk")

    scope = access.scope_key(user)
    named = (search.ids, search.patients, search.identifiers, search.codes)
    counting: tuple[str, tuple[Any, ...]] | tuple[None, None] = (None, None)
    if scope is None or search.dates or any(value is not None for value in named):
        matching, params = build().query.sql_with_params()
        if search.counted:
            counting = build_counted().query.sql_with_params()
        return _page_text(matching, counting[0]), _page_params(params, counting[1], search)
    statuses = None if search.statuses is None else tuple(search.statuses)
    matching, params = _COMPILED.sql(("fhir reports matching", scope, statuses), build)
    if search.counted:
        counting = _COMPILED.sql(("fhir reports counted", scope, statuses), build_counted)
    composed: str = connection.ops.compose_sql(  # type: ignore[attr-defined]
        _page_text(matching, counting[0]), _page_params(params, counting[1], search)
    )
    return composed, None


def reports_page(*, user: AnyUser, search: Search, observation_base: bytes) -> ReportPage:
    """The page of reports ``user`` sees matching ``search``, each with its stored resources
    where current, and how many match (unless the search wants no total: then whether more
    follow, from the row after the page): one statement. ``observation_base``: the base of the
    Observations' fullUrl, written into their entries (JSON string content)."""
    try:
        sql, params = _page_sql(user, search)
    except EmptyResultSet:  # a condition that nothing meets (``pk__in=[]``)
        return ReportPage(total=0 if search.counted else None, rows=[], more=False)
    with connection.cursor() as cursor:
        cursor.cursor.format = pq.Format.BINARY
        cursor.cursor.adapters.register_loader("text", _TextAsBytes)
        cursor.cursor.adapters.register_loader("varchar", _TextAsBytes)
        cursor.execute(sql, params)
        found = cursor.fetchall()
    total = found[0][0]
    if not search.counted and len(found) > search.count:  # the row after the page: more follow
        found = found[: search.count]
        more = True
    else:
        more = total is not None and search.offset + search.count < total
    decompressor = zstandard.ZstdDecompressor()
    page = []
    for (
        _,
        pk,
        panel_id,
        patient_id,
        lab_id,
        status,
        superseded,
        document_current,
        written_at,
        lab_updated_at,
        catalogue_updated_at,
        stored_stamp,
        stored_superseded,
        history_dependent,
        resource,
        result_ids,
        included,
        included_ends,
    ) in found:
        if pk is None:  # the page is empty: its row holds the total alone
            continue
        stamp = (
            stamp_of(written_at, lab_updated_at, catalogue_updated_at) if document_current else None
        )
        fresh = (
            stamp is not None
            and stored_stamp is not None
            and stored_stamp.decode() == stamp
            and stored_superseded == superseded
        )
        entries, ends = (
            _base_written(
                decompressor.decompress(included), orjson.loads(included_ends), observation_base
            )
            if fresh
            else (b"", [])
        )
        page.append(
            ReportRow(
                pk=pk,
                panel_id=panel_id,
                patient_id=patient_id,
                lab_id=lab_id,
                ready=status == b"ready",
                stamp=stamp,
                stored=resource if fresh else None,
                result_ids=orjson.loads(result_ids) if fresh else [],
                entries=entries,
                entry_ends=ends,
                history_dependent=bool(history_dependent),
            )
        )
    return ReportPage(total=total, rows=page, more=more)


def report_text(row: ReportRow, pdf_url: str | None) -> bytes:
    """The stored DiagnosticReport of ``row`` as the server writes it, its PDF's link added
    last when the PDF is drawn (``pdf_url``), as ``resources.diagnostic_report_resource`` adds
    it."""
    if row.stored is None:
        raise ValueError(f"report {row.pk} has no current stored DiagnosticReport")
    if pdf_url is None:
        return row.stored
    form = encoding.fhir_dumps(resources.presented_form(row.pk, pdf_url))
    return b"".join((row.stored[:-1], b',"presentedForm":', form, b"}"))


def findings_depend_on_reader(report: Report) -> bool:
    """Whether ``report``'s findings are shown differently to a reader not shown the whole
    history (``panels.history.findings_shown``: a finding measured against an earlier panel,
    its baseline, read with the report as ``serial_baseline``)."""
    baseline = getattr(report, "serial_baseline", None)
    return baseline is not None and baseline != report.panel.accession


def resources_store(
    *,
    built: Sequence[Report],
    stamps: Mapping[int, ReportRow],
    report_results: Callable[[Report], Sequence[resources.AnyResult]],
    observation_base: bytes,
) -> dict[int, ReportRow]:
    """Store the resources of each of ``built`` (read by ``selectors.reports_read``, in the
    request that found them missing or stale), stamped as its page row (``stamps``, read before
    them) says; none for a panel without a current API document. The findings stored are those
    the lab's staff read (``resources.findings_of_report``); ``report_results(report)`` chooses
    the results a report links. One upsert, in the order of the reports' ids (concurrent
    searches storing the same rows wait for each other, never deadlock). A failure is logged
    and the answer is still given: the rows are a copy of the records.

    Returns each stored report's page row as it is now (current, its texts in hand, the
    Observations' fullUrl base ``observation_base``, as :func:`reports_page` gives it), for the
    search to answer from: the resources are not built a second time."""
    now = timezone.now()
    stored: list[StoredDiagnosticReport] = []
    rows: dict[int, ReportRow] = {}
    for report in sorted(built, key=lambda report: report.pk):
        stamp = stamps[report.pk].stamp
        if stamp is None:
            continue
        panel = report.panel
        superseded = bool(getattr(report, "superseded", False))
        linked = report_results(report)
        resource = resources.diagnostic_report_resource(
            report,
            panel=panel,
            result_ids=[result.pk for result in linked],
            findings=resources.findings_of_report(
                report, getattr(panel, "all_findings", []), newest=not superseded
            ),
            pdf_url="",
        )
        resource.pop("presentedForm", None)
        released_at = released_at_of(report)
        entries = [
            include_entry(
                result.pk,
                encoding.fhir_dumps(
                    resources.observation_resource(result, panel=panel, released_at=released_at)
                ),
            )
            for result in linked
        ]
        packed, ends = entries_pack(entries)
        report_text_ = encoding.fhir_dumps(resource)
        written, written_ends = _base_written(b",".join(entries), ends, observation_base)
        rows[report.pk] = current = dataclasses.replace(
            stamps[report.pk],
            stored=report_text_,
            result_ids=[result.pk for result in linked],
            entries=written,
            entry_ends=written_ends,
            history_dependent=findings_depend_on_reader(report),
        )
        stored.append(
            StoredDiagnosticReport(
                report_id=report.pk,
                stamp=stamp,
                superseded=superseded,
                history_dependent=current.history_dependent,
                resource=report_text_.decode(),
                result_ids=current.result_ids,
                included=packed,
                included_ends=ends,
                written_at=now,
            )
        )
    if not stored:
        return rows
    try:
        with transaction.atomic():
            StoredDiagnosticReport.objects.bulk_create(
                stored,
                update_conflicts=True,
                unique_fields=["report"],
                update_fields=[
                    "stamp",
                    "superseded",
                    "history_dependent",
                    "resource",
                    "result_ids",
                    "included",
                    "included_ends",
                    "written_at",
                ],
            )
    except DatabaseError:
        logger.warning(
            "fhir.stored_write_failed report_ids=%s",
            ",".join(str(row.report_id) for row in stored),
        )
    return rows
