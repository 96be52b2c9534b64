"""The admin shows a director only their own lab's rows (labpanel.accounts.admin.LabRowsAdmin,
scoped by access.admin_rows_scope): two labs, each with a panel (patient, results, report), an
import job, an HL7 message, a bead region, its own rule set and its staff. The directors hold
every view and change permission (an operator's group), so only the scope keeps them apart;
a superuser sees both labs."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.admin.sites import site
from django.contrib.auth.models import Permission, User
from django.db.models import Model
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from labpanel.accounts.models import Lab, Role, StaffMember
from panels.models import BeadRegion, ImportJob, InboundMessage, Panel, Patient, Result
from reference_ranges.models import Analyte, ReferenceRangeRule, ReferenceRangeSet
from reference_ranges.services.critical_limits import lab_critical_ruleset_publish
from reports.models import Report
from tests.conftest import token_client
from tests.factories import make_lab, make_staff

pytestmark = pytest.mark.django_db

SCOPED_MODELS: tuple[type[Model], ...] = (
    Patient,
    Panel,
    Result,
    Report,
    ImportJob,
    InboundMessage,
    BeadRegion,
    ReferenceRangeSet,
    ReferenceRangeRule,
    StaffMember,
    User,
)


@dataclass
class LabRows:
    lab: Lab
    director: StaffMember
    rows: dict[type[Model], Model]


def _lab_rows(lab: Lab, suffix: str, payload: dict[str, Any]) -> LabRows:
    technician = make_staff(username=f"tech.{suffix}", lab=lab, role=Role.TECHNICIAN)
    make_staff(username=f"dr.{suffix}", lab=lab, role=Role.CLINICIAN)
    director = make_staff(username=f"director.{suffix}", lab=lab, role=Role.DIRECTOR)
    ruleset = lab_critical_ruleset_publish(
        lab=lab,
        director=director.user,
        key=f"lab-{suffix}",
        name=f"{lab.name} intervals",
        critical_high={("IL6", "pg/mL"): Decimal("5000")},
        provenance="a local laboratory limit",
    )
    payload = {
        **payload,
        "accession": f"ACC-{suffix}",
        "ordering_clinician": f"dr.{suffix}",
        "patient": {**payload["patient"], "mrn": f"MRN-{suffix}"},
    }
    client: APIClient = token_client(technician)
    answer = client.post("/api/v1/panels/", payload, format="json")
    assert answer.status_code == 201, answer.content
    panel = Panel.objects.get(pk=answer.json()["id"])
    job = ImportJob.objects.create(
        lab=lab,
        created_by=technician.user,
        filename=f"{suffix}.csv",
        file=f"imports/{suffix}.csv",
        size_bytes=10,
    )
    message = InboundMessage.objects.create(
        lab=lab,
        received_by=technician.user,
        transport="http",
        control_id=f"MSG-{suffix}",
        raw=b"MSH|",
        ack_code="AA",
        ack="MSA|AA",
    )
    bead = BeadRegion.objects.create(
        lab=lab,
        region=f"R{suffix}",
        analyte=Analyte.objects.get(code="IL6"),
        created_by=director.user,
    )
    return LabRows(
        lab=lab,
        director=director,
        rows={
            Patient: panel.patient,
            Panel: panel,
            Result: panel.results.order_by("pk")[0],
            Report: panel.reports.get(),
            ImportJob: job,
            InboundMessage: message,
            BeadRegion: bead,
            ReferenceRangeSet: ruleset,
            ReferenceRangeRule: ruleset.rules.order_by("pk")[0],
            StaffMember: technician,
            User: technician.user,
        },
    )


@pytest.fixture
def two_labs(reference_data: None, panel_payload: dict[str, Any]) -> tuple[LabRows, LabRows]:
    first = _lab_rows(make_lab(name="First Laboratory"), "a", panel_payload)
    second = _lab_rows(make_lab(name="Second Laboratory"), "b", panel_payload)
    permissions = Permission.objects.filter(codename__regex=r"^(view|change)_")
    for rows in (first, second):
        user = rows.director.user
        user.is_staff = True  # as access.admin_site_allowed gives directors
        user.save(update_fields=["is_staff"])
        user.user_permissions.set(permissions)
    return first, second


def _browser(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _change_url(row: Model) -> str:
    return f"/admin/{row._meta.app_label}/{row._meta.model_name}/{row.pk}/change/"


def _changelist(client: Client, row: Model) -> str:
    url = f"/admin/{row._meta.app_label}/{row._meta.model_name}/"
    if isinstance(row, ReferenceRangeRule):
        url += f"?ruleset__id__exact={row.ruleset_id}"  # the lab's set, not page 1 of all
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


@pytest.mark.parametrize("model", SCOPED_MODELS, ids=lambda model: model.__name__)
def test_a_director_sees_only_their_own_labs_rows(
    two_labs: tuple[LabRows, LabRows], model: type[Model]
) -> None:
    first, second = two_labs
    mine, theirs = first.rows[model], second.rows[model]
    browser = _browser(first.director.user)

    listed = _changelist(browser, mine)
    other_lab = _changelist(browser, theirs) if model is ReferenceRangeRule else listed

    assert _change_url(mine) in listed
    assert _change_url(theirs) not in other_lab
    assert browser.get(_change_url(mine)).status_code == 200
    # another lab's row does not exist for them: the admin sends them back to its index
    refused = browser.get(_change_url(theirs))
    assert refused.status_code == 302
    assert refused["Location"] == "/admin/"


@pytest.mark.parametrize("model", SCOPED_MODELS, ids=lambda model: model.__name__)
def test_a_superuser_sees_every_labs_rows(
    two_labs: tuple[LabRows, LabRows], model: type[Model]
) -> None:
    superuser = User.objects.create_superuser("root", password="x")
    browser = _browser(superuser)

    for rows in two_labs:
        row = rows.rows[model]
        assert _change_url(row) in _changelist(browser, row)
        assert browser.get(_change_url(row)).status_code == 200


def test_the_lab_filter_offers_only_the_directors_own_lab(
    two_labs: tuple[LabRows, LabRows],
) -> None:
    first, _second = two_labs

    page = _changelist(_browser(first.director.user), first.rows[Panel])

    assert "First Laboratory" in page
    assert "Second Laboratory" not in page


def test_installation_wide_rule_sets_are_read_not_changed_by_a_director(
    two_labs: tuple[LabRows, LabRows],
) -> None:
    first, _second = two_labs
    default = ReferenceRangeSet.objects.get(lab__isnull=True, key="labpanel-default")
    request = RequestFactory().get("/admin/")
    request.user = first.director.user
    set_admin = site._registry[ReferenceRangeSet]

    assert set_admin.get_queryset(request).filter(pk=default.pk).exists()
    assert not set_admin.has_change_permission(request, default)
    assert not set_admin.has_delete_permission(request, default)


def test_staff_without_a_lab_to_direct_see_no_rows(two_labs: tuple[LabRows, LabRows]) -> None:
    first, _second = two_labs
    technician = User.objects.get(username="tech.a")
    technician.is_staff = True  # made staff by hand: still directs no lab
    technician.save(update_fields=["is_staff"])
    technician.user_permissions.set(Permission.objects.filter(codename="view_panel"))

    page = _changelist(_browser(technician), first.rows[Panel])

    assert _change_url(first.rows[Panel]) not in page
    assert "0 panels" in page
