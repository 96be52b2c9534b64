"""Every URL pattern is classified as returning patient data or not, and each one that does
writes ONE read-audit entry with the ids it returned (issue 13, HIPAA §164.312(b)).

The walk reads every pattern from the resolver (API, pages, every admin page of every registered
model). A pattern in neither ``PATIENT_DATA`` nor ``NO_PATIENT_DATA`` fails
``test_every_url_pattern_is_classified``: a new URL must be classified here (and, when it shows
patient data, call ``labpanel.audit.services.read_record`` with the ids it returns). Admin pages
are classified by model: ``ADMIN_PATIENT_MODELS`` (changelist, change, history and delete pages
show patient data; the add form shows none) and ``ADMIN_OTHER_MODELS``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from labpanel.accounts.models import StaffMember
from labpanel.audit.models import Channel, ReadEntry
from panels.intake.imports.validate import import_job_validate
from panels.models import ImportJob, InboundMessage, Panel, Patient, Result
from panels.models_critical import CriticalAlert
from panels.review import panel_verify
from panels.ruleset_impact import ruleset_impact_preview
from reference_ranges.models import ReferenceRangeSet
from reference_ranges.selectors import ruleset_document_get
from reports.models import FailureKind, Report
from reports.services import report_mark_failed, report_render
from tests.conftest import token_client
from tests.imports.test_import_jobs import LONG_CSV

# --- The classification -------------------------------------------------------------------------

# URL name -> why it returns no patient data.
NO_PATIENT_DATA: dict[str, str] = {
    "api:api-root": "the API's index of resources",
    "api:schema": "the OpenAPI schema",
    "api:docs": "the schema's browser",
    "api:redoc": "the schema's reader (ReDoc)",
    "api:knox-logout": "ends the caller's token",
    "api:knox-logoutall": "ends the caller's tokens",
    "api:hl7": "the ACK of the sender's own message (MSA/ERR: segment, field, why)",
    "api:import-list": "jobs: file names, states and counts",
    "api:import-detail": "a job: its state, counts and progress",
    "api:import-commit": "the job's state",
    "api:import-abandon": "the job's state",
    "api:ruleset-list": "reference-range sets",
    "api:ruleset-import": "a reference-range set",
    "api:ruleset-detail": "a reference-range set",
    "api:ruleset-export": "a reference-range set",
    "api:ruleset-publish": "a reference-range set",
    "api:audit-read-list": "the read audit: ids, never names or results",
    "api:webhook-subscription-list": "webhook endpoints and event kinds",
    "api:webhook-subscription-detail": "a webhook endpoint and its event kinds",
    "api:webhook-delivery-list": "deliveries: event ids and kinds, attempts' statuses",
    "api:webhook-delivery-detail": "a delivery: event id and kind, attempts' statuses",
    "api:webhook-delivery-replay": "the delivery's state",
    "imports:list": "the upload form and the jobs: file names, states and counts",
    "imports:commit": "redirects to the job's page (which is recorded)",
    "imports:abandon": "redirects to the job's page (which is recorded)",
    "reports:acknowledge": "redirects to the report's page (which is recorded)",
    "critical:acknowledge": "redirects to the alert's page (which is recorded)",
    "reference_ranges:list": "reference-range sets",
    "reference_ranges:draft": "creates a draft set; redirects",
    "reference_ranges:detail": "a reference-range set",
    "reference_ranges:rule-edit": "a rule's bounds",
    "reference_ranges:publish": "publishes a set; redirects",
    "fhir:metadata": "the FHIR CapabilityStatement",
    "fhir:unknown": "a 404 OperationOutcome for a path that is no FHIR endpoint",
    "login": "the login form",
    "logout": "ends the session",
    "home": "redirects to the user's home",
    "healthz": "the health check",
    "admin:index": "the list of models",
    "admin:login": "the login form",
    "admin:logout": "ends the session",
    "admin:password_change": "the password form",
    "admin:password_change_done": "a confirmation",
    "admin:jsi18n": "translations",
    "admin:app_list": "the list of an app's models",
    "admin:view_on_site": "redirects to a model's page (recorded there)",
    "admin:autocomplete": "no admin has autocomplete fields over a patient-bearing model "
    "(raw id fields instead: their pop-up is the changelist, recorded)",
    "admin:auth_user_password_change": "a user's password form",
    # patterns without a name, by route
    "admin/(?P<url>.*)$": "the admin's catch-all: 404 or a redirect",
}
ADMIN_PATIENT_MODELS = frozenset(
    {
        "panels.patient",
        "panels.panel",
        "panels.result",
        "panels.importjob",
        "panels.inboundmessage",
        "reports.report",
    }
)
ADMIN_OTHER_MODELS = frozenset(
    {
        "auth.group",
        "auth.user",
        "knox.authtoken",
        "accounts.lab",
        "accounts.staffmember",
        "panels.beadregion",
        "reference_ranges.analyte",
        "reference_ranges.referencerangeset",
        "reference_ranges.referencerangerule",
        "reference_ranges.patternrulesetting",
        "reference_ranges.assaymeasuringrange",
        "reference_ranges.labspecimensetting",
        "audit.readentry",
        "webhooks.subscription",  # endpoints and event kinds (never the secret)
        "webhooks.delivery",  # event ids and kinds, attempts' statuses
    }
)
ADMIN_ROW_PAGES = ("changelist", "change", "history", "delete")


def _admin_names() -> dict[str, str]:
    """Every admin model page's URL name -> ``patient`` or ``other``."""
    names: dict[str, str] = {}
    for model in admin.site._registry:
        label = f"{model._meta.app_label}.{model._meta.model_name}"
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        kind = "patient" if label in ADMIN_PATIENT_MODELS else "other"
        if label not in ADMIN_PATIENT_MODELS | ADMIN_OTHER_MODELS:
            kind = "unclassified"
        for page in (*ADMIN_ROW_PAGES, "add"):
            names[f"{prefix}_{page}"] = "other" if page == "add" and kind == "patient" else kind
    return names


