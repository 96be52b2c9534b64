"""The FHIR server's reads: each a few queries, the same number however many resources answer.

Who sees what is the REST API's decision (``labpanel.accounts.access``): a panel's Specimen,
ServiceRequest and Observations are seen by those who see the panel (``panels_scope``), a
report by those who see it (``reports_scope``), a patient by those who see one of the
patient's panels. Outside these the resource is not found, exactly like one that does not
exist. A search reads its total (one COUNT) and its page (one SELECT, with what the page's
resources show joined or prefetched: one more query per prefetched relation).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import (
    Exists,
    F,
    Model,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.fields.json import KeyTextTransform

from labpanel.accounts import access
from panels.models import Finding, Panel, Patient, Result, ReviewState
from reports.fhir import codes
from reports.fhir.rows import OBSERVATION_FIELDS, results_by_panel
from reports.fhir.search import DateBound, Search
from reports.models import Report, ReportStage

M = TypeVar("M", bound=Model)
AnyUser = User | AnonymousUser


@dataclass(frozen=True)
class Page(Generic[M]):
    """A search's page: its ``rows``, whether more follow (``more``) and how many match in all
    (``total``; ``None`` when the search wants no total: ``_total=none``)."""

    total: int | None
    rows: list[M]
    more: bool


def _page(queryset: QuerySet[M], search: Search, counted: QuerySet[Any] | None = None) -> Page[M]:
    """The page of ``queryset`` (ordered) ``search`` asks for, with the number of matches
    (those of ``counted``, when given: the same rows, read without what the page shows) where
    it wants them; without, the page and the row after it are read (is there a next page?)."""
    start, end = search.offset, search.offset + search.count
    if not search.counted:
        rows = list(queryset[start : end + 1])
        return Page(total=None, rows=rows[: search.count], more=len(rows) > search.count)
    total = (queryset if counted is None else counted).count()
    rows = list(queryset[start:end]) if total else []
    return Page(total=total, rows=rows, more=end < total)


def _date_filter(path: str, bounds: list[DateBound]) -> Q:
    condition = Q()
    for bound in bounds:
        if bound.prefix == "eq":
            condition &= Q(**{f"{path}__gte": bound.start, f"{path}__lt": bound.end})
        elif bound.prefix == "ge":
            condition &= Q(**{f"{path}__gte": bound.start})
        elif bound.prefix == "gt":
            condition &= Q(**{f"{path}__gte": bound.end})
        elif bound.prefix == "le":
            condition &= Q(**{f"{path}__lt": bound.end})
        elif bound.prefix == "lt":
            condition &= Q(**{f"{path}__lt": bound.start})
    return condition


def _lab_identifier(
    identifiers: list[tuple[str | None, str]], system_of: Any, field: str, lab: str
) -> Q:
    """Identifiers of a lab's own system (``system_of(lab_id)``): a system names the lab; an
    identifier without a system is looked for in the caller's scope."""
    condition = Q(pk__in=[])
    for system, value in identifiers:
        if system is None or system == "":
            condition |= Q(**{field: value})
            continue
        prefix = system.rpartition(":")[0]
        lab_part = prefix.removeprefix("urn:labpanel:lab:")
        if lab_part.isdigit() and system == system_of(int(lab_part)):
            condition |= Q(**{field: value, lab: int(lab_part)})
    return condition


def _patients(path: str, search: Search) -> Q:
    return Q() if search.patients is None else Q(**{f"{path}__in": search.patients})


def _ids(search: Search) -> Q:
    return Q() if search.ids is None else Q(pk__in=search.ids)


def _panel_code_matches(search: Search) -> bool:
    return search.codes is None or any(
        code == codes.PANEL_CODE and system in (None, codes.LOCAL_PANEL)
        for system, code in search.codes
    )


# --- Patient ------------------------------------------------------------------------------------


def _patients_visible(user: AnyUser) -> QuerySet[Patient]:
    """The patients of the panels ``user`` sees (one subquery)."""
    visible = Panel.objects.filter(access.panels_scope(user)).values("patient_id")
    return Patient.objects.filter(pk__in=visible)


def patient_get(*, pk: int, user: AnyUser) -> Patient | None:
    return _patients_visible(user).filter(pk=pk).first()


def patients_search(*, user: AnyUser, search: Search) -> Page[Patient]:
    condition = _ids(search)
    if search.identifiers is not None:
        condition &= _lab_identifier(search.identifiers, codes.mrn_system, "mrn", "lab_id")
    return _page(_patients_visible(user).filter(condition).order_by("pk"), search)


# --- Panels: Specimen and ServiceRequest --------------------------------------------------------


def _panels_visible(user: AnyUser) -> QuerySet[Panel]:
    return Panel.objects.filter(access.panels_scope(user)).select_related("ordering_clinician")


def panel_get(*, pk: int, user: AnyUser) -> Panel | None:
    return _panels_visible(user).filter(pk=pk).first()


