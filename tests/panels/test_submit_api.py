"""POST /api/v1/panels/: the submission contract, through URLs with real token auth."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from rest_framework.test import APIClient

from panels.models import Panel, Patient, Result
from reports.models import Report
from reports.tasks import render_report_pdf_task

pytestmark = pytest.mark.django_db

URL = "/api/v1/panels/"


def assert_nothing_stored() -> None:
    assert Panel.objects.count() == 0
    assert Patient.objects.count() == 0
    assert Result.objects.count() == 0
    assert Report.objects.count() == 0


def post(client: APIClient, payload: dict[str, Any]) -> Any:
    return client.post(URL, payload, format="json")


def test_example_panel_is_stored_interpreted_and_its_report_requested(
    technician_client: APIClient,
    panel_payload: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    # when
    with (
        mock.patch.object(render_report_pdf_task, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = post(technician_client, panel_payload)

    # then
    assert response.status_code == 201
    body = response.json()
    report = Report.objects.get()
    delay.assert_called_once_with(report.pk)
    assert body["accession"] == "A-1001"
    assert body["patient"] == {
        "mrn": "MRN-77",
        "family_name": "Doe",
        "given_name": "Jane",
        "birth_date": "1980-04-02",
        "sex": "female",
    }
    assert body["specimen"]["type"] == "plasma"
    assert body["specimen"]["collected_at"] == "2026-11-20T08:30:00Z"
    assert body["ordering_clinician"] == "dr.house"
    assert body["ruleset"] == {
        "key": "labpanel-default",
        "name": "Labpanel default cytokine intervals",
        "version": "2026.1",
    }
    assert body["flagged"] is True
    il6, tnfa = body["results"]
    assert {k: il6[k] for k in ("analyte", "analyte_name", "value", "comparator", "unit")} == {
        "analyte": "IL6",
        "analyte_name": "IL-6",
        "value": "12.4",
        "comparator": "",
        "unit": "pg/mL",
    }
    assert il6["interpretation"] == "H"
    assert il6["reference_interval"] == "≤2.5 pg/mL"
    assert il6["rule"]["key"] == "ARUP-3002601-IL6"
    assert il6["rule"]["ruleset_version"] == "2026.1"
    assert il6["rule"]["source"] == "ARUP Laboratories"
    assert il6["rule"]["verified"] is True
    assert tnfa["analyte"] == "TNFA"
    assert tnfa["analyte_name"] == "TNF-α"
    assert tnfa["raw_value"] == "<2.0"
    assert tnfa["value"] == "2.0"
    assert tnfa["comparator"] == "<"
    assert tnfa["interpretation"] == "N"
    assert tnfa["reference_interval"] == "≤14.5 pg/mL"
    assert body["report"] == {
        "id": report.pk,
        "status": "pending",
        "stage": "preliminary",
        "amends": None,
        "url": f"http://testserver/api/v1/reports/{report.pk}/",
        "pdf_url": f"http://testserver/api/v1/reports/{report.pk}/pdf/",
    }


def test_values_keep_their_reported_decimals_and_comparators(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    panel_payload["results"] = [
        {"analyte": "IL-6", "value": "12.40", "unit": "pg/mL"},
        {"analyte": "IL-10", "value": ">5000", "unit": "pg/mL"},
        {"analyte": "IL-8", "value": "≤0.8", "unit": "pg/mL"},
        {"analyte": "IL-2", "value": "0.000001", "unit": "pg/mL"},
    ]

    response = post(technician_client, panel_payload)

    assert response.status_code == 201
    stored = {r.analyte.code: r for r in Result.objects.select_related("analyte")}
    assert stored["IL6"].value_text == "12.40"
    assert stored["IL10"].value_text == ">5000"
    assert stored["IL10"].interpretation == ">"
    assert stored["IL8"].value_text == "<=0.8"
    assert stored["IL8"].raw_value == "≤0.8"
    assert stored["IL8"].interpretation == "N"
    assert stored["IL2"].value_text == "0.000001"


@pytest.mark.parametrize(
    ("_case", "name", "code"),
    [
        ("catalogue code", "IL6", "IL6"),
        ("alias with hyphen", "IL-6", "IL6"),
        ("full name", "Interleukin-6", "IL6"),
        ("LOINC code", "26881-3", "IL6"),
        ("Greek alias", "IL-1β", "IL1B"),
        ("case-insensitive", "tnf-α", "TNFA"),
    ],
)
def test_analyte_may_be_named_by_code_loinc_or_alias(
    technician_client: APIClient, panel_payload: dict[str, Any], _case: str, name: str, code: str
) -> None:
    panel_payload["results"] = [{"analyte": name, "value": "1.0", "unit": "pg/mL"}]

    response = post(technician_client, panel_payload)

    assert response.status_code == 201
    assert response.json()["results"][0]["analyte"] == code
    assert response.json()["results"][0]["analyte_as_received"] == name


def test_identical_resubmission_returns_the_stored_panel_without_a_second_report(
    technician_client: APIClient,
    panel_payload: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    first = post(technician_client, panel_payload)
    reordered = dict(panel_payload, results=list(reversed(panel_payload["results"])))

    with (
        mock.patch.object(render_report_pdf_task, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        again = post(technician_client, reordered)

    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["report"]["id"] == first.json()["report"]["id"]
    assert Panel.objects.count() == 1
    assert Report.objects.count() == 1
    delay.assert_not_called()


def test_same_accession_with_different_content_is_a_conflict(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    post(technician_client, panel_payload)
    panel_payload["results"][0]["value"] = "12.5"

    response = post(technician_client, panel_payload)

    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert response.json()["details"] == [
        {"field": "accession", "message": "already used with different content"}
    ]
    assert Result.objects.get(analyte__code="IL6").raw_value == "12.4"


def test_known_mrn_with_different_demographics_is_refused(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    post(technician_client, panel_payload)
    panel_payload["accession"] = "A-1002"
    panel_payload["patient"]["birth_date"] = "1981-04-02"

    response = post(technician_client, panel_payload)

    assert response.status_code == 409
    assert response.json()["details"] == [
        {"field": "patient.birth_date", "message": "differs from the registered patient"}
    ]
    assert Panel.objects.count() == 1


def test_second_panel_of_a_known_patient_reuses_the_patient(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    post(technician_client, panel_payload)
    panel_payload["accession"] = "A-1002"

    response = post(technician_client, panel_payload)

    assert response.status_code == 201
    assert Patient.objects.count() == 1
    assert Panel.objects.count() == 2


BAD_INPUTS = [
    (
        "unknown analyte",
        lambda p: p["results"][0].update(analyte="IL-99"),
        [{"field": "results[0].analyte", "message": "unknown analyte 'IL-99'"}],
    ),
    (
        "non-numeric value",
        lambda p: p["results"][1].update(value="high"),
        [
            {
                "field": "results[1].value",
                "message": "'high' is not a number in the lab's notation (e.g. 12.4, <1.5, >5000)",
            }
        ],
    ),
    (
        "negative value",
        lambda p: p["results"][0].update(value="-3"),
        [
            {
                "field": "results[0].value",
                "message": "'-3' is negative; a concentration cannot be below zero",
            }
        ],
    ),
    (
        "decimal comma",
        lambda p: p["results"][0].update(value="12,4"),
        [
            {
                "field": "results[0].value",
                "message": "'12,4' contains a comma; write decimals with '.' and no "
                "thousands separator",
            }
        ],
    ),
    (
        "too many decimals to store without rounding",
        lambda p: p["results"][0].update(value="1.1234567"),
        [
            {
                "field": "results[0].value",
                "message": "'1.1234567' has 7 decimal places; at most 6 are stored and the "
                "value is never rounded",
            }
        ],
    ),
    (
        "value sent as a JSON number",
        lambda p: p["results"][0].update(value=12.4),
        [
            {
                "field": "results[0].value",
                "message": 'must be a JSON string in the lab\'s notation, e.g. "12.4" or "<1.5"',
            }
        ],
    ),
    (
        "unit that does not match the analyte",
        lambda p: p["results"][0].update(unit="mg/L"),
        [
            {
                "field": "results[0].unit",
                "message": "'mg/L' is not a unit IL-6 is reported in (allowed: pg/mL, ng/L, "
                "ng/mL); other units are refused, never guessed",
            }
        ],
    ),
    (
        "missing result field",
        lambda p: p["results"][1].pop("unit"),
        [{"field": "results[1].unit", "message": "This field is required."}],
    ),
    (
        "missing patient field",
        lambda p: p["patient"].pop("mrn"),
        [{"field": "patient.mrn", "message": "This field is required."}],
    ),
    (
        "missing accession",
        lambda p: p.pop("accession"),
        [{"field": "accession", "message": "This field is required."}],
    ),
    (
        "no results",
        lambda p: p.update(results=[]),
        [{"field": "results", "message": "This list may not be empty."}],
    ),
    (
        "impossible birth date",
        lambda p: p["patient"].update(birth_date="1980-02-30"),
        [{"field": "patient.birth_date", "message": "not a real date; use YYYY-MM-DD"}],
    ),
    (
        "impossible collection time",
        lambda p: p["specimen"].update(collected_at="2026-02-30T08:30:00Z"),
        [{"field": "specimen.collected_at", "message": "not a real date and time"}],
    ),
    (
        "collection time without offset",
        lambda p: p["specimen"].update(collected_at="2026-11-20T08:30:00"),
        [
            {
                "field": "specimen.collected_at",
                "message": "timestamp has no UTC offset; add one (e.g. 'Z' or '+01:00')",
            }
        ],
    ),
    (
        "collection before birth",
        lambda p: p["patient"].update(birth_date="2026-11-21"),
        [
            {
                "field": "specimen.collected_at",
                "message": "collected before the patient's birth date",
            }
        ],
    ),
    (
        "received before collection",
        lambda p: p["specimen"].update(received_at="2026-11-20T08:29:00Z"),
        [
            {
                "field": "specimen.received_at",
                "message": "received before the specimen was collected",
            }
        ],
    ),
    (
        "received in the future",
        lambda p: p["specimen"].update(received_at="2099-11-20T08:30:00Z"),
        [{"field": "specimen.received_at", "message": "receipt time is in the future"}],
    ),
    (
        "received time without offset",
        lambda p: p["specimen"].update(received_at="2026-11-20T09:30:00"),
        [
            {
                "field": "specimen.received_at",
                "message": "timestamp has no UTC offset; add one (e.g. 'Z' or '+01:00')",
            }
        ],
    ),
    (
        "clinician not found",
        lambda p: p.update(ordering_clinician="dr.nobody"),
        [{"field": "ordering_clinician", "message": "clinician 'dr.nobody' not found in this lab"}],
    ),
    (
        "same analyte twice",
        lambda p: p["results"][1].update(analyte="IL6"),
        [{"field": "results[1].analyte", "message": "IL6 is already reported at results[0]"}],
    ),
    (
        "unknown specimen type",
        lambda p: p["specimen"].update(type="urine"),
        [{"field": "specimen.type", "message": '"urine" is not a valid choice.'}],
    ),
]


@pytest.mark.parametrize(("_case", "mutate", "details"), BAD_INPUTS)
def test_invalid_submission_names_the_offending_field_and_stores_nothing(
    technician_client: APIClient,
    panel_payload: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
    _case: str,
    mutate: Any,
    details: list[dict[str, str]],
) -> None:
    mutate(panel_payload)

    with django_capture_on_commit_callbacks() as callbacks:
        response = post(technician_client, panel_payload)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["details"] == details
    assert callbacks == []
    assert_nothing_stored()


def test_every_offending_result_is_named_in_one_answer(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    panel_payload["results"] = [
        {"analyte": "IL-6", "value": "abc", "unit": "pg/mL"},
        {"analyte": "IL-10", "value": "3.1", "unit": "pg/mL"},
        {"analyte": "NOPE", "value": "-1", "unit": "pg/mL"},
    ]
    panel_payload["ordering_clinician"] = "dr.nobody"

    response = post(technician_client, panel_payload)

    assert response.status_code == 400
    assert [item["field"] for item in response.json()["details"]] == [
        "ordering_clinician",
        "results[0].value",
        "results[2].analyte",
        "results[2].value",
    ]
    assert_nothing_stored()


def test_no_range_applies_when_the_birth_date_is_unknown(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    panel_payload["patient"]["birth_date"] = None

    response = post(technician_client, panel_payload)

    assert response.status_code == 201
    il6 = response.json()["results"][0]
    assert il6["interpretation"] is None
    assert il6["reference_interval"] is None
    assert il6["rule"] is None
    assert "age unknown" in il6["interpretation_reason"]


def test_child_gets_no_adult_range_but_the_cchmc_age_band_in_u_per_ml(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    panel_payload["patient"]["birth_date"] = "2021-11-20"  # 5 years old at collection
    # EDTA plasma: the CCHMC interval's specimen (the lab's generic plasma is heparin plasma)
    panel_payload["specimen"]["type"] = "plasma_edta"
    panel_payload["results"] = [
        {"analyte": "IL-6", "value": "12.4", "unit": "pg/mL"},
        {"analyte": "sIL-2R", "value": "1500", "unit": "U/mL"},
    ]

    response = post(technician_client, panel_payload)

    il6, sil2r = response.json()["results"]
    assert il6["interpretation"] is None
    assert il6["rule"] is None
    assert sil2r["interpretation"] == "H"
    assert sil2r["reference_interval"] == "144–1329 U/mL"
    assert sil2r["rule"]["key"] == "CCHMC-SIL2R-U-3-7Y"


def test_a_u_per_ml_interval_never_judges_a_pg_per_ml_value(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    panel_payload["patient"]["birth_date"] = "2021-11-20"
    panel_payload["results"] = [{"analyte": "sIL-2R", "value": "1500", "unit": "pg/mL"}]

    response = post(technician_client, panel_payload)

    sil2r = response.json()["results"][0]
    assert sil2r["interpretation"] is None
    assert sil2r["rule"] is None


def test_dilution_factor_is_stored_and_named_in_the_reason(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    panel_payload["results"] = [
        {"analyte": "IL-6", "value": "12000", "unit": "pg/mL", "dilution_factor": "10"}
    ]

    response = post(technician_client, panel_payload)

    assert response.status_code == 201
    il6 = response.json()["results"][0]
    assert il6["dilution_factor"] == "10"
    assert il6["value"] == "12000"
    assert il6["interpretation"] == "H"
    assert "10" in il6["interpretation_reason"]
    assert "dilut" in il6["interpretation_reason"]
