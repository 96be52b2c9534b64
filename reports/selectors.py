"""Reads of reports: permission-aware ones (a report is visible when its panel is and, for a
clinician, once released, or as a preliminary where the lab sends them:
``labpanel.accounts.access.reports_scope``), and the worker's read of everything a report shows
(``report_source_get``: one PostgreSQL statement, the ORM's reads elsewhere)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import orjson
from django.contrib.auth.models import AnonymousUser, User
from django.contrib.postgres.aggregates import JSONBAgg
from django.db import connection, models
from django.db.models import (
    Case,
    Exists,
    F,
    JSONField,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import JSONObject

from labpanel.accounts import access
from labpanel.accounts.access import PanelFacts
from labpanel.accounts.models import Lab, StaffMember
from panels.history import history_facts
from panels.models import (
    Finding,
    FindingStatus,
    FindingText,
    Panel,
    Patient,
    PatientEvent,
    PatientEventKind,
    Result,
    ReviewTransition,
)
from panels.selectors import panel_details
from reference_ranges.models import Analyte, ReferenceRangeRule, ReferenceRangeSet
from reports.json_rows import (
    prefetched,
    related_cache,
    row_datetime,
    row_instance,
    row_json_sql,
)
from reports.models import Report, ReportStatus


def with_reports(
    panels: QuerySet[Panel], *, user: User | AnonymousUser | None = None
) -> QuerySet[Panel]:
    """``panels`` with their reports prefetched, newest first: those ``user`` may see (a
    clinician: released ones, or preliminary ones where the lab sends them), or all of them
    (``None``: the worker, acting for the lab)."""
    reports = Report.objects.order_by("-pk")
    if user is not None:
        reports = reports.filter(access.reports_scope(user))
    return panels.prefetch_related(Prefetch("reports", queryset=reports))


def panel_reports_json(*, user: User | AnonymousUser) -> Subquery:
    """An expression on a panels query: the reports of the panel (``pk``) that ``user`` may see,
    newest first, as one JSON array of ``{"id", "status", "stage", "amends"}`` (``status`` as
    the API says it: ``Report.public_status``), or null for none. PostgreSQL only. It is read
    in the panel's own statement (``panels.intake.selectors``), so that the panels API's stored
    documents, which hold no report, never show a report's state as it was."""
    reports = (
        Report.objects.filter(access.reports_scope(user), panel_id=OuterRef("pk"))
        .order_by()
        .values("panel_id")
        .annotate(
            listed=JSONBAgg(
                JSONObject(
                    id=F("id"),
                    status=Case(
                        When(status=ReportStatus.RENDERING, then=Value(ReportStatus.PENDING.value)),
                        default=F("status"),
                    ),
                    stage=F("stage"),
                    amends=F("amends_id"),
                ),
                order_by=F("id").desc(),
            )
        )
        .values("listed")
    )
    return Subquery(reports, output_field=JSONField())


def panel_get_for_rendering(*, pk: int) -> Panel:
    """The panel with everything a report shows, its review history included (who verified
    and released it); for the worker, which acts for the lab. (Not its other reports: the
    report being drawn carries what it says about the one it amends.)"""
    return panel_details(Panel.objects.all()).get(pk=pk)


@dataclass(frozen=True)
class ReportSource:
    """Everything the document of a report is built from.

    ``report`` (its ``amends`` loaded, and who asked for it, ``requested_by``, with the staff
    row) and ``panel`` (as ``panel_get_for_rendering`` reads it: lab, patient, rule set, both
    users with their staff rows, current results with analyte and rule, the replaced ones as
    ``superseded``, current findings, review history with each actor and staff row);
    ``report.panel`` is ``panel``.
    ``tocilizumab_at``: the patient's last tocilizumab dose at or before collection.
    ``analyte_names``: code -> short name of the analytes the findings not evaluated lack, or
    ``None`` when they are to be read when needed (``reports.findings_builder``).
    ``earlier``: the facts of the earlier panels the panel's trend snapshot shows, by accession
    (who may be shown them: ``panels.history``), or ``None`` when they are to be read when needed.
    """

    report: Report
    panel: Panel
    tocilizumab_at: datetime | None
    analyte_names: Mapping[str, str] | None
    earlier: Mapping[str, PanelFacts] | None = None


