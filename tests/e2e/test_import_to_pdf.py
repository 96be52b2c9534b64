"""A CSV file on the real stack: multipart upload over HTTP → a Celery worker on Redis validates
it → preview → commit → the worker stores it in one transaction → every report becomes a PDF.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from pypdf import PdfReader

from labpanel.accounts.models import Role
from labpanel.accounts.services import api_token_issue
from panels.models import Panel
from tests.e2e.conftest import http, multipart, wait_for
from tests.factories import make_lab, make_staff

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CSV = (
    "accession,mrn,family_name,given_name,birth_date,sex,specimen_type,collected_at,"
    "ordering_clinician,analyte,value,unit\r\n"
    "F-1,MRN-F1,Doe,Jane,1980-04-02,female,plasma,2026-11-20T08:30:00Z,dr.house,IL-6,148.2,pg/mL\r\n"
    "F-1,MRN-F1,Doe,Jane,1980-04-02,female,plasma,2026-11-20T08:30:00Z,dr.house,TNFA,<2.0,pg/mL\r\n"
    "F-2,MRN-F2,Roe,Rick,1975-01-31,male,plasma,2026-11-20T09:00:00Z,dr.house,IL-6,3.1,pg/mL\r\n"
    "F-2,MRN-F2,Roe,Rick,1975-01-31,male,plasma,2026-11-20T09:00:00Z,dr.house,IFN-γ,>5000,pg/mL\r\n"
)


def test_an_uploaded_csv_is_previewed_committed_and_reported(
    live_server: Any, reference_data: None, celery_worker_on_redis: Any
) -> None:
    lab = make_lab(name="Springfield Cytokine Laboratory")
    technician = make_staff(username="lab.tech", lab=lab, role=Role.TECHNICIAN)
    make_staff(username="dr.house", lab=lab, role=Role.CLINICIAN)
    token = api_token_issue(user=technician.user, expires_in=None)
    body, content_type = multipart({"file": ("plate-7.csv", CSV.encode())})

    status, answer, _ = http(
        "POST", f"{live_server.url}/api/v1/imports/", token, body, content_type
    )
    assert status == 202, answer
    job = json.loads(answer)
    job = wait_for(job["links"]["self"], token, lambda j: j["status"] != "validating")
    assert job["status"] == "preview", job
    assert Panel.objects.count() == 0
    status, answer, _ = http("GET", job["links"]["preview"], token)
    preview = json.loads(answer)
    assert [panel["accession"] for panel in preview["panels"]] == ["F-1", "F-2"]
    il6 = next(r for r in preview["panels"][0]["results"] if r["analyte"] == "IL6")
    assert (il6["value"], il6["interpretation"]) == ("148.2", "H")

    status, answer, _ = http("POST", job["links"]["commit"], token, b"", "application/json")
    assert status == 202, answer
    job = wait_for(job["links"]["self"], token, lambda j: j["status"] != "committing")
    assert job["status"] == "committed", job

    for accession, expected in (("F-1", ("148.2", "<2.0")), ("F-2", ("3.1", ">5000"))):
        panel_id = Panel.objects.get(accession=accession).pk
        status, answer, _ = http("GET", f"{live_server.url}/api/v1/panels/{panel_id}/", token)
        panel = json.loads(answer)
        report = wait_for(
            panel["report"]["url"], token, lambda r: r["status"] in ("ready", "failed")
        )
        assert report["status"] == "ready", report
        status, pdf, content_type = http("GET", report["pdf_url"], token)
        assert (status, content_type) == (200, "application/pdf")
        text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
        assert accession in text
        for value in expected:
            assert value in text