def url_patterns() -> Iterator[tuple[str, str]]:
    """(key, route) of every pattern: the key is its URL name (namespaced), or its route when
    it has none; the admin's unnamed per-object redirects are keyed as such."""

    def walk(resolver: URLResolver, prefix: str, namespace: str) -> Iterator[tuple[str, str]]:
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                inner = namespace
                if entry.namespace:
                    inner = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
                yield from walk(entry, prefix + str(entry.pattern), inner)
            elif isinstance(entry, URLPattern):
                route = prefix + str(entry.pattern)
                if entry.name:
                    yield (f"{namespace}:{entry.name}" if namespace else entry.name), route
                elif route.startswith("admin/") and route.endswith("<path:object_id>/"):
                    yield "admin:object-redirect", route
                else:
                    yield route, route

    yield from walk(get_resolver(), "", "")


NO_PATIENT_DATA["admin:object-redirect"] = "redirects to the object's change page (recorded)"
# django-axes' login attempts: user names and addresses of login attempts, no patient data.
for _model in ("accessattempt", "accessfailurelog", "accesslog"):
    for _page in ("add", "change", "changelist", "delete", "history"):
        NO_PATIENT_DATA[f"admin:axes_{_model}_{_page}"] = "login attempts (django-axes)"


# --- The world the probes read ------------------------------------------------------------------


@dataclass
class World:
    clients: dict[str, Any]
    panels: dict[str, Panel]
    report: Report
    failed_report: Report
    alert: CriticalAlert
    job: ImportJob
    draft: ReferenceRangeSet
    message: InboundMessage
    extra: dict[str, Any] = field(default_factory=dict)


def _submit(client: APIClient, payload: dict[str, Any], accession: str, il6: str = "12.4") -> Panel:
    body = copy.deepcopy(payload)
    body["accession"] = accession
    body["results"][0]["value"] = il6
    response = client.post("/api/v1/panels/", body, format="json")
    assert response.status_code == 201, response.json()
    return Panel.objects.get(pk=response.json()["id"])


def _browser(staff: StaffMember) -> Client:
    client = Client()
    client.force_login(staff.user)
    return client


