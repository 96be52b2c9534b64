"""The whole path on the real stack: HTTP POST → PostgreSQL → Redis → Celery worker → PDF.

A real Celery worker (``celery.contrib.testing.worker``) consumes this test run's own queue on
the real Redis broker; the panel is posted over HTTP to a live server; the test waits until the
report is ready and reads the PDF's text. Nothing is mocked.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from pypdf import PdfReader

from labpanel.accounts.models import Role
from labpanel.accounts.services import api_token_issue
from tests.conftest import EXAMPLE_PANEL
from tests.e2e.conftest import http, wait_for
from tests.factories import make_lab, make_staff

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

READY_TIMEOUT_SECONDS = 60


def _request(
    method: str, url: str, token: str, body: dict[str, Any] | None = None
) -> tuple[int, bytes, str]:
    return http(method, url, token, body)


def _wait_until_ready(url: str, token: str) -> dict[str, Any]:
    return wait_for(url, token, lambda report: report["status"] in ("ready", "failed"))


def test_posted_panel_becomes_a_pdf_report_with_every_result_and_flag(
    live_server: Any, reference_data: None, celery_worker_on_redis: Any
) -> None:
    # given: a lab with a technician and the ordering clinician
    lab = make_lab(name="Springfield Cytokine Laboratory", address="742 Evergreen Terrace")
    technician = make_staff(username="tech", lab=lab, role=Role.TECHNICIAN)
    make_staff(username="dr.house", lab=lab, role=Role.CLINICIAN, display_name="Dr House")
    token = api_token_issue(user=technician.user, expires_in=None)
    payload = json.loads(json.dumps(EXAMPLE_PANEL))
    payload["results"] = [
        {"analyte": "IL-6", "value": "12.4", "unit": "pg/mL"},
        {"analyte": "TNFA", "value": "<2.0", "unit": "pg/mL"},
        {"analyte": "IL-1β", "value": "7.4", "unit": "pg/mL"},
        {"analyte": "IFN-γ", "value": ">5000", "unit": "pg/mL"},
        # the CCHMC interval is for serum or EDTA plasma; this lab's plasma is heparin plasma
        {"analyte": "sIL-2R", "value": "1500", "unit": "U/mL"},
        {"analyte": "IL-18", "value": "250", "unit": "pg/mL"},  # serum-only interval
    ]

    # when
    status, body, _ = _request("POST", f"{live_server.url}/api/v1/panels/", token, payload)
    assert status == 201, body
    panel = json.loads(body)
    report = _wait_until_ready(panel["report"]["url"], token)

    # then
    assert report["status"] == "ready", report
    status, pdf_bytes, content_type = _request("GET", report["pdf_url"], token)
    assert status == 200
    assert content_type == "application/pdf"
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf_bytes)).pages)
    for expected in (
        "Springfield Cytokine Laboratory",
        "Doe, Jane",
        "MRN-77",
        "1980-04-02",
        "A-1001",
        "IL-6",
        "12.4",
        "TNF-α",
        "<2.0",
        "IL-1β",
        "7.4",
        "IFN-γ",
        ">5000",
        "sIL-2R",
        "1500",
        "U/mL",
        "IL-18",
        "250",
        "High",
        "Normal",
        "Above measuring range",
        "Not interpreted",
    ):
        assert expected in text, (expected, text)
    by_analyte = {result["analyte"]: result for result in panel["results"]}
    assert by_analyte["IL6"]["interpretation"] == "H"
    assert by_analyte["TNFA"]["interpretation"] == "N"
    assert by_analyte["IL1B"]["interpretation"] == "N"
    assert by_analyte["IFNG"]["interpretation"] == ">"
    assert by_analyte["SIL2R"]["interpretation"] is None
    assert by_analyte["SIL2R"]["interpretation_reason"] == (
        "no reference interval for plasma: the interval applies to EDTA plasma, and the lab's "
        "plasma is heparin plasma"
    )
    assert by_analyte["IL18"]["interpretation"] is None


def test_a_panel_posted_twice_gets_one_report(
    live_server: Any, reference_data: None, celery_worker_on_redis: Any
) -> None:
    lab = make_lab()
    technician = make_staff(username="tech", lab=lab, role=Role.TECHNICIAN)
    make_staff(username="dr.house", lab=lab, role=Role.CLINICIAN)
    token = api_token_issue(user=technician.user, expires_in=None)

    first_status, first_body, _ = _request(
        "POST", f"{live_server.url}/api/v1/panels/", token, EXAMPLE_PANEL
    )
    second_status, second_body, _ = _request(
        "POST", f"{live_server.url}/api/v1/panels/", token, EXAMPLE_PANEL
    )
    report = _wait_until_ready(json.loads(first_body)["report"]["url"], token)

    assert (first_status, second_status) == (201, 200)
    assert json.loads(second_body)["report"]["id"] == report["id"]
    assert report["status"] == "ready"
    assert report["attempts"] == 1
