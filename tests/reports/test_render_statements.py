"""The render task's SQL (issue 11, "speed stays"): how many statements a report costs, and that
the one-statement read (``reports.selectors.report_source_get``) builds the very document the
ORM's reads build, for the bench's eight cases (``bench/report_cases.py``), an amended report
and a patient given tocilizumab."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, models, transaction
from django.utils import timezone
from pypdf import PdfReader
from rest_framework.test import APIClient

from labpanel.accounts.models import Lab, StaffMember
from reports.document_builder import report_document_build
from reports.models import Report, ReportStage, ReportStatus
from reports.rendering import ReportDocument, render_pdf
from reports.selectors import (
    ReportSource,
    report_source_for,
    report_source_get,
    report_source_parse,
)
from reports.services import report_render
from tests.conftest import token_client

# The cases are the bench's own module (bench/ is a folder of scripts, not a package).
BENCH = Path(__file__).resolve().parents[2] / "bench"
if str(BENCH) not in sys.path:
    sys.path.append(str(BENCH))

from report_cases import CASES, Case, case_payloads, measuring_ranges_record  # noqa: E402

pytestmark = pytest.mark.django_db

CASES_BY_SLUG = {case.slug: case for case in CASES}


@pytest.fixture
def post_case(
    technician_client: APIClient, lab: Lab, director: StaffMember
) -> Callable[[Case], Report]:
    """Post ``case`` as the bench does; its last panel's report (the amended case: released,
    its FINAL report rendered, then corrected: the CORRECTED report)."""
    measuring_ranges_record(lab)
    director_client = token_client(director)

    def post(case: Case) -> Report:
        for payload in case_payloads(case, clinician="dr.house"):
            response = technician_client.post("/api/v1/panels/", payload, format="json")
            assert response.status_code == 201, response.json()
        panel_id = response.json()["id"]
        if case.amendment is not None:
            for step in ("verify", "release"):
                answer = director_client.post(f"/api/v1/panels/{panel_id}/{step}/", {})
                assert answer.status_code in (200, 202), answer.json()
            for pending in Report.objects.filter(panel_id=panel_id, status=ReportStatus.PENDING):
                report_render(report_id=pending.pk)  # the worker's part: FINAL is issued
            answer = technician_client.post(
                f"/api/v1/panels/{panel_id}/amendments/", case.amendment, format="json"
            )
            assert answer.status_code in (200, 201), answer.json()
        return Report.objects.filter(panel_id=panel_id).order_by("-pk").first()  # type: ignore[return-value]

    return post


def _columns(instance: models.Model | None) -> list[tuple[str, str]] | None:
    """Every column of ``instance`` as the ORM holds it (repr: a decimal's scale, a time's
    zone)."""
    if instance is None:
        return None
    return [
        (field.attname, repr(getattr(instance, field.attname)))
        for field in instance._meta.concrete_fields
    ] + [("_state", repr((instance._state.adding, instance._state.db)))]


def _rows(source: ReportSource) -> dict[str, Any]:
    panel = source.panel
    users = (panel.ordering_clinician, panel.submitted_by)
    return {
        "report": _columns(source.report),
        "amends": _columns(source.report.amends),
        "panel": _columns(panel),
        "lab": _columns(panel.lab),
        "patient": _columns(panel.patient),
        "ruleset": _columns(panel.ruleset),
        "users": [_columns(user) for user in users],
        "staff": [_columns(getattr(user, "staff", None)) for user in users],
        "results": [
            (_columns(result), _columns(result.analyte), _columns(result.rule))
            for result in panel.results.all()
        ],
        "superseded": [_columns(result) for result in panel.superseded],  # type: ignore[attr-defined]
        "findings": [_columns(finding) for finding in panel.findings.all()],
        "tocilizumab_at": repr(source.tocilizumab_at),
    }


def _pdf_text(document: ReportDocument) -> str:
    pages = PdfReader(io.BytesIO(render_pdf(document))).pages
    return "\n".join(page.extract_text() for page in pages)


def _both_ways(report: Report) -> tuple[ReportSource, ReportSource]:
    one = report_source_get(report_id=report.pk)
    orm = report_source_for(report=Report.objects.get(pk=report.pk))
    return one, orm


@pytest.mark.parametrize("slug", list(CASES_BY_SLUG))
def test_one_statement_source_builds_the_document_the_orm_reads_build(
    post_case: Callable[[Case], Report], slug: str
) -> None:
    # given: the bench's case posted through the API (amended: released, then corrected)
    report = post_case(CASES_BY_SLUG[slug])
    reported_at = timezone.now()

    # when
    one, orm = _both_ways(report)
    document = report_document_build(report=one.report, reported_at=reported_at, source=one)
    expected = report_document_build(report=orm.report, reported_at=reported_at, source=orm)

    # then: the same rows, value for value, the same document and the same PDF text
    assert _rows(one) == _rows(orm)
    assert one.analyte_names is not None
    assert document == expected
    assert _pdf_text(document) == _pdf_text(expected)
    if slug == "amended":
        assert one.report.stage == ReportStage.CORRECTED
        assert document.amendment is not None


def test_one_statement_source_reads_a_tocilizumab_dose_and_the_replaced_results(
    post_case: Callable[[Case], Report], technician_client: APIClient
) -> None:
    # given: the CRS case given tocilizumab before collection, its preliminary report issued,
    # then an IL-6 correction before release (the replaced result stays, as ``superseded``)
    case = CASES_BY_SLUG["cart-day3-crs"]
    payload = case_payloads(case, clinician="dr.house")[0]
    payload["events"].append({"type": "tocilizumab", "at": "2026-11-12T20:00:00+00:00"})
    response = technician_client.post("/api/v1/panels/", payload, format="json")
    assert response.status_code == 201, response.json()
    panel_id = response.json()["id"]
    report_render(report_id=response.json()["report"]["id"])  # amended once it is issued
    correction = {
        "reason": "Re-run diluted.",
        "results": [{"analyte": "IL6", "value": "1500", "unit": "pg/mL"}],
    }
    answer = technician_client.post(
        f"/api/v1/panels/{panel_id}/amendments/", correction, format="json"
    )
    assert answer.status_code in (200, 201), answer.json()
    report = Report.objects.filter(panel_id=panel_id).order_by("-pk").first()
    assert report is not None
    reported_at = timezone.now()

    # when
    one, orm = _both_ways(report)
    document = report_document_build(report=one.report, reported_at=reported_at, source=one)
    expected = report_document_build(report=orm.report, reported_at=reported_at, source=orm)

    # then
    assert one.tocilizumab_at is not None
    assert len(one.panel.superseded) == 1  # type: ignore[attr-defined]
    assert _rows(one) == _rows(orm)
    assert document == expected
    assert "IL-6 measured after tocilizumab" in _pdf_text(document)


def test_a_post_init_receiver_sees_every_instance_the_one_statement_read_makes(
    post_case: Callable[[Case], Report],
) -> None:
    # given: a receiver of post_init (the one-statement read skips Model.__init__ only when no
    # receiver would miss it)
    report = post_case(CASES_BY_SLUG["serial"])
    seen: list[type[models.Model]] = []

    def receiver(sender: type[models.Model], **kwargs: Any) -> None:
        seen.append(sender)

    models.signals.post_init.connect(receiver, weak=False)
    try:
        # when
        one = report_source_get(report_id=report.pk)
    finally:
        models.signals.post_init.disconnect(receiver)

    # then: made through Model.__init__, the same rows as without the receiver
    assert Report in seen
    assert len(seen) > len(one.panel.results.all())
    assert _rows(one) == _rows(report_source_get(report_id=report.pk))


def test_source_without_one_statement_is_the_orm_reads(
    post_case: Callable[[Case], Report],
) -> None:
    report = post_case(CASES_BY_SLUG["clinical-inputs"])

    fallback = report_source_get(report_id=report.pk, one_statement=False)

    assert fallback.analyte_names is None  # read when the findings need them
    assert _rows(fallback) == _rows(report_source_get(report_id=report.pk))


@pytest.mark.parametrize("slug", ["cart-day3-crs", "serial", "amended", "clinical-inputs"])
def test_rendering_a_report_takes_five_statements(
    post_case: Callable[[Case], Report], django_assert_num_queries: Any, slug: str
) -> None:
    # given: a pending report (the amended case: the CORRECTED one), and a database session
    # that rendered a report before (its statement is prepared)
    report_render(report_id=post_case(CASES_BY_SLUG["all-normal"]).pk)
    report = post_case(CASES_BY_SLUG[slug])
    assert report.status == ReportStatus.PENDING

    # when
    with django_assert_num_queries(5) as captured:
        report_render(report_id=report.pk)

    # then: claim it and read everything it shows in one prepared statement (UPDATE ...
    # RETURNING into the read); then, in one transaction (a savepoint inside the test's), mark
    # it ready and record its event
    verbs = [query["sql"].split(None, 1)[0].upper() for query in captured.captured_queries]
    assert verbs == ["WITH", "SAVEPOINT", "UPDATE", "INSERT", "RELEASE"]
    report.refresh_from_db()
    assert report.status == ReportStatus.READY


def test_a_database_session_plans_the_render_statement_once(
    post_case: Callable[[Case], Report], django_assert_num_queries: Any
) -> None:
    # given: a database session that has rendered a few reports (server-side binding:
    # psycopg prepares a statement it has run prepare_threshold times)
    threshold = connection.connection.prepare_threshold
    assert threshold is not None
    for _ in range(threshold):
        report_render(report_id=post_case(CASES_BY_SLUG["all-normal"]).pk)
    report = post_case(CASES_BY_SLUG["child"])

    # when
    with django_assert_num_queries(5):
        report_render(report_id=report.pk)

    # then: the claim and read is a statement prepared in this session (planned once)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE NOT from_sql AND statement LIKE %s",
            ["%WITH claimed AS%"],
        )
        assert cursor.fetchone() == (1,)
    report.refresh_from_db()
    assert report.status == ReportStatus.READY


def test_a_report_not_claimable_costs_one_statement(
    post_case: Callable[[Case], Report], django_assert_num_queries: Any
) -> None:
    report = post_case(CASES_BY_SLUG["all-normal"])
    report_render(report_id=report.pk)

    with django_assert_num_queries(1):
        report_render(report_id=report.pk)


def test_the_one_statement_claim_takes_a_report_left_rendering_only_once_it_is_stale(
    post_case: Callable[[Case], Report], settings: Any
) -> None:
    # given: two reports left rendering, one by a worker that died long ago, one just now
    stale, recent = (post_case(CASES_BY_SLUG[slug]) for slug in ("child", "converted"))
    now = timezone.now()
    Report.objects.filter(pk=stale.pk).update(
        status=ReportStatus.RENDERING,
        attempts=1,
        rendering_started_at=now - settings.REPORT_RENDER_STALE_AFTER * 2,
    )
    Report.objects.filter(pk=recent.pk).update(
        status=ReportStatus.RENDERING, attempts=1, rendering_started_at=now
    )

    # when
    report_render(report_id=stale.pk)
    report_render(report_id=recent.pk)

    # then: the stale one is claimed again (its second attempt) and issued; the other waits
    stale.refresh_from_db()
    recent.refresh_from_db()
    assert (stale.status, stale.attempts) == (ReportStatus.READY, 2)
    assert (recent.status, recent.attempts) == (ReportStatus.RENDERING, 1)


def test_elsewhere_than_postgresql_the_render_claims_then_reads_with_the_orm(
    post_case: Callable[[Case], Report],
    django_assert_num_queries: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: the database says it is not PostgreSQL (SQLite, the embedded default)
    report = post_case(CASES_BY_SLUG["cart-day3-crs"])
    monkeypatch.setattr(connection, "vendor", "sqlite")

    # when
    with django_assert_num_queries(14) as captured:
        report_render(report_id=report.pk)

    # then: the claim, the report, the panel's reads (panel, its two users, its results, the
    # replaced ones, its findings, its review history), the tocilizumab dose, then the same
    # transaction
    verbs = [query["sql"].split(None, 1)[0].upper() for query in captured.captured_queries]
    assert verbs == ["UPDATE", *["SELECT"] * 9, "SAVEPOINT", "UPDATE", "INSERT", "RELEASE"]
    report.refresh_from_db()
    assert report.status == ReportStatus.READY


def test_a_column_the_reader_cannot_rebuild_exactly_is_refused_not_guessed() -> None:
    from django.db import models as django_models

    from reports.json_rows import UnreadableColumn, row_json_sql

    class Odd(django_models.Model):
        where = django_models.GenericIPAddressField()

        class Meta:
            app_label = "reports"
            managed = False

        def __str__(self) -> str:
            return "odd"

    with pytest.raises(UnreadableColumn, match=r"Odd\.where: no converter for GenericIP"):
        row_json_sql(Odd, "o")


def _synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return str(cursor.fetchone()[0])


@pytest.mark.django_db(transaction=True)
def test_the_claim_in_its_own_transaction_does_not_wait_for_the_flush(
    post_case: Callable[[Case], Report],
) -> None:
    """In autocommit (a worker) the claim is its own transaction, and the statement turns
    ``synchronous_commit`` off for the transaction it runs in, for that one only. (Observed
    by running the same statement and parameters inside a transaction, which outlives it.)"""
    from reports import services

    report = post_case(CASES_BY_SLUG["all-normal"])
    assert not connection.in_atomic_block
    params = services._claim_params(report_id=report.pk, now=timezone.now())
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(services._claim_and_read_sql(), params)
            claimed = cursor.fetchone()
        assert claimed is not None
        assert _synchronous_commit() == "off"
        transaction.set_rollback(True)
    assert _synchronous_commit() == "on"  # the session, like a worker's, keeps its flush


def test_the_claim_leaves_a_callers_transaction_flushing(
    post_case: Callable[[Case], Report],
) -> None:
    """Inside a caller's transaction (whose commit may hold more than the claim) the
    claim-and-read statement claims as ever and leaves ``synchronous_commit`` as it was."""
    from reports import services

    report = post_case(CASES_BY_SLUG["all-normal"])
    assert _synchronous_commit() == "on"
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                services._claim_and_read_sql(),
                services._claim_params(report_id=report.pk, now=timezone.now()),
            )
            claimed = cursor.fetchone()
        # then: the claim took the report, and the caller's commit still waits for the flush
        assert claimed is not None
        assert report_source_parse(claimed[0]).report.pk == report.pk
        assert _synchronous_commit() == "on"
        transaction.set_rollback(True)


@pytest.mark.django_db(transaction=True)
def test_a_worker_session_keeps_flushing_the_ready_commit(
    post_case: Callable[[Case], Report],
) -> None:
    """In autocommit, as a worker renders: the claim's setting ends with its own transaction,
    so the READY transaction (the PDF a clinician may fetch at once) waits for its flush."""
    report = post_case(CASES_BY_SLUG["all-normal"])
    seen: list[str] = []

    def before_ready(execute: Any, sql: str, *args: Any) -> Any:
        if sql.lstrip().upper().startswith("UPDATE") and connection.in_atomic_block:
            raw = connection.connection
            seen.append(str(raw.execute("SHOW synchronous_commit").fetchone()[0]))
        return execute(sql, *args)

    assert not connection.in_atomic_block
    with connection.execute_wrapper(before_ready):
        report_render(report_id=report.pk)
    report.refresh_from_db()
    assert report.status == ReportStatus.READY
    assert seen == ["on"]
