"""/api/v1/rulesets/: reading, export, import, publishing and the impact preview, through URLs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
import yaml
from rest_framework.test import APIClient

from labpanel.accounts.models import Lab, Role, StaffMember
from reference_ranges.models import ReferenceRangeSet, RuleSetStatus
from reference_ranges.selectors import ruleset_document_get, ruleset_get_active
from reference_ranges.services import ruleset_import
from tests.conftest import token_client
from tests.factories import make_lab, make_staff
from tests.reference_ranges.helpers import document, rule

pytestmark = pytest.mark.django_db
URL = "/api/v1/rulesets/"
NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen_clock() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def seeded(reference_data: None) -> ReferenceRangeSet:
    return ReferenceRangeSet.objects.get(key="labpanel-default", version="2026.1")


@pytest.fixture
def director_client(reference_data: None, director: StaffMember) -> APIClient:
    return token_client(director)


@pytest.fixture
def other_lab_set(reference_data: None) -> ReferenceRangeSet:
    other_lab = make_lab(name="Other Laboratory")
    return ruleset_import(
        document=document(rule("OTHER-IL6"), key="other-set"), created_by=None, lab=other_lab
    ).ruleset


def post_document(client: APIClient, doc: Any, **extra: Any) -> Any:
    return client.post(f"{URL}import/", doc, format="json", **extra)


def test_lab_staff_read_their_labs_and_the_installation_sets_with_rules(
    technician_client: APIClient, seeded: ReferenceRangeSet, other_lab_set: ReferenceRangeSet
) -> None:
    response = technician_client.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    (listed,) = body["results"]
    assert {key: value for key, value in listed.items() if key != "rules"} == {
        "id": seeded.pk,
        "key": "labpanel-default",
        "name": "Labpanel default cytokine intervals",
        "version": "2026.1",
        "panel_type": "cytokine",
        "lab": None,
        "status": "active",
        "description": seeded.description,
        "effective_from": "2026-11-26",
        "published_at": listed["published_at"],
        "published_by": None,
        "created_by": None,
        "retired_at": None,
        "superseded_by": None,
        "export_url": f"http://testserver/api/v1/rulesets/{seeded.pk}/export/",
    }
    assert len(listed["rules"]) == 18
    assert listed["rules"][8] == {
        "key": "ARUP-3002601-IL6",
        "analyte": "IL6",
        "unit": "pg/mL",
        "low": None,
        "low_inclusive": True,
        "high": "2.5",
        "high_inclusive": True,
        "critical_low": None,
        "critical_high": None,
        "sex": None,
        "age_unit": "years",
        "min_age": 18,
        "max_age": None,
        "specimen_types": ["plasma", "plasma_heparin"],
        "source": "ARUP Laboratories",
        "test_code": "3002601",
        "test_name": "Cytokine Panel 13, Plasma",
        "method": "Quantitative multiplex bead assay",
        "citation": "ARUP Laboratories test directory, Cytokine Panel 13, Plasma (3002601), "
        "current reference intervals",
        "verified": True,
        "published_text": "2.5 pg/mL or less",
        "note": "Adult intervals (specimen: lithium heparin plasma); no pediatric interval is "
        "published.",
    }
    assert technician_client.get(f"{URL}{seeded.pk}/").json() == listed


def test_the_list_reads_sets_and_rules_in_a_fixed_number_of_queries(
    technician_client: APIClient,
    seeded: ReferenceRangeSet,
    technician: StaffMember,
    django_assert_num_queries: Any,
) -> None:
    for version in ("2", "3"):
        ruleset_import(
            document=document(rule("IL6"), version=version), created_by=None, lab=technician.lab
        )

    # the token with its user and membership (one statement), count, sets, rules: not one
    # per set
    with django_assert_num_queries(4):
        response = technician_client.get(URL)

    assert [item["version"] for item in response.json()["results"]] == ["2026.1", "3", "2"]


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("get", ""), ("get", "export/"), ("post", "publish/"), ("get", "impact/")],
)
def test_another_labs_set_is_not_found(
    director_client: APIClient, other_lab_set: ReferenceRangeSet, method: str, suffix: str
) -> None:
    response = getattr(director_client, method)(f"{URL}{other_lab_set.pk}/{suffix}")

    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "Not found.", "details": []}
    other_lab_set.refresh_from_db()
    assert other_lab_set.status == RuleSetStatus.DRAFT


def test_a_clinician_sees_no_sets(
    reference_data: None, clinician: StaffMember, seeded: ReferenceRangeSet
) -> None:
    client = token_client(clinician)

    assert client.get(URL).json()["count"] == 0
    assert client.get(f"{URL}{seeded.pk}/").status_code == 404


@pytest.mark.parametrize(
    ("query", "content_type", "filename", "load"),
    [
        ("", "application/yaml", "labpanel-default-2026.1.yaml", yaml.safe_load),
        ("?format=yaml", "application/yaml", "labpanel-default-2026.1.yaml", yaml.safe_load),
        ("?format=json", "application/json", "labpanel-default-2026.1.json", json.loads),
    ],
)
def test_export_returns_the_documented_format(
    technician_client: APIClient,
    seeded: ReferenceRangeSet,
    query: str,
    content_type: str,
    filename: str,
    load: Any,
) -> None:
    response = technician_client.get(f"{URL}{seeded.pk}/export/{query}")

    assert response.status_code == 200
    assert response["Content-Type"] == f"{content_type}; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="{filename}"'
    assert load(response.content.decode()) == ruleset_document_get(ruleset=seeded)


def test_a_director_imports_a_draft_for_their_lab(
    director_client: APIClient, director: StaffMember, seeded: ReferenceRangeSet
) -> None:
    doc = ruleset_document_get(ruleset=seeded)

    response = post_document(director_client, doc, QUERY_STRING="version=2026.2")

    assert response.status_code == 201
    body = response.json()
    draft = ReferenceRangeSet.objects.get(version="2026.2")
    assert (draft.status, draft.lab, draft.created_by) == (
        RuleSetStatus.DRAFT,
        director.lab,
        director.user,
    )
    assert body["ruleset"]["id"] == draft.pk
    assert body["ruleset"]["lab"] == {"id": director.lab.pk, "name": "Test Laboratory"}
    assert (body["ruleset"]["status"], body["ruleset"]["created_by"]) == ("draft", "director")
    assert len(body["ruleset"]["rules"]) == 18
    assert body["warnings"] == [
        {
            "rule": None,
            "field": "ruleset.effective_from",
            "message": "not used: a set takes effect on the day a director publishes it",
        }
    ]


def test_a_director_may_import_yaml_text(
    director_client: APIClient, seeded: ReferenceRangeSet
) -> None:
    text = yaml.safe_dump(document(rule("IL6-ADULT", min_age=18, high="3.25")))

    response = director_client.post(f"{URL}import/", text.encode(), content_type="application/yaml")

    assert response.status_code == 201
    assert response.json()["ruleset"]["rules"][0]["high"] == "3.25"
    assert response.json()["warnings"] == []


@pytest.mark.parametrize("role", [Role.TECHNICIAN, Role.INTEGRATOR, Role.CLINICIAN])
def test_only_a_director_may_import(lab: Lab, seeded: ReferenceRangeSet, role: str) -> None:
    client = token_client(make_staff(username=f"staff-{role}", lab=lab, role=role))

    response = post_document(client, document(rule("IL6")))

    assert response.status_code == 403
    assert response.json() == {
        "code": "permission_denied",
        "message": "only a lab director may import or publish reference range sets",
        "details": [],
    }
    assert ReferenceRangeSet.objects.count() == 1


def test_an_import_reports_every_problem_at_once(
    director_client: APIClient, seeded: ReferenceRangeSet
) -> None:
    # given: one document with ten problems of eight kinds
    doc = document(
        rule("IL99-RULE", analyte="IL99"),
        rule("IL6-NG", unit="mg/L"),
        rule("IL10-BACKWARDS", analyte="IL10", low="5", low_inclusive=True, high="2"),
        rule("IL8-CRITICAL", analyte="IL8", high="9.4", critical_high="5"),
        rule("IL4-NO-SOURCE", analyte="IL4", source=""),
        rule("IL5-ODD", analyte="IL5", sex="x", age_unit="months", specimen_types=["urine"]),
        rule("IL6-NG", analyte="IL2"),
        rule("IL6-ADULT", min_age=18),
        rule("IL6-OLDER", min_age=65, high="3"),
        version="2026.2",
    )

    # when
    response = post_document(director_client, doc)

    # then
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "message": "the reference range set has 10 problems",
        "details": [
            {
                "rule": "IL99-RULE",
                "field": "analyte",
                "message": "unknown analyte 'IL99'; use a catalogue code",
            },
            {
                "rule": "IL6-NG",
                "field": "unit",
                "message": "'mg/L' is not a unit IL6 is reported in (allowed: pg/mL, ng/L, ng/mL)",
            },
            {"rule": "IL10-BACKWARDS", "field": "low", "message": "low 5 is above high 2"},
            {
                "rule": "IL8-CRITICAL",
                "field": "critical_high",
                "message": "critical high 5 is below the high limit 9.4",
            },
            {"rule": "IL4-NO-SOURCE", "field": "source", "message": "required"},
            {
                "rule": "IL5-ODD",
                "field": "sex",
                "message": "unknown sex 'x'; use one of female, male, other, unknown",
            },
            {
                "rule": "IL5-ODD",
                "field": "age_unit",
                "message": "unknown age_unit 'months'; use one of days, years",
            },
            {
                "rule": "IL5-ODD",
                "field": "specimen_types",
                "message": "unknown specimen type 'urine'; use csf, plasma, plasma_citrate, "
                "plasma_edta, plasma_heparin, serum",
            },
            {
                "rule": "rules[6]",
                "field": "key",
                "message": "duplicate key 'IL6-NG' (first used by rules[1])",
            },
            {
                "rule": "IL6-OLDER",
                "field": "partition",
                "message": "overlaps rule IL6-ADULT for IL6 in pg/mL (any sex, any specimen, "
                "ages ≥65 years): both would apply to one patient",
            },
        ],
    }
    assert ReferenceRangeSet.objects.count() == 1


def test_an_unreadable_body_is_a_parse_error(director_client: APIClient) -> None:
    response = director_client.post(
        f"{URL}import/", b"ruleset: [unclosed", content_type="application/yaml"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert response.json()["message"].startswith("not valid YAML: ")


def test_a_director_publishes_their_labs_draft_and_the_next_version_retires_it(
    director_client: APIClient, director: StaffMember, seeded: ReferenceRangeSet
) -> None:
    first = post_document(director_client, document(rule("IL6"), version="1")).json()["ruleset"]
    second = post_document(director_client, document(rule("IL6"), version="2")).json()["ruleset"]

    response = director_client.post(f"{URL}{first['id']}/publish/", {}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["retired"] is None
    assert body["warnings"] == []
    assert {key: body["ruleset"][key] for key in ("status", "effective_from", "published_by")} == {
        "status": "active",
        "effective_from": "2026-12-01",
        "published_by": "director",
    }
    assert body["ruleset"]["published_at"] == "2026-12-01T09:30:00Z"

    response = director_client.post(
        f"{URL}{second['id']}/publish/", {"effective_from": "2026-12-01"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["retired"] == {"id": first["id"], "key": "test-set", "version": "1"}
    retired = director_client.get(f"{URL}{first['id']}/").json()
    assert (retired["status"], retired["retired_at"], retired["superseded_by"]) == (
        "retired",
        "2026-12-01T09:30:00Z",
        {"id": second["id"], "key": "test-set", "version": "2"},
    )
    assert ruleset_get_active(lab=director.lab).pk == second["id"]  # type: ignore[union-attr]
    assert ruleset_get_active() == seeded


def test_a_future_effective_date_is_refused(director_client: APIClient) -> None:
    draft = post_document(director_client, document(rule("IL6"))).json()["ruleset"]

    response = director_client.post(
        f"{URL}{draft['id']}/publish/", {"effective_from": "2027-01-01"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["details"] == [
        {
            "rule": None,
            "field": "effective_from",
            "message": "publishing takes effect immediately; a future effective date "
            "(2027-01-01) cannot be scheduled — publish on that day instead",
        }
    ]
    assert ReferenceRangeSet.objects.get(pk=draft["id"]).status == RuleSetStatus.DRAFT


def test_a_technician_cannot_publish(technician_client: APIClient, technician: StaffMember) -> None:
    draft = ruleset_import(document=document(rule("IL6")), created_by=None, lab=technician.lab)

    response = technician_client.post(f"{URL}{draft.ruleset.pk}/publish/", {}, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert ReferenceRangeSet.objects.get(pk=draft.ruleset.pk).status == RuleSetStatus.DRAFT


def test_the_installation_wide_set_is_not_published_through_the_api(
    director_client: APIClient, seeded: ReferenceRangeSet
) -> None:
    draft = ruleset_import(document=document(rule("IL6")), created_by=None)

    response = director_client.post(f"{URL}{draft.ruleset.pk}/publish/", {}, format="json")

    assert response.status_code == 403
    assert response.json()["message"] == (
        "installation-wide reference range sets are managed by the installation's operator "
        "(manage.py ruleset_import / ruleset_publish), not through the API"
    )
    assert ruleset_get_active() == seeded


def test_publishing_a_published_set_is_a_conflict(
    director_client: APIClient, director: StaffMember
) -> None:
    draft = post_document(director_client, document(rule("IL6"))).json()["ruleset"]
    director_client.post(f"{URL}{draft['id']}/publish/", {}, format="json")

    response = director_client.post(f"{URL}{draft['id']}/publish/", {}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "ruleset_immutable"
