"""Impact preview: a dry run of a candidate set over the stored results, through the API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
import time_machine
from rest_framework.test import APIClient

from panels.models import Patient, Result
from panels.ruleset_impact import ImpactSide, ruleset_impact_preview
from reference_ranges.models import ReferenceRangeSet
from reference_ranges.selectors import ruleset_document_get
from reference_ranges.services import ruleset_import, ruleset_publish
from tests.conftest import token_client
from tests.factories import make_lab
from tests.reference_ranges.helpers import document, rule

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen_clock() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def stored_panels(technician_client: APIClient, panel_payload: dict[str, Any]) -> None:
    """Three panels of one adult patient: IL-6 12.4 (H) with TNF-α <2.0 (N), 1.0 (N), 25 (H)."""
    for accession, results in (
        ("A-1001", panel_payload["results"]),
        ("A-1002", [{"analyte": "IL-6", "value": "1.0", "unit": "pg/mL"}]),
        ("A-1003", [{"analyte": "IL-6", "value": "25", "unit": "pg/mL"}]),
    ):
        response = technician_client.post(
            "/api/v1/panels/",
            {**panel_payload, "accession": accession, "results": results},
            format="json",
        )
        assert response.status_code == 201, response.json()


def il6_high_20(seeded_document: dict[str, Any]) -> dict[str, Any]:
    for item in seeded_document["rules"]:
        if item["key"] == "ARUP-3002601-IL6":
            item["high"] = "20"
            item["published_text"] = "20 pg/mL or less"
    return seeded_document


def test_the_preview_lists_every_interpretation_that_would_change(
    stored_panels: None, director: Any
) -> None:
    # given: the director's draft raises the ARUP IL-6 upper limit from 2.5 to 20 pg/mL
    seeded = ReferenceRangeSet.objects.get(key="labpanel-default", version="2026.1")
    client = token_client(director)
    imported = client.post(
        "/api/v1/rulesets/import/?version=2026.2",
        il6_high_20(ruleset_document_get(ruleset=seeded)),
        format="json",
    )
    draft_id = imported.json()["ruleset"]["id"]
    results_before = list(Result.objects.values())

    # when
    response = client.get(f"/api/v1/rulesets/{draft_id}/impact/")

    # then
    assert response.status_code == 200
    old_interval = {"interval": "≤2.5 pg/mL", "rule_key": "ARUP-3002601-IL6"}
    new_interval = {"interval": "≤20 pg/mL", "rule_key": "ARUP-3002601-IL6"}
    arup = " — ARUP Laboratories 3002601"
    assert response.json() == {
        "ruleset_id": draft_id,
        "key": "labpanel-default",
        "version": "2026.2",
        "lab": "Test Laboratory",
        "panels_examined": 3,
        "results_examined": 4,
        "unchanged": 1,
        "changed": 3,
        "transitions": {"H→H": 1, "H→N": 1, "N→N": 1},
        "examples": [
            {
                "accession": "A-1001",
                "analyte": "IL6",
                "value": "12.4",
                "unit": "pg/mL",
                "old": {
                    "code": "H",
                    **old_interval,
                    "ruleset_version": "2026.1",
                    "reason": "12.4 > 2.5 (upper limit, inclusive)" + arup,
                },
                "new": {
                    "code": "N",
                    **new_interval,
                    "ruleset_version": "2026.2",
                    "reason": "12.4 within ≤20 pg/mL" + arup,
                },
            },
            {
                "accession": "A-1002",
                "analyte": "IL6",
                "value": "1.0",
                "unit": "pg/mL",
                "old": {
                    "code": "N",
                    **old_interval,
                    "ruleset_version": "2026.1",
                    "reason": "1.0 within ≤2.5 pg/mL" + arup,
                },
                "new": {
                    "code": "N",
                    **new_interval,
                    "ruleset_version": "2026.2",
                    # the value as reported ("1.0"), not the stored column's "1.000000"
                    "reason": "1.0 within ≤20 pg/mL" + arup,
                },
            },
            {
                "accession": "A-1003",
                "analyte": "IL6",
                "value": "25",
                "unit": "pg/mL",
                "old": {
                    "code": "H",
                    **old_interval,
                    "ruleset_version": "2026.1",
                    "reason": "25 > 2.5 (upper limit, inclusive)" + arup,
                },
                "new": {
                    "code": "H",
                    **new_interval,
                    "ruleset_version": "2026.2",
                    "reason": "25 > 20 (upper limit, inclusive)" + arup,
                },
            },
        ],
    }
    assert list(Result.objects.values()) == results_before


def test_examples_are_limited_but_counts_are_complete(stored_panels: None, director: Any) -> None:
    seeded = ReferenceRangeSet.objects.get(key="labpanel-default", version="2026.1")
    candidate = ruleset_import(
        document=il6_high_20(ruleset_document_get(ruleset=seeded)),
        created_by=None,
        lab=director.lab,
        version="2026.2",
    ).ruleset

    preview = ruleset_impact_preview(candidate=candidate, limit_examples=1)

    assert (preview.changed, preview.unchanged, len(preview.examples)) == (3, 1, 1)
    assert preview.examples[0].accession == "A-1001"


def test_a_set_without_a_rule_for_an_analyte_shows_flags_that_would_disappear(
    stored_panels: None, director: Any
) -> None:
    candidate = ruleset_import(
        document=document(rule("TNFA-ONLY", analyte="TNFA", high="14.5", min_age=18)),
        created_by=None,
        lab=director.lab,
    ).ruleset

    preview = ruleset_impact_preview(candidate=candidate, limit_examples=0)

    assert preview.transitions == {"H→None": 2, "N→None": 1}
    assert (preview.results_examined, preview.unchanged, preview.examples) == (4, 1, ())


def test_another_labs_panels_are_not_examined(stored_panels: None) -> None:
    candidate = ruleset_import(
        document=document(rule("IL6", high="20")), created_by=None, lab=make_lab(name="Other")
    ).ruleset

    preview = ruleset_impact_preview(candidate=candidate)

    assert (preview.panels_examined, preview.results_examined, preview.changed) == (0, 0, 0)


def test_an_installation_wide_candidate_examines_labs_without_a_set_of_their_own(
    stored_panels: None,
) -> None:
    seeded = ReferenceRangeSet.objects.get(key="labpanel-default", version="2026.1")
    candidate = ruleset_import(
        document=il6_high_20(ruleset_document_get(ruleset=seeded)),
        created_by=None,
        version="2026.2",
    ).ruleset

    preview = ruleset_impact_preview(candidate=candidate)

    assert (preview.lab, preview.panels_examined, preview.changed) == (None, 3, 3)


def test_a_technician_may_not_preview(technician_client: APIClient, technician: Any) -> None:
    candidate = ruleset_import(
        document=document(rule("IL6")), created_by=None, lab=technician.lab
    ).ruleset

    response = technician_client.get(f"/api/v1/rulesets/{candidate.pk}/impact/")

    assert response.status_code == 403


def test_the_preview_judges_a_stored_result_exactly_as_a_submission_under_the_candidate(
    technician_client: APIClient, panel_payload: dict[str, Any], director: Any
) -> None:
    # given: a diluted IL-6 written with a trailing zero, and a draft raising the limit to 20
    panel_payload["results"] = [
        {"analyte": "IL-6", "value": "12000.0", "unit": "pg/mL", "dilution_factor": "10"}
    ]
    assert (
        technician_client.post("/api/v1/panels/", panel_payload, format="json").status_code == 201
    )
    seeded = ReferenceRangeSet.objects.get(key="labpanel-default", version="2026.1")
    candidate = ruleset_import(
        document=il6_high_20(ruleset_document_get(ruleset=seeded)),
        created_by=None,
        lab=director.lab,
        version="2026.2",
    ).ruleset

    # when: previewed, then published and the same result submitted again
    [example] = ruleset_impact_preview(candidate=candidate).examples
    ruleset_publish(ruleset=candidate, published_by=director.user)
    resubmitted = technician_client.post(
        "/api/v1/panels/", {**panel_payload, "accession": "A-2001"}, format="json"
    ).json()["results"][0]

    # then: the preview said what the submission stores, word for word
    assert example.new.reason == resubmitted["interpretation_reason"]
    assert example.new.reason == (
        "12000.0 > 20 (upper limit, inclusive); dilution factor 10 (already applied by the lab "
        "to the reported value) — ARUP Laboratories 3002601"
    )
    assert (example.new.code, resubmitted["interpretation"]) == ("H", "H")


def test_a_panel_stored_as_collected_before_birth_is_judged_without_an_age(
    stored_panels: None, director: Any
) -> None:
    # given: a stored patient whose birth date (corrected later) falls after the collection
    # day, and a draft whose only IL-6 rule is for adults
    Patient.objects.update(birth_date=date(2026, 11, 30))
    candidate = ruleset_import(
        document=document(rule("IL6-ADULT", high="20", min_age=18)),
        created_by=None,
        lab=director.lab,
    ).ruleset

    # when
    preview = ruleset_impact_preview(candidate=candidate, limit_examples=1)

    # then: no age is guessed, so the adults' rule judges nothing (never "normal")
    assert (preview.panels_examined, preview.results_examined) == (3, 4)
    assert preview.transitions == {"H→None": 2, "N→None": 2}
    assert preview.examples[0].new == ImpactSide(
        code=None,
        interval=None,
        rule_key=None,
        ruleset_version="1",
        reason="patient age unknown; intervals are age-partitioned",
    )
