"""Review and release on the real stack: a technician POSTs a panel over HTTP, a real Celery
worker on the real Redis broker renders the PRELIMINARY report, the director verifies and
releases, the worker renders the FINAL report, and the clinician reads it. Nothing is mocked.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from pypdf import PdfReader

from labpanel.accounts.models import Role
from labpanel.accounts.services import api_token_issue
from labpanel.events.models import Event, EventKind
from tests.conftest import EXAMPLE_PANEL
from tests.e2e.conftest import http, wait_for
from tests.factories import make_lab, make_staff

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MARK = "PRELIMINARY — not verified/released"


def _ready(url: str, token: str) -> dict[str, Any]:
    report = wait_for(url, token, lambda answer: answer["status"] in ("ready", "failed"))
    assert report["status"] == "ready", report
    return report


def _pdf_pages(url: str, token: str) -> list[str]:
    status, pdf, content_type = http("GET", url, token)
    assert (status, content_type) == (200, "application/pdf")
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def test_a_posted_panel_is_verified_released_and_read_as_a_final_pdf(
    live_server: Any, reference_data: None, celery_worker_on_redis: Any
) -> None:
    # given: a lab with a technician, its director and the ordering clinician
    lab = make_lab(name="Springfield Cytokine Laboratory", address="742 Evergreen Terrace")
    technician = make_staff(username="tech", lab=lab, role=Role.TECHNICIAN)
    director = make_staff(username="director", lab=lab, role=Role.DIRECTOR)
    clinician = make_staff(username="dr.house", lab=lab, role=Role.CLINICIAN)
    tech_token, director_token, clinician_token = (
        api_token_issue(user=staff.user, expires_in=None)
        for staff in (technician, director, clinician)
    )
    api = f"{live_server.url}/api/v1"

    # when: the technician posts the panel; its PRELIMINARY report is rendered
    status, body, _ = http(
        "POST", f"{api}/panels/", tech_token, json.loads(json.dumps(EXAMPLE_PANEL))
    )
    assert status == 201, body
    panel = json.loads(body)
    preliminary = _ready(panel["report"]["url"], tech_token)

    # then: marked on every page, and the clinician sees nothing yet
    assert preliminary["stage"] == "preliminary"
    assert all(text.count(MARK) == 2 for text in _pdf_pages(preliminary["pdf_url"], tech_token))
    assert http("GET", panel["report"]["url"], clinician_token)[0] == 404
    assert http("GET", f"{api}/panels/{panel['id']}/", clinician_token)[0] == 404

    # when: the technician may not verify their own panel; the director verifies and releases
    refused = http("POST", f"{api}/panels/{panel['id']}/verify/", tech_token, {})
    status, body, _ = http(
        "POST", f"{api}/panels/{panel['id']}/verify/", director_token, {"reason": "QC in range"}
    )
    assert status == 200, body
    status, body, _ = http("POST", f"{api}/panels/{panel['id']}/release/", director_token, {})
    assert status == 202, body
    released = json.loads(body)

    # then: the worker renders the FINAL report, which the clinician reads
    assert refused[0] == 403
    assert json.loads(refused[1])["message"].startswith("self-verification is not allowed")
    assert released["review_state"] == "released"
    assert [(h["from_state"], h["to_state"], h["by"]) for h in released["review_history"]] == [
        ("received", "verified", "director"),
        ("verified", "released", "director"),
    ]
    final = _ready(released["report"]["url"], clinician_token)
    assert (final["stage"], final["id"]) == ("final", released["review_history"][1]["report"])
    text = "\n".join(_pdf_pages(final["pdf_url"], clinician_token))
    for expected in ("Final report", "Doe, Jane", "MRN-77", "A-1001", "IL-6", "12.4", "<2.0"):
        assert expected in text, expected
    assert "PRELIMINARY" not in text
    status, body, _ = http("GET", f"{api}/panels/{panel['id']}/", clinician_token)
    assert status == 200
    assert [report["stage"] for report in json.loads(body)["reports"]] == ["final"]
    assert list(Event.objects.filter(panel_id=panel["id"]).values_list("kind", flat=True)) == [
        EventKind.PANEL_STORED,
        EventKind.REPORT_READY,
        EventKind.PANEL_VERIFIED,
        EventKind.PANEL_RELEASED,
        EventKind.REPORT_READY,
    ]