@pytest.fixture
def world(
    critical_limits: ReferenceRangeSet,
    technician_client: APIClient,
    technician: StaffMember,
    reachable_clinician: StaffMember,
    director: StaffMember,
    panel_payload: dict[str, Any],
) -> World:
    director_api = token_client(director)
    panels = {
        name: _submit(technician_client, panel_payload, f"A-{index}")
        for index, name in enumerate(
            ("read", "verify", "release", "amend", "row_verify", "row_release", "bulk", "released")
        )
    }
    for name in ("release", "row_release", "released"):
        assert director_api.post(f"/api/v1/panels/{panels[name].pk}/verify/").status_code == 200
    released = director_api.post(f"/api/v1/panels/{panels['released'].pk}/release/")
    report = Report.objects.get(pk=released.json()["report"]["id"])
    report_render(report_id=report.pk)
    report.refresh_from_db()
    report_render(report_id=panels["amend"].reports.get().pk)
    failed = panels["read"].reports.get()
    report_mark_failed(report_id=failed.pk, reason="test", kind=FailureKind.PERMANENT)
    critical = _submit(technician_client, panel_payload, "C-1", il6="6000")
    panel_verify(panel_id=critical.pk, user=director.user)
    alert = CriticalAlert.objects.get(panel=critical)
    upload = technician_client.post(
        "/api/v1/imports/",
        {"file": SimpleUploadedFile("run.csv", LONG_CSV.encode(), "text/csv")},
        format="multipart",
    )
    assert upload.status_code == 202, upload.json()
    job = ImportJob.objects.get()
    import_job_validate(job_id=job.pk)
    job.refresh_from_db()
    seeded = ReferenceRangeSet.objects.get(key="labpanel-default", version="2026.1")
    document = ruleset_document_get(ruleset=seeded)
    for item in document["rules"]:
        if item["key"] == "ARUP-3002601-IL6":
            item["high"], item["published_text"] = "20", "20 pg/mL or less"
    imported = director_api.post("/api/v1/rulesets/import/?version=2026.2", document, format="json")
    assert imported.status_code == 201, imported.json()
    draft = ReferenceRangeSet.objects.get(pk=imported.json()["ruleset"]["id"])
    message = InboundMessage.objects.create(
        lab=technician.lab,
        received_by=technician.user,
        transport="http",
        raw=b"MSH|^~\\&|",
        sha256="0" * 64,
        ack_code="AR",
        ack="MSH|^~\\&|",
    )
    superuser = director.user
    superuser.is_staff = superuser.is_superuser = True
    superuser.save()
    return World(
        clients={
            "technician": technician_client,
            "technician_browser": _browser(technician),
            "director": director_api,
            "director_browser": _browser(director),
            "clinician": token_client(reachable_clinician),
            "clinician_browser": _browser(reachable_clinician),
            "admin": _browser(director),
        },
        panels={**panels, "critical": critical},
        report=report,
        failed_report=failed,
        alert=alert,
        job=job,
        draft=draft,
        message=message,
        extra={"payload": panel_payload},
    )


# --- The probes: one request per patient-data URL, and the ids it must record -------------------


@dataclass
class Probe:
    client: str
    method: str
    url: str
    # the ids the entry must hold, from the world and the response
    expected: Callable[[Any], dict[str, Any]]
    data: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    json: bool = False
    # the answer's status: 2xx unless named (a redirect after an action, a form's errors)
    status: int | None = None


def _panel_ids(panels: list[Panel]) -> dict[str, Any]:
    return {
        "patient_ids": {panel.patient_id for panel in panels},
        "panel_ids": {panel.pk for panel in panels},
    }


def _with_reports(panel: Panel) -> dict[str, Any]:
    return {**_panel_ids([panel]), "report_ids": set(panel.reports.values_list("pk", flat=True))}


def _report_ids(report: Report) -> dict[str, Any]:
    return {
        "patient_ids": {report.panel.patient_id},
        "panel_ids": {report.panel_id},
        "report_ids": {report.pk},
    }


def _listed(response: Any) -> dict[str, Any]:
    panels = [Panel.objects.get(pk=item["id"]) for item in response.json()["results"]]
    return {
        **_panel_ids(panels),
        "report_ids": {r["id"] for i in response.json()["results"] for r in i["reports"]},
    }


def _inbox_ids(world: World) -> dict[str, Any]:
    """The clinician's inbox: the newest report of each released panel, and the alert."""
    released = list(Panel.objects.filter(review_state="released"))
    newest = {panel.reports.order_by("-pk").values_list("pk", flat=True)[0] for panel in released}
    return {
        **_panel_ids([*released, world.alert.panel]),
        "report_ids": newest,
    }


def _impact_ids(draft: ReferenceRangeSet) -> dict[str, Any]:
    examples = ruleset_impact_preview(candidate=draft, limit_examples=50).examples
    assert examples, "the draft changes stored interpretations"
    return _panel_ids(list(Panel.objects.filter(pk__in=[e.panel_id for e in examples])))


