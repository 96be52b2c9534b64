"""A report is a record of what was issued: the admin shows it and offers the retry action
(tests/reports/test_dispatch_and_retry.py), and nothing of it can be changed there: its panel,
lab, stage, amendment and corrections stay as the services wrote them."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from reports.models import Report
from reports.services import report_render
from tests.factories import make_lab, make_user

pytestmark = pytest.mark.django_db


def test_the_report_admin_shows_a_report_and_changes_nothing(report: Report) -> None:
    report_render(report_id=report.pk)
    report.refresh_from_db()
    before = {field.attname: getattr(report, field.attname) for field in Report._meta.fields}
    other_lab = make_lab(name="Other lab")
    admin = make_user("admin")
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client = APIClient()
    client.force_login(admin)

    shown = client.get(f"/admin/reports/report/{report.pk}/change/")
    response = client.post(
        f"/admin/reports/report/{report.pk}/change/",
        {"lab": other_lab.pk, "amendment_reason": "rewritten", "corrections": "[]"},
    )

    assert shown.status_code == 200
    assert 'name="_save"' not in shown.content.decode()
    assert response.status_code == 403
    report.refresh_from_db()
    assert {field.attname: getattr(report, field.attname) for field in Report._meta.fields} == (
        before
    )
