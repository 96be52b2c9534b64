"""Results in units the engine converts exactly are judged by the rule in the canonical unit.

Through the submission API: the conversion is stored on the result and shown in the answer; an
absurd unit is refused with a 400 naming the field; an arbitrary unit (U/mL) never judges, and is
never judged by, a mass-unit interval.
"""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from panels.models import Panel, Result

pytestmark = pytest.mark.django_db

URL = "/api/v1/panels/"


def post(client: APIClient, payload: dict[str, Any], *results: dict[str, str]) -> Any:
    return client.post(URL, {**payload, "results": list(results)}, format="json")


def test_il6_in_ng_per_l_is_judged_by_the_pg_per_ml_rule_with_the_conversion_shown(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    response = post(
        technician_client, panel_payload, {"analyte": "IL-6", "value": "12.4", "unit": "ng/L"}
    )

    assert response.status_code == 201, response.json()
    il6 = response.json()["results"][0]
    conversion = "12.4 ng/L = 12.4 pg/mL (1 ng/L = 1 pg/mL)"
    assert (il6["value"], il6["unit"]) == ("12.4", "ng/L")
    assert il6["interpretation"] == "H"
    assert il6["reference_interval"] == "≤2.5 pg/mL"
    assert il6["rule"]["key"] == "ARUP-3002601-IL6"
    assert il6["conversion"] == conversion
    assert il6["interpretation_reason"] == (
        f"{conversion}; 12.4 > 2.5 (upper limit, inclusive) — ARUP Laboratories 3002601"
    )
    assert Result.objects.get().conversion == conversion


def test_a_censored_value_in_ng_per_ml_keeps_its_comparator_through_the_conversion(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    response = post(
        technician_client, panel_payload, {"analyte": "TNF-α", "value": "<0.002", "unit": "ng/mL"}
    )

    tnfa = response.json()["results"][0]
    assert tnfa["conversion"] == "<0.002 ng/mL = <2 pg/mL (1 ng/mL = 1000 pg/mL)"
    assert tnfa["interpretation"] == "N"
    assert tnfa["reference_interval"] == "≤14.5 pg/mL"


def test_il1b_in_pmol_per_l_is_converted_with_the_rule_sets_molecular_weight(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    response = post(
        technician_client, panel_payload, {"analyte": "IL-1β", "value": "0.4", "unit": "pmol/L"}
    )

    il1b = response.json()["results"][0]
    assert il1b["interpretation"] == "N"
    assert il1b["reference_interval"] == "≤7.4 pg/mL"
    assert il1b["conversion"] == (
        "0.4 pmol/L = 7.00 pg/mL (1 pmol/L = 17.5 pg/mL, molecular weight 17.5 kDa)"
    )


@pytest.mark.parametrize(
    ("_case", "analyte", "unit"),
    [
        ("IL-6 in mg/L would be a 10^9 error", "IL-6", "mg/L"),
        ("IL-6 has no single molecular weight", "IL-6", "pmol/L"),
        ("CRP in pg/mL", "CRP", "pg/mL"),
        ("a mass-unit cytokine in an arbitrary unit", "TNF-α", "U/mL"),
    ],
)
def test_an_absurd_or_unconvertible_unit_is_refused_naming_the_field_and_nothing_is_stored(
    technician_client: APIClient, panel_payload: dict[str, Any], _case: str, analyte: str, unit: str
) -> None:
    response = post(
        technician_client,
        panel_payload,
        {"analyte": "IL-10", "value": "3.1", "unit": "pg/mL"},
        {"analyte": analyte, "value": "12", "unit": unit},
    )

    assert response.status_code == 400
    body = response.json()
    assert [detail["field"] for detail in body["details"]] == ["results[1].unit"]
    assert f"'{unit}' is not a unit" in body["details"][0]["message"]
    assert Panel.objects.count() == 0
    assert Result.objects.count() == 0


def test_sil2r_in_pg_per_ml_is_never_judged_by_a_u_per_ml_rule(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    # a 5-year-old: only the CCHMC U/mL age bands apply to this patient
    panel_payload["patient"]["birth_date"] = "2021-11-20"

    response = post(
        technician_client,
        panel_payload,
        {"analyte": "sIL-2R", "value": "1500", "unit": "pg/mL"},
    )

    sil2r = response.json()["results"][0]
    assert sil2r["interpretation"] is None
    assert sil2r["rule"] is None
    assert sil2r["conversion"] is None
    assert "U/mL" not in (sil2r["reference_interval"] or "")


def test_sil2r_in_ng_per_ml_is_judged_by_the_pg_per_ml_rule_never_by_the_u_per_ml_one(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    response = post(
        technician_client,
        panel_payload,
        {"analyte": "sIL-2R", "value": "1.5", "unit": "ng/mL"},
    )

    sil2r = response.json()["results"][0]
    assert sil2r["rule"]["key"] == "ARUP-3002601-SIL2R"
    assert sil2r["reference_interval"] == "266.5–1410.4 pg/mL"
    assert sil2r["conversion"] == "1.5 ng/mL = 1500 pg/mL (1 ng/mL = 1000 pg/mL)"
    assert sil2r["interpretation"] == "H"