def probes(world: World) -> dict[str, Probe]:
    panels = world.panels
    job = world.job
    htmx = {"HTTP_HX_REQUEST": "true"}
    new_panel = copy.deepcopy(world.extra["payload"])
    new_panel["accession"] = "NEW-1"

    def created(response: Any) -> dict[str, Any]:
        return _with_reports(Panel.objects.get(pk=response.json()["id"]))

    return {
        "api:panel-list": Probe("technician", "get", "/api/v1/panels/?limit=5", _listed),
        "api:panel-detail": Probe(
            "technician",
            "get",
            f"/api/v1/panels/{panels['read'].pk}/",
            lambda _: _with_reports(panels["read"]),
        ),
        "api:panel-verify": Probe(
            "director",
            "post",
            f"/api/v1/panels/{panels['verify'].pk}/verify/",
            lambda _: _with_reports(panels["verify"]),
            data={},
            json=True,
        ),
        "api:panel-release": Probe(
            "director",
            "post",
            f"/api/v1/panels/{panels['release'].pk}/release/",
            lambda _: _with_reports(panels["release"]),
            data={},
            json=True,
        ),
        "api:panel-amendments": Probe(
            "technician",
            "post",
            f"/api/v1/panels/{panels['amend'].pk}/amendments/",
            lambda _: _with_reports(panels["amend"]),
            data={
                "reason": "Transcription error",
                "results": [{"analyte": "IL-6", "value": "13.0", "unit": "pg/mL"}],
            },
            json=True,
        ),
        "api:panel-verify-bulk": Probe(
            "director",
            "post",
            "/api/v1/panels/verify/",
            lambda _: _panel_ids([panels["bulk"]]),
            data={"ids": [panels["bulk"].pk]},
            json=True,
        ),
        "api:panel-list#create": Probe(
            "technician", "post", "/api/v1/panels/", created, data=new_panel, json=True
        ),
        "fhir:read": Probe(
            "clinician",
            "get",
            f"/fhir/DiagnosticReport/{world.report.pk}",
            lambda _: _report_ids(world.report),
        ),
        "fhir:search": Probe(
            "technician",
            "get",
            f"/fhir/Specimen?identifier={world.panels['read'].accession}",
            lambda _: {**_panel_ids([world.panels["read"]]), "report_ids": set()},
        ),
        "api:report-detail": Probe(
            "clinician",
            "get",
            f"/api/v1/reports/{world.report.pk}/",
            lambda _: _report_ids(world.report),
        ),
        "api:report-pdf": Probe(
            "clinician",
            "get",
            f"/api/v1/reports/{world.report.pk}/pdf/",
            lambda _: _report_ids(world.report),
        ),
        "api:report-retry": Probe(
            "director",
            "post",
            f"/api/v1/reports/{world.failed_report.pk}/retry/",
            lambda _: _report_ids(world.failed_report),
        ),
        "api:import-preview": Probe(
            "technician",
            "get",
            f"/api/v1/imports/{job.uuid}/preview/",
            lambda _: {"import_job_id": job.pk, "patient_ids": set()},
        ),
        "api:import-problems": Probe(
            "technician",
            "get",
            f"/api/v1/imports/{job.uuid}/problems/",
            lambda _: {"import_job_id": job.pk},
        ),
        "api:import-file": Probe(
            "technician",
            "get",
            f"/api/v1/imports/{job.uuid}/file/",
            lambda _: {"import_job_id": job.pk},
        ),
        "api:ruleset-impact": Probe(
            "director",
            "get",
            f"/api/v1/rulesets/{world.draft.pk}/impact/",
            lambda response: _panel_ids(
                list(
                    Panel.objects.filter(
                        accession__in=[
                            example["accession"] for example in response.json()["examples"]
                        ]
                    )
                )
            ),
        ),
        "imports:detail": Probe(
            "technician_browser",
            "get",
            f"/imports/{job.uuid}/",
            lambda _: {"import_job_id": job.pk},
        ),
        "reports:inbox": Probe(
            "clinician_browser",
            "get",
            "/inbox/",
            lambda _: _inbox_ids(world),
        ),
        "reports:detail": Probe(
            "clinician_browser",
            "get",
            f"/reports/{world.report.pk}/",
            lambda _: _report_ids(world.report),
        ),
        "critical:list": Probe(
            "technician_browser",
            "get",
            "/critical/",
            lambda _: _panel_ids([world.alert.panel]),
        ),
        "critical:detail": Probe(
            "clinician_browser",
            "get",
            f"/critical/{world.alert.pk}/",
            lambda _: _panel_ids([world.alert.panel]),
        ),
        # an invalid read-back shows the alert's page again, with the form's errors
        "critical:read_back": Probe(
            "technician_browser",
            "post",
            f"/critical/{world.alert.pk}/read-back/",
            lambda _: _panel_ids([world.alert.panel]),
            data={"person_called": ""},
            status=400,
        ),
        "worklist:list": Probe(
            "director_browser",
            "get",
            "/worklist/",
            lambda _: _panel_ids(
                list(Panel.objects.filter(review_state__in=("received", "verified")))
            ),
        ),
        "worklist:verify": Probe(
            "director_browser",
            "post",
            f"/panels/{panels['row_verify'].pk}/verify/",
            lambda _: _panel_ids([panels["row_verify"]]),
            data={},
            headers=htmx,
        ),
        "worklist:verify-bulk": Probe(
            "director_browser",
            "post",
            "/worklist/verify/",
            lambda _: _panel_ids([panels["bulk"]]),
            data={"panel": [panels["bulk"].pk]},
            status=302,
        ),
        "lab_panels:detail": Probe(
            "technician_browser",
            "get",
            f"/panels/{panels['read'].pk}/",
            lambda _: _with_reports(panels["read"]),
        ),
        "lab_panels:release": Probe(
            "director_browser",
            "post",
            f"/panels/{panels['row_release'].pk}/release/",
            lambda _: _panel_ids([panels["row_release"]]),
            data={},
            headers=htmx,
        ),
        "corrections:correct": Probe(
            "technician_browser",
            "get",
            f"/panels/{panels['read'].pk}/correct/",
            lambda _: _panel_ids([panels["read"]]),
        ),
        "ruleset_pages:impact": Probe(
            "director_browser",
            "get",
            f"/reference-ranges/{world.draft.pk}/impact/",
            lambda _: _impact_ids(world.draft),
        ),
    }