def panels_search(*, user: AnyUser, search: Search, order_codes: bool = False) -> Page[Panel]:
    """Panels for a Specimen or ServiceRequest search (``order_codes``: the ServiceRequest's
    ``code`` and ``status``)."""
    condition = _ids(search) & _patients("patient_id", search)
    if search.identifiers is not None:
        condition &= _lab_identifier(
            search.identifiers, codes.accession_system, "accession", "lab_id"
        )
    if order_codes and not _panel_code_matches(search):
        condition &= Q(pk__in=[])
    if order_codes and search.statuses is not None:
        wanted = Q(pk__in=[])
        if "completed" in search.statuses:
            wanted |= Q(review_state=ReviewState.RELEASED)
        if "active" in search.statuses:
            wanted |= ~Q(review_state=ReviewState.RELEASED)
        condition &= wanted
    return _page(_panels_visible(user).filter(condition).order_by("pk"), search)


# --- Observation --------------------------------------------------------------------------------


def _released_at(panel_path: str) -> Subquery:
    """When the panel's FINAL report (its release) was created."""
    return Subquery(
        Report.objects.filter(panel_id=OuterRef(panel_path), stage=ReportStage.FINAL).values(
            "created_at"
        )[:1]
    )


# A panel's columns the resources do not read (its summary and clinical inputs, as sent).
PANEL_UNREAD = ("summary", "clinical")


# What an Observation shows of its panel, and of the panel's lab (its performer). Named in the
# same ``only()`` as the result's columns (``rows.OBSERVATION_FIELDS``: the analyte's aliases
# and units, the rule's citation and the JSON columns are not read): a ``defer()`` after
# ``only()`` read every column of the panel again, its JSON snapshots included (three
# ``json.loads`` a result).
PANEL_FIELDS = (
    "panel__lab_id",
    "panel__patient_id",
    "panel__accession",
    "panel__collected_at",
    "panel__created_at",
    "panel__review_state",
    "panel__lab__name",
)


def _results(queryset: QuerySet[Result]) -> QuerySet[Result]:
    return (
        queryset.select_related("panel", "panel__lab", "analyte", "rule", "supersedes")
        .only(*OBSERVATION_FIELDS, *PANEL_FIELDS)
        .annotate(released_at=_released_at("panel_id"))
    )


def observation_get(*, pk: int, user: AnyUser) -> Result | None:
    """Any result of a panel ``user`` sees, current or replaced (an earlier report links it)."""
    return (
        _results(Result.objects.filter(access.panels_scope(user, prefix="panel__")))
        .filter(pk=pk)
        .first()
    )


def _observation_codes(search: Search) -> Q:
    condition = Q(pk__in=[])
    for system, code in search.codes or []:
        if system in (None, codes.LOINC):
            condition |= Q(analyte__loinc=code, analyte__loinc_verified=True)
        if system in (None, codes.LOCAL_ANALYTE):
            condition |= Q(analyte__code=code)
    return condition


def _observation_statuses(statuses: list[str]) -> Q:
    """``status`` over current results, as ``resources.observation_status`` decides it."""
    released = Q(panel__review_state=ReviewState.RELEASED, released_at__isnull=False)
    replaced_after = Q(supersedes__superseded_at__gte=F("released_at"))
    rerun = Q(supersedes__comparator__startswith=">", dilution_factor__isnull=False)
    wanted = Q(pk__in=[])
    for status in statuses:
        if status == "preliminary":
            wanted |= ~released
        elif status == "final":
            wanted |= released & ~Q(replaced_after)
        elif status == "amended":
            wanted |= released & replaced_after & rerun
        elif status == "corrected":
            wanted |= released & replaced_after & ~rerun
    return wanted


def _result_identifiers(identifiers: list[tuple[str | None, str]]) -> Q:
    """``{accession}/{analyte code}`` in a lab's result system (``codes.result_system``), or
    without a system in the caller's scope; a value without the slash names no result."""
    condition = Q(pk__in=[])
    for system, value in identifiers:
        accession, slash, code = value.rpartition("/")
        if not (slash and accession and code):
            continue
        one = Q(panel__accession=accession, analyte__code=code)
        if system is None or system == "":
            condition |= one
            continue
        lab_part = system.rpartition(":")[0].removeprefix("urn:labpanel:lab:")
        if lab_part.isdigit() and system == codes.result_system(int(lab_part)):
            condition |= one & Q(panel__lab_id=int(lab_part))
    return condition


def observations_search(*, user: AnyUser, search: Search) -> Page[Result]:
    """The current results (those not replaced) matching ``search``."""
    queryset = _results(
        Result.objects.current().filter(access.panels_scope(user, prefix="panel__"))
    )
    condition = _ids(search) & _patients("panel__patient_id", search)
    condition &= _date_filter("panel__collected_at", search.dates)
    if search.identifiers is not None:
        condition &= _result_identifiers(search.identifiers)
    if search.codes is not None:
        condition &= _observation_codes(search)
    if search.statuses is not None:
        condition &= _observation_statuses(search.statuses)
    return _page(queryset.filter(condition).order_by("panel_id", "position", "pk"), search)


