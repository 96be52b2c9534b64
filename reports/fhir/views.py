"""The FHIR endpoints: ``metadata``, and read and search of each resource.

Thin: parse the request (``search``), read (``selectors``), build (``resources``), record the
read (one read-audit entry with the ids returned), answer ``application/fhir+json``. Every
refusal is an OperationOutcome (``errors``). Authentication is the REST API's (its token, or
a session); each view declares the token scope it needs (``required_scope``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.urls import reverse
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from labpanel.accounts import access
from labpanel.accounts.models import TokenScope
from labpanel.accounts.scopes import TokenScopeRequired
from labpanel.accounts.token_auth import StaffTokenAuthentication
from labpanel.audit.services import read_record
from panels.history import findings_shown, history_facts, history_shown_to
from panels.models import Finding, Panel, Result
from reference_ranges.models import SpecimenType
from reports.fhir import bundles, codes, resources, selectors, stored
from reports.fhir.capability import KINDS, capability_statement
from reports.fhir.encoding import fhir_dumps
from reports.fhir.errors import FhirError, not_found, outcome_for
from reports.fhir.search import Search, search_parse
from reports.models import Report


class FhirRenderer(BaseRenderer):
    media_type = codes.FHIR_JSON
    format = "json"
    charset = None

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if data is None:
            return b""
        # a Bundle written already (bundles.searchset_written), else a resource or Bundle
        return data if isinstance(data, bytes) else fhir_dumps(data)


_ID_MARK = 987654321987
"""A report id no report has, reversed in its place once per request (``FhirView._pdf_url``)."""


class FhirView(APIView):
    """What every FHIR endpoint shares: the API's authentication, FHIR JSON whatever the
    client accepts, OperationOutcome for every refusal."""

    authentication_classes = [StaffTokenAuthentication, SessionAuthentication]
    # a token needs the scope results:read (labpanel.accounts.scopes), as the REST API's reads
    permission_classes = [IsAuthenticated, TokenScopeRequired]
    renderer_classes = [FhirRenderer]
    required_scope = TokenScope.RESULTS_READ.value
    schema = None  # not part of the REST API's OpenAPI schema

    def perform_content_negotiation(
        self, request: Request, force: bool = False
    ) -> tuple[BaseRenderer, str]:
        renderer = FhirRenderer()
        return renderer, renderer.media_type

    def handle_exception(self, exc: Exception) -> Response:
        answer = outcome_for(exc)
        if answer is None:
            return super().handle_exception(exc)
        http_status, body = answer
        response = Response(body, status=http_status)
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            header = self.get_authenticate_header(self.request)
            if header:
                response["WWW-Authenticate"] = header
            else:
                response.status_code = 403
        response.exception = True
        return response

    def _url(self, path: str) -> str:
        return self.request.build_absolute_uri(path)

    def _full_url(self, kind: str, pk: int) -> str:
        """The resource's absolute URL."""
        return f"{self._head(kind)}/{pk}"

    def _head(self, kind: str) -> str:
        """The absolute URL of ``kind``'s resources (their ``fullUrl`` without the id); the
        route reversed once per kind (a page of 50 reports with their results names some 700
        resources)."""
        heads: dict[str, str] = self.__dict__.setdefault("_heads", {})
        head = heads.get(kind)
        if head is None:
            head = heads[kind] = self._url(reverse("fhir:search", kwargs={"kind": kind}))
        return head

    def _full_url_written(self, kind: str) -> bytes:
        """The base of ``kind``'s resources' fullUrl (:meth:`_full_url` without the id) as JSON
        string content, escaped, without its quotes."""
        return fhir_dumps(self._head(kind))[1:-1]

    def _pdf_url(self, report_pk: int) -> str:
        """The absolute URL of a report's PDF (the REST API's), the route reversed once per
        request: with a placeholder id, each report's put in its place."""
        heads: dict[str, str] = self.__dict__.setdefault("_heads", {})
        template = heads.get("pdf")
        if template is None:
            template = heads["pdf"] = self._url(reverse("api:report-pdf", args=[_ID_MARK]))
        before, _, after = template.rpartition(str(_ID_MARK))
        return f"{before}{report_pk}{after}"