PATIENT_DATA = frozenset(
    {
        "api:panel-list",
        "api:panel-detail",
        "api:panel-verify",
        "api:panel-release",
        "api:panel-amendments",
        "api:panel-verify-bulk",
        "api:report-detail",
        "api:report-pdf",
        "api:report-retry",
        "api:import-preview",
        "api:import-problems",
        "api:import-file",
        "api:ruleset-impact",
        "imports:detail",
        "reports:inbox",
        "reports:detail",
        "critical:list",
        "critical:detail",
        "critical:read_back",
        "worklist:list",
        "worklist:verify",
        "worklist:verify-bulk",
        "lab_panels:detail",
        "lab_panels:release",
        "corrections:correct",
        "ruleset_pages:impact",
        "fhir:read",
        "fhir:search",
    }
)


# --- The tests ---------------------------------------------------------------------------------


def test_every_url_pattern_is_classified() -> None:
    admin_names = _admin_names()
    keys = {key for key, _ in url_patterns()}
    unclassified = sorted(
        key
        for key in keys
        if key not in PATIENT_DATA
        and key not in NO_PATIENT_DATA
        and admin_names.get(key) not in ("patient", "other")
    )
    assert unclassified == [], (
        "classify these URL patterns in tests/audit/test_every_url.py (and record the reads "
        f"of those that return patient data): {unclassified}"
    )
    assert PATIENT_DATA.isdisjoint(NO_PATIENT_DATA)
    stale = sorted((PATIENT_DATA | set(NO_PATIENT_DATA)) - keys)
    assert stale == [], f"classified but no longer a URL: {stale}"


