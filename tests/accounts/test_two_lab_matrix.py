"""Two labs, every role, every endpoint and page: the whole access matrix (issue 13).

Two labs are built, each with a technician, a director, a clinician and an integrator (and one
user belonging to no lab), and in each lab:

- ``mine``: a panel the lab's integrator submitted for the lab's clinician, holding a critical
  IL-6, verified (which opens a critical alert) and released (its FINAL report);
- ``lab``: a panel the lab's technician submitted, still ``received`` (its PRELIMINARY
  report);
- an import job in preview, and the lab's own published rule set (its critical limits).

Then every URL pattern of the project (read from the URL resolver, so that a new endpoint
without a row here fails ``test_every_url_pattern_has_a_matrix_row``) is requested by every
role of lab A, on lab A's objects (``mine``, ``lab``) and on lab B's (``other``), and the
answer's status is compared with what the README's policy says (200/201/202/204/302/403/404/
409): another lab's object is a 404 for everyone, never a 403 that would confirm it exists.
Every request runs in a savepoint rolled back afterwards, so each cell sees the same data.
All wrong cells are listed in one assertion message.

The identifier cases (lab A posting lab B's MRN and accession: its own patient and panel) and
the demographics mismatch (details for the lab's staff only) are rows too.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from labpanel.accounts.models import Lab, TokenScope
from labpanel.accounts.services import api_token_issue
from labpanel.events.models import Event, EventKind
from labpanel.webhooks.models import Delivery, DeliveryState, Subscription
from labpanel.webhooks.services import subscription_create
from panels.intake.imports.validate import import_job_validate
from panels.models import CriticalAlert, ImportJob, Panel
from panels.review import panel_verify
from reference_ranges.models import ReferenceRangeSet
from reports.models import Report, ReportStatus
from reports.release import panel_release
from reports.services import report_render
from tests.conftest import EXAMPLE_PANEL
from tests.factories import make_lab, make_staff, make_user
from tests.messaging.test_hl7_http import ER7, oru

pytestmark = pytest.mark.django_db

ROLES = ("technician", "director", "clinician", "integrator", "nomember")
STAFF = {"technician", "director"}
OBJECTS = ("mine", "lab", "other")

CRITICAL_RESULTS = [
    {"analyte": "IL-6", "value": "6000", "unit": "pg/mL"},
    {"analyte": "TNFA", "value": "5.0", "unit": "pg/mL"},
]
CSV_HEADER = (
    "accession,mrn,family_name,given_name,birth_date,sex,specimen_type,collected_at,"
    "ordering_clinician,analyte,value,unit"
)


# --- The two labs ---------------------------------------------------------------------------------


@dataclass
class LabWorld:
    tag: str
    lab: Lab
    users: dict[str, User]
    mine: Panel
    lab_panel: Panel
    final: Report
    preliminary: Report
    job: ImportJob
    ruleset: ReferenceRangeSet
    alert: CriticalAlert
    subscription: Subscription
    delivery: Delivery  # dead: a dead letter


def _payload(tag: str, accession: str, mrn: str, results: list[dict[str, str]]) -> dict[str, Any]:
    payload = copy.deepcopy(EXAMPLE_PANEL)
    payload.update(accession=accession, ordering_clinician=f"{tag}.clinician", results=results)
    payload["patient"]["mrn"] = mrn
    return payload


def _token_client(user: User) -> APIClient:
    """A token with every scope: the matrix is the roles' (scopes: tests/api/test_token_scopes)."""
    client = APIClient()
    token = api_token_issue(user=user, expires_in=None, scopes=TokenScope.values)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def _lab_world(tag: str) -> LabWorld:
    from reference_ranges.services.critical_limits import lab_critical_ruleset_publish

    lab = make_lab(name=f"Laboratory {tag.upper()}")
    users = {
        role: make_staff(username=f"{tag}.{role}", lab=lab, role=role).user
        for role in ("technician", "director", "clinician", "integrator")
    }
    users["clinician"].email = f"{tag}.clinician@example.org"
    users["clinician"].save()
    ruleset = lab_critical_ruleset_publish(
        lab=lab,
        director=users["director"],
        key=f"lab-{tag}-critical",
        name=f"Laboratory {tag.upper()} intervals",
        critical_high={("IL6", "pg/mL"): Decimal("5000")},
        provenance="IL-6 critical high 5000 pg/mL: a local laboratory limit.",
    )
    mine = _token_client(users["integrator"]).post(
        "/api/v1/panels/",
        _payload(tag, f"{tag.upper()}-1", f"MRN-{tag.upper()}", CRITICAL_RESULTS),
        format="json",
    )
    assert mine.status_code == 201, mine.json()
    lab_response = _token_client(users["technician"]).post(
        "/api/v1/panels/",
        _payload(tag, f"{tag.upper()}-2", f"MRN-{tag.upper()}", EXAMPLE_PANEL["results"]),
        format="json",
    )
    assert lab_response.status_code == 201, lab_response.json()
    mine_panel = Panel.objects.get(pk=mine.json()["id"])
    panel_verify(panel_id=mine_panel.pk, user=users["director"])
    final = panel_release(panel_id=mine_panel.pk, user=users["director"])
    for report_id in Report.objects.filter(panel__lab=lab).values_list("pk", flat=True):
        report_render(report_id=report_id)
    assert not Report.objects.filter(panel__lab=lab).exclude(status=ReportStatus.READY).exists()
    csv = "\n".join(
        [
            CSV_HEADER,
            f"{tag.upper()}-I1,MRN-{tag.upper()}-I,Roe,Rick,1975-01-31,male,serum,"
            f"2026-11-20T09:00:00Z,{tag}.clinician,IL-6,3.1,pg/mL",
            "",
        ]
    )
    upload = _token_client(users["technician"]).post(
        "/api/v1/imports/",
        {"file": SimpleUploadedFile(f"{tag}.csv", csv.encode(), content_type="text/csv")},
        format="multipart",
    )
    assert upload.status_code == 202, upload.json()
    job = ImportJob.objects.get(uuid=upload.json()["id"])
    import_job_validate(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "preview", job.status_message
    lab_panel = Panel.objects.get(pk=lab_response.json()["id"])
    subscription = subscription_create(
        user=users["integrator"], url=f"https://{tag}.example.org/hook", kinds=["panel.released"]
    ).subscription
    delivery = Delivery.objects.create(
        subscription=subscription,
        event=Event.objects.get(kind=EventKind.PANEL_RELEASED, panel_id=mine_panel.pk),
        lab_id=lab.pk,
        state=DeliveryState.DEAD,
    )
    return LabWorld(
        tag=tag,
        lab=lab,
        users=users,
        mine=mine_panel,
        lab_panel=lab_panel,
        final=Report.objects.get(pk=final.pk),
        preliminary=lab_panel.reports.get(),
        job=job,
        ruleset=ruleset,
        alert=CriticalAlert.objects.get(panel=mine_panel),
        subscription=subscription,
        delivery=delivery,
    )


@dataclass
class World:
    """The two labs seen by the users of ``me``: ``mine`` and ``lab`` are ``me``'s objects,
    ``other`` is ``them``'s."""

    me: LabWorld
    them: LabWorld
    users: dict[str, User]  # me's users by role, and the user of no lab
    api: dict[str, APIClient]
    pages: dict[str, Client]

    def panel(self, kind: str) -> Panel:
        return {"mine": self.me.mine, "lab": self.me.lab_panel, "other": self.them.mine}[kind]

    def report(self, kind: str) -> Report:
        reports = {"mine": self.me.final, "lab": self.me.preliminary, "other": self.them.final}
        return reports[kind]

    def job(self, kind: str) -> ImportJob:
        return self.them.job if kind == "other" else self.me.job

    def ruleset(self, kind: str) -> ReferenceRangeSet:
        return self.them.ruleset if kind == "other" else self.me.ruleset

    def alert(self, kind: str) -> CriticalAlert:
        return self.them.alert if kind == "other" else self.me.alert

    def subscription(self, kind: str) -> Subscription:
        return self.them.subscription if kind == "other" else self.me.subscription

    def delivery(self, kind: str) -> Delivery:
        return self.them.delivery if kind == "other" else self.me.delivery

    def other_lab_words(self) -> tuple[bytes, ...]:
        """The other lab's patient identifier and name: never in an answer to ``me``'s users."""
        tag = self.them.tag.upper()
        return (f"MRN-{tag}".encode(), f"Laboratory {tag}".encode())


# --- The rows: one per URL name, what it is asked and what the policy answers --------------------

Expect = Callable[[str, str], int]  # (role, object kind) -> status


def panel_seen(role: str, kind: str) -> bool:
    """README "Who sees what": staff see the lab's panels, the clinician the released panels
    of the patients in their care (here ``mine``, which they ordered; ``lab``, of the same
    patient, is not released), the integrator those it submitted; another lab's, nobody. The
    care of a patient ordered for by two clinicians: tests/panels/test_history_visibility.py."""
    if kind == "other" or role == "nomember":
        return False
    return role in STAFF or kind == "mine"


def report_seen(role: str, kind: str) -> bool:
    # ``lab``'s report is PRELIMINARY: the clinician sees it only where the lab sends them.
    return panel_seen(role, kind)


def seen_or_404(allowed: int, refused: int = 403) -> Expect:
    """``allowed`` for staff (and whoever else sees the object and may act), ``refused`` for
    those who see it but may not act, 404 for those who do not see it."""

    def expect(role: str, kind: str) -> int:
        if not panel_seen(role, kind):
            return 404
        return allowed if role in STAFF else refused

    return expect


def screen(roles: set[str], allowed: int) -> Expect:
    """A screen for ``roles``: ``allowed`` on the lab's own objects, 404 on another lab's;
    403 for every other role, whatever the object."""

    def expect(role: str, kind: str) -> int:
        if role not in roles:
            return 403
        return 404 if kind == "other" else allowed

    return expect


def lab_screen(staff: Expect) -> Expect:
    """The lab's panel screens: 404 for a panel outside the caller's scope, 403 naming why for
    one in it but not theirs to work on (the ordering clinician, the submitting interface),
    ``staff`` for the lab's technicians and directors."""

    def expect(role: str, kind: str) -> int:
        if not panel_seen(role, kind):
            return 404
        return staff(role, kind) if role in STAFF else 403

    return expect


def ruleset_screen(reader: Callable[[str], int]) -> Expect:
    """The reference-range screens: for those who read rule sets, ``reader`` on the lab's own
    set and 404 on another lab's; 403 for everyone else, whatever the set."""

    def expect(role: str, kind: str) -> int:
        if role not in {"technician", "director", "integrator"}:
            return 403
        return 404 if kind == "other" else reader(role)

    return expect


def by_role(**statuses: int) -> Expect:
    return lambda role, kind: statuses[role]


def everyone(status: int) -> Expect:
    return lambda role, kind: status


@dataclass(frozen=True)
class Row:
    name: str  # the URL name (namespace:name)
    method: str
    path: Callable[[World, str], str]
    expect: Expect
    api: bool = True  # token client (API) or session client (pages)
    body: Callable[[World, str, str], Any] | None = None  # (world, role, kind) -> body
    objects: tuple[str, ...] = ("mine",)  # object kinds this row is asked about
    check: Callable[[Any, str, str], str] | None = None  # extra check: "" when right


def _amendment(world: World, role: str, kind: str) -> dict[str, Any]:
    return {
        "reason": "recalculated",
        "results": [{"analyte": "TNFA", "value": "4.0", "unit": "pg/mL"}],
    }


def _new_panel(world: World, role: str, kind: str) -> dict[str, Any]:
    """A new panel (``mine``); lab B's MRN and accession with other demographics (``other``:
    lab A's own new patient and panel); lab A's known MRN with another birth date (``lab``:
    the demographics mismatch)."""
    me, them = world.me.tag, world.them.tag.upper()
    if kind == "other":
        payload = _payload(me, f"{them}-1", f"MRN-{them}", EXAMPLE_PANEL["results"])
        payload["patient"]["birth_date"] = "1999-09-09"
        return payload
    if kind == "lab":
        payload = _payload(me, f"{me.upper()}-9", f"MRN-{me.upper()}", EXAMPLE_PANEL["results"])
        payload["patient"]["birth_date"] = "1981-04-02"
        return payload
    return _payload(me, f"{me.upper()}-3", f"MRN-{me.upper()}-NEW", EXAMPLE_PANEL["results"])


def _submit_expect(role: str, kind: str) -> int:
    if role not in {"technician", "director", "integrator"}:
        return 403
    return 409 if kind == "lab" else 201


def _mismatch_details(response: Any, role: str, kind: str) -> str:
    """The 409 names the differing field to the lab's staff only."""
    if kind != "lab" or response.status_code != 409:
        return ""
    details = response.json()["details"]
    if role in STAFF and details != [
        {"field": "patient.birth_date", "message": "differs from the registered patient"}
    ]:
        return f"staff not told the field: {details}"
    if role not in STAFF and (details or "birth" in response.content.decode()):
        return f"a field named to a non-staff caller: {response.content.decode()}"
    return ""


def _bulk_refusal(response: Any, role: str, kind: str) -> str:
    """A panel the caller does not see is ``not_found`` (never ``permission_denied``)."""
    refused = {item["id"]: item["code"] for item in response.json()["refused"]}
    codes = set(refused.values())
    if not panel_seen(role, kind):
        return "" if codes == {"not_found"} else f"an unseen panel refused as {codes}"
    if role not in STAFF:
        return "" if codes == {"permission_denied"} else f"refused as {codes}"
    return ""


def _one_lab_entries(response: Any) -> str:
    """The read audit a director searches holds their own lab's entries only (one lab id)."""
    labs = {entry["lab_id"] for entry in response.json()["results"]}
    return "" if len(labs) <= 1 else f"entries of labs {sorted(labs)}"


def _listed(response: Any, count: int) -> str:
    results = response.json()["results"]
    return "" if len(results) == count else f"listed {len(results)}, expected {count}"


def _csv(world: World, role: str, kind: str) -> dict[str, Any]:
    me = world.me.tag
    content = (
        f"{CSV_HEADER}\n{me.upper()}-I9,MRN-{me.upper()}-I9,Roe,Rick,1975-01-31,male,serum,"
        f"2026-11-20T09:00:00Z,{me}.clinician,IL-6,3.1,pg/mL\n"
    )
    return {"file": SimpleUploadedFile("new.csv", content.encode(), content_type="text/csv")}


def _hl7(world: World, role: str, kind: str) -> bytes:
    me = world.me.tag
    return oru(
        "MATRIX-1", accession=f"{me.upper()}-H1", mrn=f"MRN-{me}-H", provider=f"{me}.clinician"
    ).encode()


def _import_seen(role: str, kind: str) -> int:
    return 404 if kind == "other" or role not in STAFF else 200


def _ruleset_read(role: str, kind: str) -> int:
    if role not in {"technician", "director", "integrator"}:
        return 404
    return 404 if kind == "other" else 200


def _alert_seen(role: str, kind: str) -> bool:
    return kind != "other" and role in {"technician", "director", "clinician"}


def _path(pattern: str) -> Callable[[World, str], str]:
    def path(world: World, kind: str) -> str:
        return pattern.format(
            panel=world.panel(kind).pk,
            report=world.report(kind).pk,
            job=world.job(kind).uuid,
            ruleset=world.ruleset(kind).pk,
            alert=world.alert(kind).pk,
            subscription=world.subscription(kind).pk,
            delivery=world.delivery(kind).pk,
            rule=world.ruleset(kind).rules.order_by("pk").first().pk,  # type: ignore[union-attr]
        )

    return path


ALL = ("mine", "lab", "other")
OWN_OTHER = ("mine", "other")


def _webhooks(ok: int) -> Expect:
    """Webhooks: a lab's integrators and directors, their own lab's (another's: 404); everyone
    else is refused the whole resource (403, whatever the id)."""
    return lambda role, kind: (
        403 if role not in {"director", "integrator"} else (404 if kind == "other" else ok)
    )


def _fhir_total(response: Any, expected: int) -> str:
    total = response.json()["total"]
    return "" if total == expected else f"a searchset of {total}, expected {expected}"


ROWS: tuple[Row, ...] = (
    # --- FHIR (reports/fhir/): the same scopes; absent is 404, a search lists only the seen ---
    Row("fhir:metadata", "get", _path("/fhir/metadata"), everyone(200)),
    Row("fhir:unknown", "get", _path("/fhir/Encounter/1/x"), everyone(404)),
    Row(
        "fhir:read",
        "get",
        _path("/fhir/DiagnosticReport/{report}"),
        lambda r, k: 200 if report_seen(r, k) else 404,
        objects=ALL,
    ),
    Row(
        "fhir:read",
        "get",
        _path("/fhir/Specimen/{panel}"),
        lambda r, k: 200 if panel_seen(r, k) else 404,
        objects=ALL,
    ),
    Row(
        "fhir:search",
        "get",
        _path("/fhir/ServiceRequest?_id={panel}"),
        everyone(200),
        objects=ALL,
        check=lambda response, r, k: _fhir_total(response, 1 if panel_seen(r, k) else 0),
    ),
    Row(
        "fhir:search",
        "get",
        _path("/fhir/DiagnosticReport?_id={report}"),
        everyone(200),
        objects=ALL,
        check=lambda response, r, k: _fhir_total(response, 1 if report_seen(r, k) else 0),
    ),
    # --- the API ---
    Row(
        "api:webhook-subscription-list",
        "get",
        _path("/api/v1/webhooks/subscriptions/"),
        _webhooks(200),
    ),
    Row(
        "api:webhook-subscription-list",
        "post",
        _path("/api/v1/webhooks/subscriptions/"),
        _webhooks(201),
        body=lambda w, r, k: {"url": "https://ehr.example.org/h", "kinds": ["panel.released"]},
    ),
    Row(
        "api:webhook-subscription-detail",
        "get",
        _path("/api/v1/webhooks/subscriptions/{subscription}/"),
        _webhooks(200),
        objects=OWN_OTHER,
    ),
    Row(
        "api:webhook-subscription-detail",
        "delete",
        _path("/api/v1/webhooks/subscriptions/{subscription}/"),
        _webhooks(204),
        objects=OWN_OTHER,
    ),
    Row(
        "api:webhook-delivery-list",
        "get",
        _path("/api/v1/webhooks/deliveries/?state=dead"),
        _webhooks(200),
    ),
    Row(
        "api:webhook-delivery-detail",
        "get",
        _path("/api/v1/webhooks/deliveries/{delivery}/"),
        _webhooks(200),
        objects=OWN_OTHER,
    ),
    Row(
        "api:webhook-delivery-replay",
        "post",
        _path("/api/v1/webhooks/deliveries/{delivery}/replay/"),
        _webhooks(202),
        objects=OWN_OTHER,
    ),
    Row("api:panel-list", "get", _path("/api/v1/panels/"), everyone(200)),
    Row(
        "api:audit-read-list",
        "get",
        _path("/api/v1/audit/reads/"),
        by_role(technician=403, director=200, clinician=403, integrator=403, nomember=403),
        check=lambda response, r, k: _one_lab_entries(response) if r == "director" else "",
    ),
    Row(
        "api:panel-list",
        "post",
        _path("/api/v1/panels/"),
        _submit_expect,
        body=_new_panel,
        objects=ALL,
        check=_mismatch_details,
    ),
    Row(
        "api:panel-verify-bulk",
        "post",
        _path("/api/v1/panels/verify/"),
        # always answered per id (README): the refusal's code is the cell
        everyone(200),
        body=lambda w, r, k: {"ids": [w.panel(k).pk]},
        objects=ALL,
        check=_bulk_refusal,
    ),
    Row(
        "api:panel-detail",
        "get",
        _path("/api/v1/panels/{panel}/"),
        lambda r, k: 200 if panel_seen(r, k) else 404,
        objects=ALL,
    ),
    Row(
        "api:panel-amendments",
        "post",
        _path("/api/v1/panels/{panel}/amendments/"),
        lambda r, k: (
            404 if not panel_seen(r, k) else (201 if r in STAFF or r == "integrator" else 403)
        ),
        body=_amendment,
        objects=ALL,
    ),
    Row(
        "api:panel-verify",
        "post",
        _path("/api/v1/panels/{panel}/verify/"),
        # mine is released (409 for whoever may verify); lab was submitted by the technician
        # (self-verification is off: 403), the director verifies it.
        lambda r, k: (
            404
            if not panel_seen(r, k)
            else (
                403
                if r not in STAFF
                else {"mine": 409, "lab": 403 if r == "technician" else 200}[k]
            )
        ),
        body=lambda w, r, k: {"reason": "checked"},
        objects=ALL,
    ),
    Row(
        "api:panel-release",
        "post",
        _path("/api/v1/panels/{panel}/release/"),
        # technicians may not release by default (403); the director: mine is released
        # already, lab is not verified yet (409)
        lambda r, k: 404 if not panel_seen(r, k) else (409 if r == "director" else 403),
        objects=ALL,
    ),
    Row(
        "api:import-list",
        "get",
        _path("/api/v1/imports/"),
        everyone(200),  # a list scoped to the jobs the caller may see: none but the staff
        check=lambda response, r, k: _listed(response, 1 if r in STAFF else 0),
    ),
    Row(
        "api:import-list",
        "post",
        _path("/api/v1/imports/"),
        by_role(technician=202, director=202, clinician=403, integrator=403, nomember=403),
        body=_csv,
    ),
    Row(
        "api:import-detail", "get", _path("/api/v1/imports/{job}/"), _import_seen, objects=OWN_OTHER
    ),
    Row(
        "api:import-preview",
        "get",
        _path("/api/v1/imports/{job}/preview/"),
        _import_seen,
        objects=OWN_OTHER,
    ),
    Row(
        "api:import-problems",
        "get",
        _path("/api/v1/imports/{job}/problems/"),
        _import_seen,
        objects=OWN_OTHER,
    ),
    Row(
        "api:import-file",
        "get",
        _path("/api/v1/imports/{job}/file/"),
        _import_seen,
        objects=OWN_OTHER,
    ),
    Row(
        "api:import-commit",
        "post",
        _path("/api/v1/imports/{job}/commit/"),
        lambda r, k: 202 if _import_seen(r, k) == 200 else 404,
        objects=OWN_OTHER,
    ),
    Row(
        "api:import-abandon",
        "post",
        _path("/api/v1/imports/{job}/abandon/"),
        _import_seen,
        objects=OWN_OTHER,
    ),
    Row(
        "api:report-detail",
        "get",
        _path("/api/v1/reports/{report}/"),
        lambda r, k: 200 if report_seen(r, k) else 404,
        objects=ALL,
    ),
    Row(
        "api:report-pdf",
        "get",
        _path("/api/v1/reports/{report}/pdf/"),
        lambda r, k: 200 if report_seen(r, k) else 404,
        objects=ALL,
    ),
    Row(
        "api:report-retry",
        "post",
        _path("/api/v1/reports/{report}/retry/"),
        # only a director retries, and only a failed report (these are ready: 409)
        lambda r, k: 404 if not report_seen(r, k) else (409 if r == "director" else 403),
        objects=ALL,
    ),
    Row(
        "api:ruleset-list",
        "get",
        _path("/api/v1/rulesets/"),
        everyone(200),  # scoped: nothing for those who do not read rule sets
        check=lambda response, r, k: (
            ""
            if (r in {"clinician", "nomember"}) == (response.json()["results"] == [])
            else f"listed {len(response.json()['results'])} set(s)"
        ),
    ),
    Row(
        "api:ruleset-import",
        "post",
        _path("/api/v1/rulesets/import/"),
        # an empty document: the director is told what is wrong (400), others may not (403)
        by_role(technician=403, director=400, integrator=403, clinician=403, nomember=403),
        body=lambda w, r, k: {},
    ),
    Row(
        "api:ruleset-detail",
        "get",
        _path("/api/v1/rulesets/{ruleset}/"),
        _ruleset_read,
        objects=OWN_OTHER,
    ),
    Row(
        "api:ruleset-export",
        "get",
        _path("/api/v1/rulesets/{ruleset}/export/"),
        _ruleset_read,
        objects=OWN_OTHER,
    ),
    Row(
        "api:ruleset-impact",
        "get",
        _path("/api/v1/rulesets/{ruleset}/impact/"),
        # the impact preview reads stored panels: the director's (403 to the others who read
        # the set)
        lambda r, k: 404 if _ruleset_read(r, k) == 404 else (200 if r == "director" else 403),
        objects=OWN_OTHER,
    ),
    Row(
        "api:ruleset-publish",
        "post",
        _path("/api/v1/rulesets/{ruleset}/publish/"),
        # the lab's set is published already: 409 for its director
        lambda r, k: 404 if _ruleset_read(r, k) == 404 else (409 if r == "director" else 403),
        objects=OWN_OTHER,
    ),
    Row("api:api-root", "get", _path("/api/v1/"), everyone(200)),
    Row(
        "api:hl7",
        "post",
        _path("/api/v1/hl7/"),
        by_role(technician=403, director=200, integrator=200, clinician=403, nomember=403),
        body=_hl7,
    ),
    Row("api:knox-logout", "post", _path("/api/v1/auth/logout/"), everyone(204)),
    Row("api:knox-logoutall", "post", _path("/api/v1/auth/logoutall/"), everyone(204)),
    Row("api:schema", "get", _path("/api/v1/schema/"), everyone(200)),
    Row("api:docs", "get", _path("/api/v1/docs/"), everyone(200)),
    Row("api:redoc", "get", _path("/api/v1/redoc/"), everyone(200)),
    # --- the pages (a session; a role the screen is not for is refused whatever the object,
    # so the refusal says nothing of it) ---
    Row("login", "get", _path("/login/"), everyone(200), api=False),
    Row("logout", "post", _path("/logout/"), everyone(302), api=False),
    Row("home", "get", _path("/"), everyone(302), api=False),
    Row("healthz", "get", _path("/healthz"), everyone(200), api=False),
    Row("imports:list", "get", _path("/imports/"), screen(STAFF, 200), api=False),
    Row(
        "imports:detail",
        "get",
        _path("/imports/{job}/"),
        screen(STAFF, 200),
        api=False,
        objects=OWN_OTHER,
    ),
    Row(
        "imports:commit",
        "post",
        _path("/imports/{job}/commit/"),
        screen(STAFF, 302),
        api=False,
        objects=OWN_OTHER,
    ),
    Row(
        "imports:abandon",
        "post",
        _path("/imports/{job}/abandon/"),
        screen(STAFF, 302),
        api=False,
        objects=OWN_OTHER,
    ),
    # the inbox and the critical list are lists scoped like the API (inbox_scope,
    # critical_alerts_scope): empty for those they are not for
    Row("reports:inbox", "get", _path("/inbox/"), everyone(200), api=False),
    Row(
        "reports:detail",
        "get",
        _path("/reports/{report}/"),
        lambda r, k: 200 if report_seen(r, k) else 404,
        api=False,
        objects=ALL,
    ),
    Row(
        "reports:acknowledge",
        "post",
        _path("/reports/{report}/acknowledge/"),
        lambda r, k: 404 if not report_seen(r, k) else (302 if r == "clinician" else 403),
        api=False,
        objects=ALL,
    ),
    Row(
        "critical:list",
        "get",
        _path("/critical/"),
        everyone(200),
        api=False,
    ),
    Row(
        "critical:detail",
        "get",
        _path("/critical/{alert}/"),
        lambda r, k: 200 if _alert_seen(r, k) else 404,
        api=False,
        objects=OWN_OTHER,
    ),
    Row(
        "critical:acknowledge",
        "post",
        _path("/critical/{alert}/acknowledge/"),
        lambda r, k: 404 if not _alert_seen(r, k) else (302 if r == "clinician" else 403),
        api=False,
        objects=OWN_OTHER,
    ),
    Row(
        "critical:read_back",
        "post",
        _path("/critical/{alert}/read-back/"),
        lambda r, k: 404 if not _alert_seen(r, k) else (302 if r in STAFF else 403),
        api=False,
        body=lambda w, r, k: {
            "person_called": "Dr Ward, resident",
            "read_back_by": "Dr Ward",
            "told_at": "2026-11-21T10:00",
        },
        objects=OWN_OTHER,
    ),
    Row("worklist:list", "get", _path("/worklist/"), screen(STAFF, 200), api=False),
    Row(
        "worklist:verify-bulk",
        "post",
        _path("/worklist/verify/"),
        screen(STAFF, 302),
        api=False,
        body=lambda w, r, k: {"ids": [w.panel(k).pk]},
    ),
    Row(
        "worklist:verify",
        "post",
        _path("/panels/{panel}/verify/"),
        # a page answers an action, or a conflict ("already released"), with a redirect and
        # its message; a refusal for the person (self-verification) is a 403 naming why
        lab_screen(lambda r, k: 403 if (k, r) == ("lab", "technician") else 302),
        api=False,
        objects=ALL,
    ),
    Row(
        "lab_panels:detail",
        "get",
        _path("/panels/{panel}/"),
        lab_screen(lambda r, k: 200),
        api=False,
        objects=ALL,
    ),
    Row(
        "lab_panels:release",
        "post",
        _path("/panels/{panel}/release/"),
        lab_screen(lambda r, k: 302 if r == "director" else 403),
        api=False,
        objects=ALL,
    ),
    Row(
        "corrections:correct",
        "get",
        _path("/panels/{panel}/correct/"),
        lab_screen(lambda r, k: 200),
        api=False,
        objects=ALL,
    ),
    Row(
        "reference_ranges:list",
        "get",
        _path("/reference-ranges/"),
        screen({"technician", "director", "integrator"}, 200),
        api=False,
    ),
    Row(
        "reference_ranges:draft",
        "post",
        _path("/reference-ranges/draft/"),
        screen({"director"}, 302),
        api=False,
        body=lambda w, r, k: {"source": w.ruleset(k).pk, "version": "matrix-1"},
    ),
    Row(
        "reference_ranges:detail",
        "get",
        _path("/reference-ranges/{ruleset}/"),
        ruleset_screen(lambda r: 200),
        api=False,
        objects=OWN_OTHER,
    ),
    Row(
        "reference_ranges:rule-edit",
        "get",
        _path("/reference-ranges/{ruleset}/rules/{rule}/"),
        # a published set's rule is shown to its director (never changed: its POST is refused)
        ruleset_screen(lambda r: 200 if r == "director" else 403),
        api=False,
        objects=OWN_OTHER,
    ),
    Row(
        "reference_ranges:publish",
        "post",
        _path("/reference-ranges/{ruleset}/publish/"),
        # published already: the director is sent back with the message
        ruleset_screen(lambda r: 302 if r == "director" else 403),
        api=False,
        objects=OWN_OTHER,
    ),
    Row(
        "ruleset_pages:impact",
        "get",
        _path("/reference-ranges/{ruleset}/impact/"),
        # the impact page answers 404 to those who do not read rule sets, whatever the set
        lambda r, k: (
            404
            if r in {"clinician", "nomember"}
            else ruleset_screen(lambda r: 200 if r == "director" else 403)(r, k)
        ),
        api=False,
        objects=OWN_OTHER,
    ),
)


# --- Walking the matrix ---------------------------------------------------------------------------


class _Rollback(Exception):
    pass


def _request(world: World, row: Row, role: str, kind: str) -> Any:
    client: Any = world.api[role] if row.api else world.pages[role]
    if row.name == "logout":  # logging out empties the client's cookies: a client of its own
        client = Client()
        client.force_login(world.users[role])
    path = row.path(world, kind)
    body = row.body(world, role, kind) if row.body is not None else None
    kwargs: dict[str, Any] = {}
    if row.method == "post":
        if row.name == "api:hl7":
            kwargs = {"data": body, "content_type": ER7}
        elif isinstance(body, dict) and any(
            isinstance(v, SimpleUploadedFile) for v in body.values()
        ):
            kwargs = {"data": body, "format": "multipart"}
        elif row.api:
            kwargs = {"data": body or {}, "format": "json"}
        else:
            kwargs = {"data": body or {}}
    response = None
    try:
        with transaction.atomic():
            response = getattr(client, row.method)(path, **kwargs)
            raise _Rollback
    except _Rollback:
        pass
    return response


def _url_names() -> set[str]:
    names: set[str] = set()

    def walk(resolver: URLResolver, namespace: str) -> Iterator[str]:
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLResolver):
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                yield from walk(pattern, inner)
            elif isinstance(pattern, URLPattern) and pattern.name:
                yield f"{namespace}{pattern.name}"

    for name in walk(get_resolver(), ""):
        if not name.startswith("admin:"):
            names.add(name)
    return names