class MetadataView(FhirView):
    """The CapabilityStatement: what the server supports (no patient data, no login)."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        base_url = self._url(reverse("fhir:metadata")).removesuffix("metadata")
        return Response(
            capability_statement(base_url=base_url, date=timezone.now().date().isoformat())
        )


def _pk(kind: str, text: str) -> int:
    if not text.isdigit() or len(text) > 18:
        raise not_found(kind, text)
    return int(text)


def _kind(name: str) -> str:
    if name not in KINDS:
        raise FhirError(
            f"{name} is not a resource this server has", code="not-supported", http_status=404
        )
    return name


class ReadView(FhirView):
    """``GET /fhir/{type}/{id}``: one resource, 404 when absent or not the caller's to see."""

    def get(self, request: Request, kind: str, pk: str) -> Response:
        name = _kind(kind)
        key = _pk(name, pk)
        user = request.user
        resource: dict[str, Any]
        if name == "Patient":
            patient = selectors.patient_get(pk=key, user=user)
            if patient is None:
                raise not_found(name, pk)
            resource = resources.patient_resource(patient)
            read_record(request=request, patient_ids=[patient.pk])
        elif name in ("Specimen", "ServiceRequest"):
            panel = selectors.panel_get(pk=key, user=user)
            if panel is None:
                raise not_found(name, pk)
            resource = _panel_resource(name, panel)
            read_record(request=request, patient_ids=[panel.patient_id], panel_ids=[panel.pk])
        elif name == "Observation":
            result = selectors.observation_get(pk=key, user=user)
            if result is None:
                raise not_found(name, pk)
            resource = _observation(result, result.panel)
            read_record(
                request=request, patient_ids=[result.panel.patient_id], panel_ids=[result.panel_id]
            )
        else:
            report = selectors.report_get(pk=key, user=user)
            if report is None:
                raise not_found(name, pk)
            resource = _report_resource(self, report, _shown_findings(user, [report]))
            read_record(
                request=request,
                patient_ids=[report.panel.patient_id],
                panel_ids=[report.panel_id],
                report_ids=[report.pk],
            )
        return Response(resource)


class SearchView(FhirView):
    """``GET /fhir/{type}?...``: a searchset Bundle of what the caller may see."""

    def get(self, request: Request, kind: str) -> Response:
        name = _kind(kind)
        spec = KINDS[name]
        search = search_parse(
            request.query_params, kind=name, allowed=spec.allowed, statuses=spec.statuses
        )
        user = request.user
        matches: list[tuple[str, dict[str, Any]]] = []
        included: list[tuple[str, dict[str, Any]]] = []
        patient_ids: list[int] = []
        panel_ids: list[int] = []
        report_ids: list[int] = []
        written: list[bytes] | None = None
        if name == "Patient":
            patients = selectors.patients_search(user=user, search=search)
            total, more = patients.total, patients.more
            for patient in patients.rows:
                matches.append(
                    (self._full_url(name, patient.pk), resources.patient_resource(patient))
                )
                patient_ids.append(patient.pk)
        elif name in ("Specimen", "ServiceRequest"):
            panels = selectors.panels_search(
                user=user, search=search, order_codes=name == "ServiceRequest"
            )
            total, more = panels.total, panels.more
            for panel in panels.rows:
                matches.append((self._full_url(name, panel.pk), _panel_resource(name, panel)))
                patient_ids.append(panel.patient_id)
                panel_ids.append(panel.pk)
        elif name == "Observation":
            results = selectors.observations_search(user=user, search=search)
            total, more = results.total, results.more
            for result in results.rows:
                matches.append(
                    (self._full_url(name, result.pk), _observation(result, result.panel))
                )
                patient_ids.append(result.panel.patient_id)
                panel_ids.append(result.panel_id)
        elif stored.read_model_available():
            total, more, written = self._reports_stored(
                search, (patient_ids, panel_ids, report_ids)
            )
        else:
            reports = selectors.reports_search(user=user, search=search)
            total, more = reports.total, reports.more
            findings = _shown_findings(user, reports.rows)
            seen: set[int] = set()
            for report in reports.rows:
                resource = _report_resource(self, report, findings)
                matches.append((self._full_url(name, report.pk), resource))
                patient_ids.append(report.panel.patient_id)
                panel_ids.append(report.panel_id)
                report_ids.append(report.pk)
                if search.include_results:
                    included.extend(self._included(report, seen))
        envelope = bundles.Envelope(
            url=self._url(request.path),
            params=_pairs(request.query_params),
            total=total,
            offset=search.offset,
            count=search.count,
            more=more,
        )
        bundle = (
            bundles.searchset(envelope, matches, included)
            if written is None
            else bundles.searchset_written(envelope, written)
        )
        read_record(
            request=request, patient_ids=patient_ids, panel_ids=panel_ids, report_ids=report_ids
        )
        return Response(bundle)

    def _reports_stored(
        self, search: Search, read: tuple[list[int], list[int], list[int]]
    ) -> tuple[int | None, bool, list[bytes]]:
        """A DiagnosticReport search answered from the stored resources (``stored``). A report
        whose stored resources are missing or stale is read from the records, and its resources
        are built, stored and answered; one whose findings this reader is shown otherwise is
        read and built for this reader each time. Appends to the ids ``read`` (patients,
        panels, reports); returns the total (``None`` when not counted), whether more follow and
        the Bundle's entries, written
        (``bundles.searchset_written``)."""
        user = self.request.user
        patient_ids, panel_ids, report_ids = read
        observation_base = self._full_url_written("Observation")
        page = stored.reports_page(user=user, search=search, observation_base=observation_base)

        def servable(row: stored.ReportRow) -> bool:
            if row.stored is None:
                return False
            return not row.history_dependent or access.history_whole(user, lab_id=row.lab_id)

        rows = page.rows
        rebuilt = [row.pk for row in rows if not servable(row)]
        built = (
            {report.pk: report for report in selectors.reports_read(pks=rebuilt, user=user)}
            if rebuilt
            else {}
        )
        if built:
            stamps = {row.pk: row for row in rows}
            # stored again: those missing or stale (not those this reader is shown otherwise),
            # and answered from what was stored where this reader is shown it
            now_stored = stored.resources_store(
                built=[report for report in built.values() if stamps[report.pk].stored is None],
                stamps=stamps,
                report_results=_report_results,
                observation_base=observation_base,
            )
            rows = [now_stored.get(row.pk, row) for row in rows]
            built = {row.pk: built[row.pk] for row in rows if row.pk in built and not servable(row)}
        findings = _shown_findings(user, list(built.values())) if built else {}
        head = self._full_url_written("DiagnosticReport")
        entries: list[bytes] = []
        for row in rows:
            report = built.get(row.pk)
            if report is not None:
                resource = _report_resource(self, report, findings)
                entries.append(
                    fhir_dumps(
                        bundles.entry(self._full_url("DiagnosticReport", row.pk), resource, "match")
                    )
                )
            else:
                text = stored.report_text(row, self._pdf_url(row.pk) if row.ready else None)
                entries.append(bundles.entry_written(b"%b/%d" % (head, row.pk), text, b"match"))
            patient_ids.append(row.patient_id)
            panel_ids.append(row.panel_id)
            report_ids.append(row.pk)
        if search.include_results:
            seen: set[int] = set()
            for row in rows:
                report = built.get(row.pk)
                if report is not None:
                    entries.extend(
                        fhir_dumps(bundles.entry(full_url, resource, "include"))
                        for full_url, resource in self._included(report, seen)
                    )
                    continue
                linked = set(row.result_ids)
                if len(linked) == len(row.result_ids) and seen.isdisjoint(linked):
                    seen |= linked
                    if row.entries:
                        entries.append(row.entries)  # all of them, as stored
                    continue
                for pk, entry in row.included():
                    if pk not in seen:
                        seen.add(pk)
                        entries.append(entry)
        return page.total, page.more, entries

    def _included(self, report: Report, seen: set[int]) -> Iterable[tuple[str, dict[str, Any]]]:
        released_at = selectors.released_at_of(report)
        for result in _report_results(report):
            if result.pk not in seen:
                seen.add(result.pk)
                yield (
                    self._full_url("Observation", result.pk),
                    resources.observation_resource(
                        result, panel=report.panel, released_at=released_at
                    ),
                )