@pytest.mark.django_db
def test_every_patient_data_url_writes_one_entry_with_the_ids_it_returned(world: World) -> None:
    every = probes(world)
    assert {name.split("#")[0] for name in every} == PATIENT_DATA
    problems: list[str] = []
    for name, probe in every.items():
        client = world.clients[probe.client]
        before = ReadEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
        send = getattr(client, probe.method)
        if probe.json:
            response = send(probe.url, probe.data, format="json", **probe.headers)
        elif probe.data is not None:
            response = send(probe.url, probe.data, **probe.headers)
        else:
            response = send(probe.url, **probe.headers)
        if (probe.status is None and response.status_code >= 300) or (
            probe.status is not None and response.status_code != probe.status
        ):
            problems.append(f"{name}: answered {response.status_code}")
            continue
        entries = list(ReadEntry.objects.filter(id__gt=before))
        if len(entries) != 1:
            problems.append(f"{name}: {len(entries)} entries, not one")
            continue
        entry = entries[0]
        expected = probe.expected(response)
        found: dict[str, Any] = {
            "patient_ids": set(entry.patient_ids),
            "panel_ids": set(entry.panel_ids),
            "report_ids": set(entry.report_ids),
            "import_job_id": entry.import_job_id,
        }
        wrong: dict[str, Any] = {
            key: (found[key], value) for key, value in expected.items() if found[key] != value
        }
        if entry.view != name.split("#")[0]:
            wrong["view"] = (entry.view, name)
        if entry.lab_id != world.panels["read"].lab_id:
            wrong["lab_id"] = (entry.lab_id, world.panels["read"].lab_id)
        if wrong:
            problems.append(f"{name}: (recorded, expected) {wrong}")
    assert problems == [], "\n".join(problems)


def _admin_rows(world: World) -> dict[str, tuple[Any, dict[str, Any]]]:
    """A row of every patient-bearing model and the ids its page must record."""
    read = world.panels["read"]
    result = Result.objects.filter(panel=read).order_by("pk").first()
    assert result is not None
    return {
        "panels.patient": (
            Patient.objects.get(pk=read.patient_id),
            {"patient_ids": {read.patient_id}},
        ),
        "panels.panel": (read, _panel_ids([read])),
        "panels.result": (result, _panel_ids([read])),
        "panels.importjob": (world.job, {"import_job_id": world.job.pk}),
        "panels.inboundmessage": (world.message, {"patient_ids": set(), "panel_ids": set()}),
        "reports.report": (world.report, _report_ids(world.report)),
    }


@pytest.mark.django_db
def test_every_admin_page_of_a_patient_bearing_row_writes_one_entry(world: World) -> None:
    client = world.clients["admin"]
    rows = _admin_rows(world)
    assert set(rows) == ADMIN_PATIENT_MODELS
    problems: list[str] = []
    shown = 0
    for label, (row, expected_row) in rows.items():
        app, model = label.split(".")
        for page in ADMIN_ROW_PAGES:
            url = (
                f"/admin/{app}/{model}/"
                if page == "changelist"
                else (f"/admin/{app}/{model}/{row.pk}/{page}/")
            )
            before = ReadEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
            response = client.get(url)
            entries = list(ReadEntry.objects.filter(id__gt=before))
            if response.status_code == 403:
                # refused (no delete permission on records): nothing shown, nothing recorded
                if entries:
                    problems.append(f"{url}: refused but recorded")
                continue
            if response.status_code != 200 or len(entries) != 1:
                problems.append(f"{url}: {response.status_code}, {len(entries)} entries")
                continue
            shown += 1
            entry = entries[0]
            if page == "changelist":
                listed = list(response.context["cl"].result_list)
                expected = {
                    key: set().union(
                        *(_admin_rows_ids(label, item).get(key, set()) for item in listed)
                    )
                    for key in ("patient_ids", "panel_ids", "report_ids")
                }
            else:
                expected = expected_row
            found: dict[str, Any] = {
                "patient_ids": set(entry.patient_ids),
                "panel_ids": set(entry.panel_ids),
                "report_ids": set(entry.report_ids),
                "import_job_id": entry.import_job_id,
            }
            wrong: dict[str, Any] = {k: (found[k], v) for k, v in expected.items() if found[k] != v}
            if entry.channel != Channel.ADMIN:
                wrong["channel"] = (entry.channel, Channel.ADMIN)
            if wrong:
                problems.append(f"{url}: (recorded, expected) {wrong}")
    assert problems == [], "\n".join(problems)
    assert shown >= len(ADMIN_PATIENT_MODELS) * 3  # changelist, change and history at least


def _admin_rows_ids(label: str, row: Any) -> dict[str, set[int]]:
    """The ids a changelist row of ``label`` carries, read from the row itself."""
    if label == "panels.patient":
        return {"patient_ids": {row.pk}}
    if label == "panels.panel":
        return {"patient_ids": {row.patient_id}, "panel_ids": {row.pk}}
    if label == "panels.result":
        return {"patient_ids": {row.panel.patient_id}, "panel_ids": {row.panel_id}}
    if label == "reports.report":
        return {
            "patient_ids": {row.panel.patient_id},
            "panel_ids": {row.panel_id},
            "report_ids": {row.pk},
        }
    return {}