_REQUESTED_BY = Report._meta.get_field("requested_by")


def report_source_for(*, report: Report, panel: Panel | None = None) -> ReportSource:
    """The source of ``report`` read with the ORM (the panel's reads, then the events); from
    ``panel`` when the caller has read it already with ``panels.selectors.panel_details``."""
    if panel is None:
        panel = panel_get_for_rendering(pk=report.panel_id)
    report.panel = panel
    if report.requested_by_id is not None and not _REQUESTED_BY.is_cached(report):
        related_cache(
            report,
            "requested_by",
            User.objects.select_related("staff").get(pk=report.requested_by_id),
        )
    tocilizumab_at = (
        PatientEvent.objects.filter(
            patient_id=panel.patient_id,
            kind=PatientEventKind.TOCILIZUMAB,
            occurred_at__lte=panel.collected_at,
        )
        .order_by("-occurred_at")
        .values_list("occurred_at", flat=True)
        .first()
    )
    return ReportSource(
        report=report, panel=panel, tocilizumab_at=tocilizumab_at, analyte_names=None
    )


def report_source_get(*, report_id: int, one_statement: bool = True) -> ReportSource:
    """The source of report ``report_id``, for the worker (which acts for the lab).

    On PostgreSQL, in ONE statement answering one JSON value (``report_source_sql``), rebuilt
    into the instances the ORM would have read (``reports.json_rows``); elsewhere (SQLite, the
    embedded default) or with ``one_statement=False``, with the ORM's reads. Raises
    ``Report.DoesNotExist``.
    """
    if not one_statement or connection.vendor != "postgresql":
        return report_source_for(report=Report.objects.get(pk=report_id))
    with connection.cursor() as cursor:
        cursor.execute(
            report_source_sql(report_rows=f'"{Report._meta.db_table}"'),
            report_source_params(report_id=report_id),
        )
        row = cursor.fetchone()
    if row is None:
        raise Report.DoesNotExist(f"report {report_id} does not exist")
    return report_source_parse(row[0])


def report_source_params(*, report_id: int) -> list[Any]:
    """The parameters of ``report_source_sql``, in order."""
    return [PatientEventKind.TOCILIZUMAB, FindingStatus.NOT_EVALUATED, report_id]


def report_source_parse(text: str) -> ReportSource:
    """The source from the JSON text ``report_source_sql`` answered."""
    return _source_from_json(orjson.loads(text))


def _object_or_null(model: type[models.Model], alias: str) -> str:
    return f'CASE WHEN "{alias}"."id" IS NULL THEN NULL ELSE {row_json_sql(model, alias)} END'