def test_every_url_pattern_has_a_matrix_row() -> None:
    missing = _url_names() - {row.name for row in ROWS}
    assert not missing, f"endpoints without a row in the two-lab matrix: {sorted(missing)}"


def _view(me: LabWorld, them: LabWorld, nomember: User) -> World:
    users = dict(me.users, nomember=nomember)
    pages = {}
    for role, user in users.items():
        client = Client()
        client.force_login(user)
        pages[role] = client
    api = {role: _token_client(user) for role, user in users.items()}
    return World(me=me, them=them, users=users, api=api, pages=pages)


@pytest.fixture
def worlds(reference_data: None) -> list[World]:
    """Lab A seen by its users, then lab B by its users: built once for the whole matrix."""
    a, b = _lab_world("a"), _lab_world("b")
    nomember = make_user("nomember")
    return [_view(a, b, nomember), _view(b, a, nomember)]


def test_two_labs_every_role_every_endpoint(worlds: list[World]) -> None:
    wrong: list[str] = []
    for world in worlds:
        wrong += _walk(world)
    assert not wrong, f"{len(wrong)} wrong cell(s):\n" + "\n".join(wrong)


def _walk(world: World) -> list[str]:
    """Every row, object and role of ``world``: the wrong cells."""
    wrong: list[str] = []
    lab = world.me.tag.upper()
    for row in ROWS:
        for kind in row.objects:
            for role in ROLES:
                response = _request(world, row, role, kind)
                expected = row.expect(role, kind)
                got = response.status_code if response is not None else "no answer"
                leak = (
                    row.method == "get"
                    and response is not None
                    and row.name not in {"api:report-pdf", "api:import-file"}
                    and any(word in response.content for word in world.other_lab_words())
                )
                cell = f"{row.method.upper()} {row.name} [{kind}] as lab {lab}'s {role}"
                if leak:
                    wrong.append(f"{cell}: shows the other lab's data")
                if got != expected:
                    wrong.append(f"{cell}: {got}, expected {expected}")
                elif row.check is not None:
                    problem = row.check(response, role, kind)
                    if problem:
                        wrong.append(f"{cell}: {problem}")
    return wrong


