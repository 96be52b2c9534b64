"""The FHIR server's stored resources (``reports.models_fhir``): read for a DiagnosticReport
search, and written after a search built them from the records.

A search of 50 reports with ``_include`` of their results answers some 700 resources (about
1 MB). Building them from the records each time (the reports with their panels and findings,
650 results as rows, each resource, then the JSON) took some 25 ms against a panel read's 2
(issue 15's target is 0.4x that read). Here each report's DiagnosticReport, and the
Observations of the results it links, are kept as the JSON text the server writes
(``encoding.fhir_dumps``), and the search splices the texts into its Bundle: after its COUNT,
the page with its stored resources is one statement.

What is served is what the records give now: a stored row is used only while its stamp is the
records' (``models_fhir``: the panel's API document, rewritten by every change to the panel;
the lab; the analyte catalogue; the code that builds the resources; and whether a later report
exists). A report whose row is missing or stale is read and built from the records as before
(``selectors.reports_read``), its row is written then, in a transaction of its own after the
reads (:func:`resources_store`), and the answer is taken from what was written. Not stored, and
added when read: the PDF's link (its URL is the request's; present once the PDF is drawn), and
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
from django.core.exceptions import EmptyResultSet
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from psycopg.adapt import Loader

from reports.fhir import codes, encoding, resources, rows
from reports.fhir.search import Search
from reports.fhir.selectors import AnyUser, released_at_of, reports_matching
from reports.models import Report, StoredDiagnosticReport
from reports.results_builder import FLAG_TEXT

logger = logging.getLogger(__name__)


def _fingerprint() -> str:
    """The code that writes the resources, as a fingerprint: its modules' source and the words
    it takes from elsewhere. A row written by other code is not served."""
    digest = hashlib.sha256()
    for module in (resources, codes, rows, encoding):
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


@dataclass(frozen=True, slots=True)
class ReportRow:
    """A report of a search's page, as one statement reads it with its stored resources.

    ``stamp``: what its panel's stored resources must have been built from (:func:`stamp_of`),
    ``None`` when the panel has no current API document (then nothing of it is stored or
    served from the store). ``stored``: its stored DiagnosticReport's text, when its row is
    current (its stamp is the records' and it was written as superseded as it is; else
    ``None``), with the results it links (``result_ids``), their Observations' texts end to end
    (``observations``, each ending at its ``observation_ends``) and whether its findings depend
    on the reader (``history_dependent``)."""

    pk: int
    panel_id: int
    patient_id: int
    lab_id: int
    ready: bool
    stamp: str | None
    stored: bytes | None
    result_ids: list[int]
    observations: bytes
    observation_ends: list[int]
    history_dependent: bool

    def included(self) -> Iterator[tuple[int, bytes]]:
        """Each linked result's id and its stored Observation's text, in order."""
        start = 0
        for pk, end in zip(self.result_ids, self.observation_ends, strict=True):
            yield pk, self.observations[start:end]
            start = end


@dataclass(frozen=True, slots=True)
class ReportPage:
    total: int
    rows: list[ReportRow]


class _TextAsBytes(Loader):
    """``text`` loaded as the bytes PostgreSQL sent (UTF-8): a stored resource is spliced into
    the answer as bytes, never decoded to ``str`` and encoded again."""

    def load(self, data: Any) -> bytes:
        return bytes(data)


# The page, each report with what its stored row is checked against and the row itself. The
# reports are those ``reports_matching`` finds (the caller's scope and the search's filters:
# its SQL, compiled by the ORM, is the ``IN``), in order of id.
_PAGE = """
SELECT r.id, r.panel_id, p.patient_id, p.lab_id, r.status,
    EXISTS (
        SELECT 1 FROM reports_report later WHERE later.panel_id = r.panel_id AND later.id > r.id
    ),
    d.panel_updated_at = p.updated_at AND d.patient_updated_at = pt.updated_at,
    d.written_at::text, l.updated_at::text,
    (SELECT MAX(a.updated_at) FROM reference_ranges_analyte a)::text,
    s.stamp, s.superseded, s.history_dependent, s.resource, s.result_ids::text,
    s.observations, s.observation_ends::text
FROM reports_report r
JOIN panels_panel p ON p.id = r.panel_id
JOIN panels_patient pt ON pt.id = p.patient_id
JOIN panels_lab l ON l.id = p.lab_id
LEFT JOIN panels_paneldocument d ON d.panel_id = r.panel_id
LEFT JOIN reports_storeddiagnosticreport s ON s.report_id = r.id
WHERE r.id IN ({matching})
ORDER BY r.id
LIMIT %s OFFSET %s
"""


def reports_page(*, user: AnyUser, search: Search) -> ReportPage:
    """The page of reports ``user`` sees matching ``search``, each with its stored resources
    where current: one COUNT and one SELECT."""
    try:
        matching, params = (
            reports_matching(user=user, search=search).values("pk").query.sql_with_params()
        )
    except EmptyResultSet:  # a condition that nothing meets (``pk__in=[]``)
        return ReportPage(total=0, rows=[])
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM ({matching}) AS matching", params)  # noqa: S608
        (total,) = cursor.fetchone()
        if not total:
            return ReportPage(total=0, rows=[])
        cursor.cursor.adapters.register_loader("text", _TextAsBytes)
        cursor.cursor.adapters.register_loader("varchar", _TextAsBytes)
        cursor.execute(_PAGE.format(matching=matching), (*params, search.count, search.offset))
        found = cursor.fetchall()
    page = []
    for (
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
        observations,
        observation_ends,
    ) in found:
        stamp = (
            stamp_of(written_at, lab_updated_at, catalogue_updated_at) if document_current else None
        )
        fresh = (
            stamp is not None
            and stored_stamp is not None
            and stored_stamp.decode() == stamp
            and stored_superseded == superseded
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
                observations=observations if fresh else b"",
                observation_ends=orjson.loads(observation_ends) if fresh else [],
                history_dependent=bool(history_dependent),
            )
        )
    return ReportPage(total=total, rows=page)


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
) -> dict[int, ReportRow]:
    """Store the resources of each of ``built`` (read by ``selectors.reports_read``, in the
    request that found them missing or stale), stamped as its page row (``stamps``, read before
    them) says; none for a panel without a current API document. The findings stored are those
    the lab's staff read (``resources.findings_of_report``); ``report_results(report)`` chooses
    the results a report links. One upsert, in the order of the reports' ids (concurrent
    searches storing the same rows wait for each other, never deadlock). A failure is logged
    and the answer is still given: the rows are a copy of the records.

    Returns each stored report's page row as it is now (current, its texts in hand), for the
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
        texts = [
            encoding.fhir_dumps(
                resources.observation_resource(result, panel=panel, released_at=released_at)
            )
            for result in linked
        ]
        report_text_ = encoding.fhir_dumps(resource)
        rows[report.pk] = current = dataclasses.replace(
            stamps[report.pk],
            stored=report_text_,
            result_ids=[result.pk for result in linked],
            observations=b"".join(texts),
            observation_ends=list(accumulate(len(text) for text in texts)),
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
                observations=current.observations.decode(),
                observation_ends=current.observation_ends,
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
                    "observations",
                    "observation_ends",
                    "written_at",
                ],
            )
    except DatabaseError:
        logger.warning(
            "fhir.stored_write_failed report_ids=%s",
            ",".join(str(row.report_id) for row in stored),
        )
    return rows