def _pairs(params: Any) -> list[tuple[str, str]]:
    return [(name, value) for name, values in params.lists() for value in values]


# --- Building from what was read ----------------------------------------------------------------


def _panel_resource(name: str, panel: Panel) -> dict[str, Any]:
    if name == "Specimen":
        return resources.specimen_resource(
            panel, type_display=str(SpecimenType(panel.specimen_type).label)
        )
    return resources.service_request_resource(
        panel, requester_display=panel.ordering_clinician.get_username()
    )


def _observation(result: Result, panel: Panel) -> dict[str, Any]:
    return resources.observation_resource(
        result, panel=panel, released_at=selectors.released_at_of(result)
    )


def _report_results(report: Report) -> list[resources.AnyResult]:
    """The results ``report`` was issued with, among its panel's (read with the report:
    ``selectors._with_results``)."""
    results: list[resources.AnyResult] = getattr(report.panel, "all_results", [])
    return resources.results_of_report(
        report, results, newest=not getattr(report, "superseded", False)
    )


def _shown_findings(user: Any, reports: list[Report]) -> dict[int, list[Finding]]:
    """Each report's findings as ``user`` is shown them: a finding measured against an earlier
    panel the caller may not open reads as indeterminate, without its values
    (``panels.history.findings_shown``, as the REST API shows them; one query for the page,
    none for the lab's staff)."""
    panels = [report.panel for report in reports]
    facts = history_facts(
        [panel for panel in panels if not access.history_whole(user, lab_id=panel.lab_id)]
    )
    answer: dict[int, list[Finding]] = {}
    for report in reports:
        panel = report.panel
        chosen = resources.findings_of_report(
            report,
            getattr(panel, "all_findings", []),
            newest=not getattr(report, "superseded", False),
        )
        shown = history_shown_to(user, panel, facts.get(panel.pk))
        answer[report.pk] = findings_shown(
            chosen, selectors.serial_baseline_of(report), panel.accession, shown
        )
    return answer


def _report_resource(
    view: FhirView, report: Report, findings: Mapping[int, list[Finding]]
) -> dict[str, Any]:
    return resources.diagnostic_report_resource(
        report,
        panel=report.panel,
        result_ids=[result.pk for result in _report_results(report)],
        findings=findings[report.pk],
        pdf_url=view._pdf_url(report.pk),
    )


class UnknownView(FhirView):
    """Any other path under ``/fhir/``: 404, as an OperationOutcome."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        raise FhirError(
            f"{request.path} is not a FHIR endpoint of this server",
            code="not-found",
            http_status=404,
        )