def _released_for(world: LabWorld, *, accession: str, mrn: str, clinician: str) -> Panel:
    """A panel of ``world``'s lab for ``mrn``, ordered by ``clinician`` (a new clinician of the
    lab), submitted by its technician and released by its director."""
    make_staff(username=clinician, lab=world.lab, role="clinician")
    payload = _payload(world.tag, accession, mrn, EXAMPLE_PANEL["results"])
    payload["ordering_clinician"] = clinician
    response = _token_client(world.users["technician"]).post(
        "/api/v1/panels/", payload, format="json"
    )
    assert response.status_code == 201, response.json()
    panel = Panel.objects.get(pk=response.json()["id"])
    panel_verify(panel_id=panel.pk, user=world.users["director"])
    panel_release(panel_id=panel.pk, user=world.users["director"])
    return panel


def test_a_clinician_opens_the_panels_of_a_patient_in_their_care_in_their_own_lab_only(
    worlds: list[World],
) -> None:
    # given: in lab A, another clinician's released panel of the patient of ``mine`` (MRN-A,
    # in lab A's clinician's care); in lab B, a released panel of the MRN MRN-A (lab B's own
    # patient, in nobody's care there)
    a, b = worlds[0].me, worlds[0].them
    cared = _released_for(a, accession="A-CARE", mrn="MRN-A", clinician="a.colleague")
    same_mrn = _released_for(b, accession="B-CARE", mrn="MRN-A", clinician="b.colleague")
    final = cared.reports.get(stage="final")
    # then: lab A's clinician opens lab A's panel and its report, not lab B's
    a_clinician = _token_client(a.users["clinician"])
    assert a_clinician.get(f"/api/v1/panels/{cared.pk}/").status_code == 200
    assert a_clinician.get(f"/api/v1/reports/{final.pk}/").status_code == 200
    assert a_clinician.get(f"/api/v1/panels/{same_mrn.pk}/").status_code == 404
    # lab B's clinician opens neither (lab A's is another lab's; lab B's patient is not theirs)
    b_clinician = _token_client(b.users["clinician"])
    for panel in (cared, same_mrn):
        assert b_clinician.get(f"/api/v1/panels/{panel.pk}/").status_code == 404
    # and lab A's clinician's inbox stays the reports addressed to them
    inbox = Client()
    inbox.force_login(a.users["clinician"])
    page = inbox.get("/inbox/").content.decode()
    assert "A-1" in page
    assert "A-CARE" not in page