@cache
def report_source_sql(*, report_rows: str) -> str:
    """The one statement of ``report_source_get``: everything a report shows as one JSON object
    (``json``: quicker to build than ``jsonb``), or no row when the report is not found.

    The report's row is read from ``report_rows``: the reports table, or a common table
    expression with its columns that the caller puts before this statement (the render
    service's claim, ``UPDATE ... RETURNING``). Only the models' own table and column names are
    written into it; the values are parameters (``report_source_params``): the tocilizumab
    event kind, the finding status "not evaluated", the report id."""
    table = {
        model: model._meta.db_table
        for model in (
            Report,
            Panel,
            Lab,
            Patient,
            ReferenceRangeSet,
            User,
            StaffMember,
            Result,
            Analyte,
            ReferenceRangeRule,
            Finding,
            FindingText,
            PatientEvent,
            ReviewTransition,
        )
    }
    return f"""
SELECT json_build_object(
    'report', {row_json_sql(Report, "r")},
    'amends', {_object_or_null(Report, "a")},
    'panel', {row_json_sql(Panel, "p")},
    'lab', {row_json_sql(Lab, "l")},
    'patient', {row_json_sql(Patient, "pt")},
    'ruleset', {row_json_sql(ReferenceRangeSet, "rs")},
    'users', (
        SELECT json_agg(json_build_object(
            'user', {row_json_sql(User, "u")}, 'staff', {_object_or_null(StaffMember, "s")}
        ))
        FROM "{table[User]}" u LEFT JOIN "{table[StaffMember]}" s ON s."user_id" = u."id"
        WHERE u."id" IN (p."ordering_clinician_id", p."submitted_by_id", r."requested_by_id")
            OR u."id" IN (
                SELECT ta."actor_id" FROM "{table[ReviewTransition]}" ta
                WHERE ta."panel_id" = p."id"
            )
    ),
    'transitions', (
        SELECT json_agg({row_json_sql(ReviewTransition, "t")} ORDER BY t."occurred_at", t."id")
        FROM "{table[ReviewTransition]}" t
        WHERE t."panel_id" = p."id"
    ),
    'results', (
        SELECT json_agg(json_build_object(
            'result', {row_json_sql(Result, "res")},
            'analyte', {row_json_sql(Analyte, "an")},
            'rule', {_object_or_null(ReferenceRangeRule, "ru")}
        ) ORDER BY res."position")
        FROM "{table[Result]}" res
        JOIN "{table[Analyte]}" an ON an."id" = res."analyte_id"
        LEFT JOIN "{table[ReferenceRangeRule]}" ru ON ru."id" = res."rule_id"
        WHERE res."panel_id" = p."id" AND res."superseded_by_id" IS NULL
    ),
    'superseded', (
        SELECT json_agg({row_json_sql(Result, "old")} ORDER BY old."position")
        FROM "{table[Result]}" old
        WHERE old."panel_id" = p."id" AND old."superseded_by_id" IS NOT NULL
    ),
    'findings', (
        SELECT json_agg(json_build_object(
            'finding', {row_json_sql(Finding, "f")}, 'text', {row_json_sql(FindingText, "ft")}
        ) ORDER BY f."position")
        FROM "{table[Finding]}" f
        JOIN "{table[FindingText]}" ft ON ft."id" = f."text_id"
        WHERE f."panel_id" = p."id" AND f."superseded_at" IS NULL
    ),
    'tocilizumab_at', (
        SELECT max(e."occurred_at") FROM "{table[PatientEvent]}" e
        WHERE e."patient_id" = p."patient_id" AND e."kind" = %s
            AND e."occurred_at" <= p."collected_at"
    ),
    'earlier', (
        SELECT json_agg(json_build_object(
            'accession', h."accession", 'lab_id', h."lab_id",
            'submitted_by_id', h."submitted_by_id",
            'ordering_clinician_id', h."ordering_clinician_id",
            'review_state', h."review_state"
        ))
        FROM "{table[Panel]}" h
        WHERE h."patient_id" = p."patient_id" AND h."id" <> p."id" AND h."accession" IN (
            SELECT shown ->> 'accession' FROM jsonb_array_elements(
                COALESCE(p."serial" -> 'panels', '[]'::jsonb)
                || COALESCE(p."serial" -> 'excluded', '[]'::jsonb)
            ) shown
        )
    ),
    'analyte_names', (
        SELECT json_object_agg(n."code", n."short_name") FROM "{table[Analyte]}" n
        WHERE n."code" IN (
            SELECT jsonb_array_elements_text(nf."missing_inputs") FROM "{table[Finding]}" nf
            WHERE nf."panel_id" = p."id" AND nf."superseded_at" IS NULL
                AND nf."status" = %s
        )
    )
)::text
FROM {report_rows} r
JOIN "{table[Panel]}" p ON p."id" = r."panel_id"
JOIN "{table[Lab]}" l ON l."id" = p."lab_id"
JOIN "{table[Patient]}" pt ON pt."id" = p."patient_id"
JOIN "{table[ReferenceRangeSet]}" rs ON rs."id" = p."ruleset_id"
LEFT JOIN "{table[Report]}" a ON a."id" = r."amends_id"
WHERE r."id" = %s
"""  # noqa: S608 - the models' table names


