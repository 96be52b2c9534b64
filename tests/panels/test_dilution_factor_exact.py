"""A dilution factor is stored exactly as reported, or refused: the column
(``Result.dilution_factor``) keeps a number of decimal places and digits, and a factor it could
not store exactly (``1.123456``: rounded to 1.1235) is refused with the column's limits, naming
the field, and nothing of the panel is stored. The JSON API and a CSV import row share the
validator (``panels.intake.validation.dilution_factor_clean``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db.models import DecimalField
from rest_framework.test import APIClient

from panels.intake.validation import FieldError, dilution_factor_clean
from panels.models import ImportStatus, Panel, Patient, Result
from tests.imports.test_import_jobs import HEADER, PATIENT_1, upload, validated

pytestmark = pytest.mark.django_db

COLUMN = Result._meta.get_field("dilution_factor")
assert isinstance(COLUMN, DecimalField)
LIMITS = f"at most {COLUMN.decimal_places} decimal places and {COLUMN.max_digits} digits"


@pytest.mark.parametrize("text", ["1.123456", "2.00001", "123456789", "100000000.5"])
def test_a_factor_the_column_cannot_store_exactly_is_refused_with_its_limits(text: str) -> None:
    with pytest.raises(FieldError) as refused:
        dilution_factor_clean(text)

    assert LIMITS in str(refused.value)
    assert text in str(refused.value)


@pytest.mark.parametrize(
    ("text", "value"),
    [("1.1234", "1.1234"), ("2.50000", "2.5"), ("10", "10"), ("99999999.9999", "99999999.9999")],
)
def test_a_factor_the_column_stores_exactly_is_taken_as_reported(text: str, value: str) -> None:
    assert dilution_factor_clean(text) == Decimal(value)


def test_the_json_api_refuses_the_factor_naming_the_field_and_stores_nothing(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    panel_payload["results"][0]["dilution_factor"] = "1.123456"

    response = technician_client.post("/api/v1/panels/", panel_payload, format="json")

    assert response.status_code == 400, response.content
    (detail,) = response.json()["details"]
    assert detail["field"] == "results[0].dilution_factor"
    assert LIMITS in detail["message"]
    assert "1.123456 cannot be stored exactly" in detail["message"]
    assert not Panel.objects.exists()
    assert not Patient.objects.exists()


def test_a_csv_row_with_the_factor_is_refused_naming_the_column_and_nothing_is_stored(
    technician_client: APIClient,
) -> None:
    content = "\n".join(
        [
            f"{HEADER},dilution_factor",
            f"{PATIENT_1},IL-6,12.4,pg/mL,1.123456",
            f"{PATIENT_1},TNFA,<2.0,pg/mL,",
            "",
        ]
    )
    job = validated(upload(technician_client, content))

    assert job.status == ImportStatus.REJECTED
    problems = technician_client.get(f"/api/v1/imports/{job.uuid}/").json()["problems"]
    errors = [p for p in problems if p["severity"] == "error"]
    assert [(p["row"], p["column"], p["code"]) for p in errors] == [
        (2, "dilution_factor", "invalid_dilution")
    ]
    assert LIMITS in errors[0]["message"]
    assert technician_client.post(f"/api/v1/imports/{job.uuid}/commit/").status_code == 409
    assert not Panel.objects.exists()
    assert not Patient.objects.exists()
