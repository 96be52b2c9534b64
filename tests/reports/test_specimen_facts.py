"""CLIA 493.1291(c) on the report (issue 11): the specimen's condition, the method and instrument
of each result, and the time the laboratory itself received the specimen.

Panels go in through the JSON API; the golden texts are read back from the PDF ``report_render``
stored (real database, storage and renderer).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from panels.models import Panel
from reports.models import Report
from tests.reports.test_result_rows import _pdf_lines

pytestmark = pytest.mark.django_db

XPONENT = "Luminex xMAP bead immunoassay (xPONENT export)"


def _post(client: APIClient, payload: dict[str, Any]) -> Report:
    response = client.post("/api/v1/panels/", payload, format="json")
    assert response.status_code == 201, response.json()
    return Report.objects.get(pk=response.json()["report"]["id"])


def _identification(lines: list[str]) -> list[str]:
    start = next(index for index, line in enumerate(lines) if line == "Patient")
    end = next(index for index, line in enumerate(lines) if line.startswith(("⚠", "Results")))
    return lines[start:end]


def test_the_lab_stated_facts_are_stored_returned_and_printed_once_when_shared(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    # given: the lab states when it received the specimen, its condition, and one method and
    # instrument for both results
    panel_payload["specimen"].update(received_at="2026-11-20T09:45:00Z", condition="Hemolyzed")
    for result in panel_payload["results"]:
        result.update(method=XPONENT, instrument="FLEXMAP 3D, SN FM3DX20261120")

    # when
    report = _post(technician_client, panel_payload)

    # then: stored as stated
    panel = Panel.objects.get()
    assert str(panel.received_at) == "2026-11-20 09:45:00+00:00"
    assert panel.specimen_condition == "Hemolyzed"
    assert {(r.method, r.instrument) for r in panel.results.all()} == {
        (XPONENT, "FLEXMAP 3D, SN FM3DX20261120")
    }
    body = technician_client.get(f"/api/v1/panels/{panel.pk}/").json()
    assert body["specimen"] == {
        "type": "plasma",
        "collected_at": "2026-11-20T08:30:00Z",
        "received_at": "2026-11-20T09:45:00Z",
        "condition": "Hemolyzed",
        "is_baseline": False,
    }
    assert [(r["method"], r["instrument"]) for r in body["results"]] == [
        (XPONENT, "FLEXMAP 3D, SN FM3DX20261120")
    ] * 2
    # and printed once, in the identification block (golden text)
    lines = _pdf_lines(report)
    reported = timezone.localtime(report.rendered_at).strftime("%Y-%m-%d %H:%M %Z")
    assert _identification(lines) == [
        *("Patient", "Doe, Jane", "Accession", "A-1001"),
        *("MRN", "MRN-77", "Specimen type", "Plasma"),
        *("Birth date", "1980-04-02", "Specimen condition", "Hemolyzed"),
        *("Sex", "Female", "Collected", "2026-11-20 08:30 UTC"),
        *("Age", "46 years", "Received", "2026-11-20 09:45 UTC"),
        *("Ordering clinician", "dr.house", "Reported", reported),
        *("Method", XPONENT),
        *("Instrument", "FLEXMAP 3D, SN FM3DX20261120"),
    ]
    assert not any(line.startswith("Method:") for line in lines)


def test_results_measured_differently_say_their_method_in_their_row(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    # given: IL-6 on the Luminex, TNF-α by ELISA with no instrument stated
    il6, tnfa = panel_payload["results"]
    il6.update(method=XPONENT, instrument="FLEXMAP 3D, SN FM3DX20261120")
    tnfa.update(method="ELISA")

    lines = _pdf_lines(_post(technician_client, panel_payload))

    # then: no shared line in the block, one line per result under its row (golden text)
    identification = _identification(lines)
    assert not any(line.startswith(("Method", "Instrument")) for line in identification)
    il6_row = lines.index("IL-6")
    assert lines[il6_row : il6_row + 7] == [
        *("IL-6", "12.4", "pg/mL", "≤2.5 pg/mL [a]", "H High"),
        "Note: 12.4 > 2.5 (upper limit, inclusive)",
        f"Method: {XPONENT}; instrument: FLEXMAP 3D, SN FM3DX20261120",
    ]
    tnfa_row = lines.index("TNF-α")
    assert lines[tnfa_row : tnfa_row + 7] == [
        *("TNF-α", "<2.0", "pg/mL", "≤14.5 pg/mL [a]", "Normal"),
        "Note: <2.0: every possible value is within ≤14.5 pg/mL",
        "Method: ELISA; instrument: not stated",
    ]


def test_what_the_lab_did_not_state_is_said_so_never_guessed(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    report = _post(technician_client, panel_payload)

    panel = Panel.objects.get()
    assert panel.received_at is None
    assert panel.specimen_condition == ""
    body = technician_client.get(f"/api/v1/panels/{panel.pk}/").json()
    assert (body["specimen"]["received_at"], body["specimen"]["condition"]) == (None, "")
    text = " ".join(_identification(_pdf_lines(report)))
    entered = timezone.localtime(panel.created_at).strftime("%Y-%m-%d %H:%M %Z")
    assert f"Received not stated by the laboratory (entered into Labpanel {entered})" in text
    assert "Specimen condition not stated" in text
    assert "Method not stated Instrument not stated" in text