# --- DiagnosticReport ---------------------------------------------------------------------------


def _reports(queryset: QuerySet[Report], *, user: AnyUser) -> QuerySet[Report]:
    """Reports with their panel and its findings, and whether each is its panel's newest (the
    panel's results are read by ``_with_results``). The panel's serial snapshot is read only for
    a reader who is not shown every panel's whole history (``views._shown_findings`` then
    decides from it what each history shows); for the others only its baseline
    (``serial_baseline_of``): decoding the snapshots of 50 panels from JSON was a tenth of a
    search."""
    unread = PANEL_UNREAD if not access.history_whole_in_scope(user) else (*PANEL_UNREAD, "serial")
    return (
        queryset.select_related("panel", "panel__lab")
        .defer("corrections", *(f"panel__{name}" for name in unread))
        .annotate(
            released_at=_released_at("panel_id"),
            # the one key of the panel's serial snapshot a report's findings need
            # (``serial_baseline_of``): the snapshot itself is decoded from JSON for nothing
            serial_baseline=KeyTextTransform("baseline", "panel__serial"),
            superseded=Exists(
                Report.objects.filter(panel_id=OuterRef("panel_id"), pk__gt=OuterRef("pk"))
            ),
        )
        .prefetch_related(
            Prefetch(
                "panel__findings",
                queryset=Finding.objects.select_related("text")
                .defer("evidence", "missing_inputs")
                .order_by("position", "pk"),
                to_attr="all_findings",
            ),
        )
    )


def _with_results(reports: list[Report]) -> list[Report]:
    """``reports``, each panel's results (current and replaced: a report links those it was
    issued with) set on it as ``all_results``, read as plain rows (``rows.results_by_panel``):
    one query."""
    if reports:
        results = results_by_panel({report.panel_id for report in reports})
        for report in reports:
            report.panel.all_results = results.get(report.panel_id, [])  # type: ignore[attr-defined]
    return reports


def report_get(*, pk: int, user: AnyUser) -> Report | None:
    rows = _with_results(
        list(_reports(Report.objects.filter(access.reports_scope(user), pk=pk), user=user))
    )
    return rows[0] if rows else None


def _report_identifiers(identifiers: list[tuple[str | None, str]]) -> Q:
    condition = Q(pk__in=[])
    for system, value in identifiers:
        if system in (None, "", codes.report_system()) and value.startswith("urn:uuid:"):
            try:
                condition |= Q(uuid=uuid.UUID(value.removeprefix("urn:uuid:")))
            except ValueError:
                continue
    return condition


def reports_matching(*, user: AnyUser, search: Search) -> QuerySet[Report]:
    """The reports ``user`` sees that match ``search`` (unordered, nothing read with them)."""
    condition = _ids(search) & _patients("panel__patient_id", search)
    condition &= _date_filter("panel__collected_at", search.dates)
    if not _panel_code_matches(search):
        condition &= Q(pk__in=[])
    if search.identifiers is not None:
        condition &= _report_identifiers(search.identifiers)
    if search.statuses is not None:
        # the report's FHIR status is its stage (``resources.report_status``)
        condition &= Q(stage__in=search.statuses)
    return Report.objects.filter(access.reports_scope(user)).filter(condition)


def reports_search(*, user: AnyUser, search: Search) -> Page[Report]:
    queryset = reports_matching(user=user, search=search)
    page = _page(_reports(queryset.order_by("pk"), user=user), search, counted=queryset)
    return Page(total=page.total, rows=_with_results(page.rows), more=page.more)


def reports_read(*, pks: list[int], user: AnyUser) -> list[Report]:
    """Reports ``pks`` (already found among those ``user`` sees: ``reports_matching``), read
    as ``reports_search`` reads its page, in the order of ``pks``."""
    found = {
        report.pk: report
        for report in _with_results(
            list(_reports(Report.objects.filter(access.reports_scope(user), pk__in=pks), user=user))
        )
    }
    return [found[pk] for pk in pks if pk in found]


def serial_baseline_of(report: Report) -> dict[str, str]:
    """The part of a report's panel's serial snapshot that ``panels.history.findings_shown``
    reads (its baseline accession), as ``_reports`` annotated it: the snapshot need not be
    read for it."""
    baseline: str | None = getattr(report, "serial_baseline", None)
    return {} if baseline is None else {"baseline": baseline}


def released_at_of(row: Any) -> datetime | None:
    """The release time a read annotated on ``row`` (``None``: not released)."""
    value: datetime | None = getattr(row, "released_at", None)
    return value
