"""A report keeps its panel's lab (``Report.lab``), which ``access.reports_scope`` reads for the
lab's staff instead of the panel's: every way a report is made sets it, and PostgreSQL refuses
a report whose lab is not its panel's (migration reports 0011), so a mistake there can never
show one lab's report to another lab."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from rest_framework.test import APIClient

from labpanel.accounts import access
from labpanel.accounts.models import Lab, StaffMember
from panels.models import Panel
from reports.models import Report, ReportStage
from tests.factories import make_lab, make_staff
from tests.reports.test_release import amend, rendered, verify_and_release

pytestmark = pytest.mark.django_db


@pytest.fixture
def other_lab(db: None) -> Lab:
    return make_lab(name="Other lab")


def test_every_report_carries_its_panels_lab(
    technician_client: APIClient,
    panel_payload: dict[str, Any],
    director: StaffMember,
    other_lab: Lab,
) -> None:
    response = technician_client.post("/api/v1/panels/", panel_payload, format="json")
    assert response.status_code == 201, response.json()
    panel = Panel.objects.get(pk=response.json()["id"])
    rendered(panel.reports.get())
    assert amend(technician_client, panel, "1.8").status_code == 201  # before release
    rendered(panel.reports.latest("pk"))
    rendered(verify_and_release(panel, director))
    assert amend(technician_client, panel, "1.9").status_code == 201  # after release

    reports = Report.objects.filter(panel=panel).order_by("pk")
    stages = [report.stage for report in reports]
    assert stages == [
        ReportStage.PRELIMINARY,
        ReportStage.PRELIMINARY,
        ReportStage.FINAL,
        ReportStage.CORRECTED,
    ]
    assert {report.lab_id for report in reports} == {panel.lab_id}
    assert panel.lab_id != other_lab.pk


def test_the_other_labs_staff_see_none_of_them(
    technician_client: APIClient, panel_payload: dict[str, Any], other_lab: Lab
) -> None:
    response = technician_client.post("/api/v1/panels/", panel_payload, format="json")
    assert response.status_code == 201, response.json()
    outsider = make_staff(username="outsider", lab=other_lab, role="technician")

    assert Report.objects.filter(access.reports_scope(outsider.user)).count() == 0
    own = Report.objects.get(panel_id=response.json()["id"])
    assert own.lab_id != other_lab.pk


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the constraint is PostgreSQL's")
def test_postgresql_refuses_a_report_whose_lab_is_not_its_panels(
    technician_client: APIClient, panel_payload: dict[str, Any], other_lab: Lab
) -> None:
    response = technician_client.post("/api/v1/panels/", panel_payload, format="json")
    assert response.status_code == 201, response.json()
    report = Report.objects.get(panel_id=response.json()["id"])

    with connection.cursor() as cursor:  # checked at once, not at the commit
        cursor.execute("SET CONSTRAINTS report_lab_is_panel_lab IMMEDIATE")
    with pytest.raises(IntegrityError, match="report_lab_is_panel_lab"), transaction.atomic():
        Report.objects.filter(pk=report.pk).update(lab_id=other_lab.pk)

    report.refresh_from_db()
    assert report.lab_id != other_lab.pk