def _source_from_json(data: Mapping[str, Any]) -> ReportSource:
    report = row_instance(Report, data["report"])
    panel = row_instance(Panel, data["panel"])
    related_cache(report, "panel", panel)
    related_cache(report, "amends", data["amends"] and row_instance(Report, data["amends"]))
    related_cache(panel, "lab", row_instance(Lab, data["lab"]))
    related_cache(panel, "patient", row_instance(Patient, data["patient"]))
    related_cache(panel, "ruleset", row_instance(ReferenceRangeSet, data["ruleset"]))
    users = {}
    for item in data["users"] or []:
        user = row_instance(User, item["user"])
        staff = item["staff"] and row_instance(StaffMember, item["staff"])
        if staff is not None:
            related_cache(staff, "user", user)
        related_cache(user, "staff", staff)
        users[user.pk] = user
    related_cache(panel, "ordering_clinician", users[panel.ordering_clinician_id])
    related_cache(panel, "submitted_by", users[panel.submitted_by_id])
    if report.requested_by_id is not None:
        related_cache(report, "requested_by", users[report.requested_by_id])
    transitions = []
    for row in data["transitions"] or []:
        transition = row_instance(ReviewTransition, row)
        related_cache(transition, "actor", users.get(transition.actor_id))  # type: ignore[arg-type]
        transitions.append(transition)
    prefetched(panel, "review_transitions", transitions)
    results = []
    for item in data["results"] or []:
        result = row_instance(Result, item["result"])
        related_cache(result, "analyte", row_instance(Analyte, item["analyte"]))
        related_cache(
            result, "rule", item["rule"] and row_instance(ReferenceRangeRule, item["rule"])
        )
        results.append(result)
    prefetched(panel, "results", results)
    superseded = [row_instance(Result, row) for row in data["superseded"] or []]
    for result in superseded:
        related_cache(result, "panel", panel)
    panel.superseded = superseded  # type: ignore[attr-defined]  # as panel_details' to_attr
    findings = []
    for item in data["findings"] or []:
        finding = row_instance(Finding, item["finding"])
        related_cache(finding, "text", row_instance(FindingText, item["text"]))
        findings.append(finding)
    prefetched(panel, "findings", findings)
    tocilizumab_at = data["tocilizumab_at"]
    return ReportSource(
        report=report,
        panel=panel,
        tocilizumab_at=row_datetime(tocilizumab_at) if tocilizumab_at else None,
        analyte_names=data["analyte_names"] or {},
        earlier={
            row["accession"]: PanelFacts(
                lab_id=row["lab_id"],
                submitted_by_id=row["submitted_by_id"],
                ordering_clinician_id=row["ordering_clinician_id"],
                review_state=row["review_state"],
            )
            for row in data["earlier"] or []
        },
    )


def report_earlier_facts(source: ReportSource) -> Mapping[str, PanelFacts]:
    """``source.earlier``, read now when the source did not carry it (the ORM's reads: one query,
    none when the panel's snapshot shows no earlier panel)."""
    if source.earlier is not None:
        return source.earlier
    return history_facts([source.panel]).get(source.panel.pk, {})


def report_get(*, pk: int, user: User | AnonymousUser) -> Report | None:
    return (
        Report.objects.select_related("panel", "panel__lab")
        .filter(access.reports_scope(user), pk=pk)
        .first()
    )


# The report states the API shows, each with the stored ones it stands for (a report being drawn
# is still "pending" to its readers: ``Report.public_status``).
PUBLIC_REPORT_STATES: dict[str, tuple[str, ...]] = {
    ReportStatus.PENDING.value: (ReportStatus.PENDING.value, ReportStatus.RENDERING.value),
    ReportStatus.READY.value: (ReportStatus.READY.value,),
    ReportStatus.FAILED.value: (ReportStatus.FAILED.value,),
}


def panel_has_report_in(*, user: User | AnonymousUser, state: str) -> Exists:
    """An expression on a panels query: whether the panel (``pk``) has a report ``user`` may
    see in the API state ``state`` (a key of ``PUBLIC_REPORT_STATES``)."""
    return Exists(
        Report.objects.filter(
            access.reports_scope(user),
            panel_id=OuterRef("pk"),
            status__in=PUBLIC_REPORT_STATES[state],
        )
    )
