"""Patient names in every script, from the JSON API to the stored PDF, and the 400 for a name
the report cannot print (STYLE.md: real database, real storage, real renderer)."""

from __future__ import annotations

import io
import unicodedata
from typing import Any

import hl7
import pytest
from django.core.files.storage import default_storage
from pypdf import PdfReader
from rest_framework.test import APIClient

from labpanel.accounts.models import StaffMember
from panels.models import ImportStatus, Panel, Patient
from reports.models import Report, ReportStatus
from reports.services import report_render
from tests.conftest import token_client
from tests.imports.test_import_jobs import HEADER, upload, validated

pytestmark = pytest.mark.django_db

URL = "/api/v1/panels/"


def _pdf_lines(report: Report) -> list[str]:
    assert report.pdf.name
    with default_storage.open(report.pdf.name) as stored:
        reader = PdfReader(io.BytesIO(stored.read()))
    return [
        unicodedata.normalize("NFKC", line.strip())
        for page in reader.pages
        for line in page.extract_text().splitlines()
        if line.strip()
    ]


@pytest.mark.parametrize(
    ("family", "given"),
    [
        pytest.param("Nguye\u0302\u0303n", "Zoe\u0308", id="latin-combining-accents"),
        pytest.param("Παπαδοπούλου", "Ελένη", id="greek"),
        pytest.param("Иванова", "Анна", id="cyrillic"),
        pytest.param("王", "秀英", id="chinese"),
        pytest.param("山田", "はなこ", id="japanese"),
        pytest.param("김", "민준", id="korean"),
        pytest.param("الزهراء", "فاطمة", id="arabic"),
        pytest.param("כהן", "שרה", id="hebrew"),
    ],
)
def test_name_submitted_in_any_script_is_printed_in_the_report(
    technician_client: APIClient, panel_payload: dict[str, Any], family: str, given: str
) -> None:
    panel_payload["patient"].update(family_name=family, given_name=given)

    response = technician_client.post(URL, panel_payload, format="json")
    assert response.status_code == 201
    report = Report.objects.get(pk=response.json()["report"]["id"])
    report_render(report_id=report.pk)

    report.refresh_from_db()
    assert report.status == ReportStatus.READY
    # the name is stored as sent; the PDF shows it composed (NFC), as NFKC-normalised here
    assert Patient.objects.get().family_name == family
    expected = unicodedata.normalize("NFKC", f"{family}, {given}")
    lines = _pdf_lines(report)
    assert expected in lines
    assert any(line.startswith("Patient:") and expected in line for line in lines)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "family_name",
            "தமிழ்செல்வி",
            "contains characters the report cannot print: U+0BA4 TAMIL LETTER TA, "
            "U+0BAE TAMIL LETTER MA, U+0BBF TAMIL VOWEL SIGN I, U+0BB4 TAMIL LETTER LLLA, "
            "U+0BCD TAMIL SIGN VIRAMA and 4 more (the report prints Latin, Greek, Cyrillic, "
            "Arabic, Hebrew, Chinese, Japanese and Korean script)",
        ),
        (
            "given_name",
            "Jane 🦠",
            "contains characters the report cannot print: U+1F9A0 MICROBE (the report prints "
            "Latin, Greek, Cyrillic, Arabic, Hebrew, Chinese, Japanese and Korean script)",
        ),
        (
            "family_name",
            "Doe\tSmith",
            "contains characters the report cannot print: U+0009 (control character) (the "
            "report prints Latin, Greek, Cyrillic, Arabic, Hebrew, Chinese, Japanese and "
            "Korean script)",
        ),
    ],
)
def test_name_the_report_cannot_print_is_refused_with_a_400_naming_the_field(
    technician_client: APIClient,
    panel_payload: dict[str, Any],
    field: str,
    value: str,
    message: str,
) -> None:
    panel_payload["patient"][field] = value

    response = technician_client.post(URL, panel_payload, format="json")

    assert response.status_code == 400
    assert response.json()["details"] == [{"field": f"patient.{field}", "message": message}]
    assert Panel.objects.count() == 0
    assert Report.objects.count() == 0


# --- HL7 and file imports refuse the same names, at the field or cell -------------------------


def _oru(name: str) -> str:
    return (
        "\r".join(
            [
                "MSH|^~\\&|HIS|GENERAL HOSPITAL|LABPANEL|LAB|20261120103000||ORU^R01^ORU_R01|"
                "MSG-N|P|2.5.1",
                f"PID|1||MRN-N1^^^HOSP^MR||{name}||19800402|F",
                "OBR|1|PL-N-1|N-1|CYTO^Cytokine panel^L|||202611200830+0000||||||||PLAS|dr.house",
                "OBX|1|NM|26881-3^IL-6^LN||12.4|pg/mL|||||F",
            ]
        )
        + "\r"
    )


def _hl7(client: APIClient, message: str) -> Any:
    response = client.post(
        "/api/v1/hl7/",
        data=message.encode(),
        content_type="x-application/hl7-v2+er7; charset=utf-8",
    )
    return hl7.parse(response.content.decode())


def test_hl7_name_in_cjk_is_stored_and_printed(
    reference_data: None, integrator: StaffMember, clinician: StaffMember
) -> None:
    ack = _hl7(token_client(integrator), _oru("山田^はなこ"))

    assert str(ack.segment("MSA")[1]) == "AA"
    report = Report.objects.get()
    report_render(report_id=report.pk)
    report.refresh_from_db()
    assert "山田, はなこ" in _pdf_lines(report)


def test_hl7_name_the_report_cannot_print_is_answered_ae_at_pid_5(
    reference_data: None, integrator: StaffMember, clinician: StaffMember
) -> None:
    ack = _hl7(token_client(integrator), _oru("தமிழ்^Selvi"))

    assert str(ack.segment("MSA")[1]) == "AE"
    errors = [(str(err[2]), str(err[8])) for err in ack.segments("ERR")]
    assert any(
        location.startswith("PID^1^5")
        and "family name contains characters the report cannot print: U+0BA4 TAMIL LETTER TA"
        in text
        for location, text in errors
    ), errors
    assert Panel.objects.count() == 0


def test_import_name_the_report_cannot_print_is_a_problem_at_its_cell(
    technician_client: APIClient,
) -> None:
    content = "\n".join(
        [
            HEADER,
            "I-1,MRN-I1,Doe,Jane 🦠,1980-04-02,female,plasma,2026-11-20T08:30:00Z,dr.house,"
            "IL-6,12.4,pg/mL",
            "",
        ]
    )

    job = validated(upload(technician_client, content))

    assert job.status == ImportStatus.REJECTED
    problems = technician_client.get(f"/api/v1/imports/{job.uuid}/").json()["problems"]
    assert [(p["row"], p["column"], p["code"], p["message"]) for p in problems] == [
        (
            2,
            "given_name",
            "invalid_field",
            "given_name: given name contains characters the report cannot print: "
            "U+1F9A0 MICROBE (the report prints Latin, Greek, Cyrillic, Arabic, Hebrew, "
            "Chinese, Japanese and Korean script)",
        )
    ]
    assert Panel.objects.count() == 0
