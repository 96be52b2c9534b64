"""The reference-ranges pages: whoever reads rule sets browses the set in force (bounds, unit,
partition, source, unverified mark); a director drafts a copy for their lab, edits a rule's
bounds, reads the impact preview and publishes, through the rule-set services; everyone else
is refused with the reason, a set outside the user's scope is a 404, a refused edit changes
nothing.
"""

from __future__ import annotations

import re
from decimal import Decimal
from html import unescape
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from rest_framework.test import APIClient

from labpanel.accounts.models import Role, StaffMember
from panels.models import Panel, Result
from reference_ranges.models import ReferenceRangeRule, ReferenceRangeSet, RuleSetStatus
from tests.factories import make_lab, make_staff
from tests.reports.test_clinician_pages import table_rows

pytestmark = pytest.mark.django_db

DIRECTORS_ONLY = "only a lab director may import or publish reference range sets"


def browser(staff: StaffMember) -> Client:
    client = Client()
    client.force_login(staff.user)
    return client


def text(response: Any) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


@pytest.fixture
def panel(technician_client: APIClient, panel_payload: dict[str, Any]) -> Panel:
    """A stored panel whose IL-6 (12.4 pg/mL) the set in force judges high."""
    response = technician_client.post("/api/v1/panels/", panel_payload, format="json")
    assert response.status_code == 201, response.json()
    return Panel.objects.get(pk=response.json()["id"])


def test_lab_staff_browse_the_set_in_force(
    reference_data: None,
    technician: StaffMember,
    integrator: StaffMember,
    clinician: StaffMember,
) -> None:
    active = ReferenceRangeSet.objects.get(status=RuleSetStatus.ACTIVE, lab__isnull=True)
    rule = active.rules.select_related("analyte").order_by("pk").first()
    assert rule is not None

    response = browser(technician).get("/reference-ranges/")

    page = text(response)
    assert response.status_code == 200
    assert f"In force: {active.name}, version {active.version} (the installation-wide set" in page
    assert f"{active.rules.count()} rule(s)" in page
    row = next(
        row
        for row in table_rows(response.content.decode(), "rules")
        if row[0] == f"{rule.analyte.short_name} {rule.key}"
    )
    assert row[3] == rule.unit
    assert row[7] == rule.source + ("" if rule.verified else " UNVERIFIED")
    assert "Create a draft" not in page
    assert browser(integrator).get("/reference-ranges/").status_code == 200
    refused = browser(clinician).get("/reference-ranges/")
    assert refused.status_code == 403
    assert "only the lab's technicians, directors and integrators read" in text(refused)
    assert browser(technician).get(f"/reference-ranges/{active.pk}/").status_code == 200


def test_a_director_drafts_edits_previews_and_publishes(
    panel: Panel, director: StaffMember, technician: StaffMember
) -> None:
    client = browser(director)
    judged_by = Result.objects.get(panel=panel, analyte__code="IL6").rule
    assert judged_by is not None
    installation_set = judged_by.ruleset

    # draft: a copy of the set in force, for the director's lab
    created = client.post("/reference-ranges/draft/", {"version": "2026.9-lab"})
    draft = ReferenceRangeSet.objects.get(version="2026.9-lab")
    assert created.status_code == 302
    assert created["Location"] == f"/reference-ranges/{draft.pk}/"
    assert (draft.status, draft.lab_id) == (RuleSetStatus.DRAFT, director.lab_id)
    assert draft.rules.count() == installation_set.rules.count()
    draft_page = text(client.get(created["Location"]))
    assert "DRAFT — Test Laboratory" in draft_page
    assert "Edit bounds" in draft_page

    # edit: IL-6's upper limit raised past the stored 12.4
    rule = draft.rules.get(key=judged_by.key)
    edit_url = f"/reference-ranges/{draft.pk}/rules/{rule.pk}/"
    assert client.get(edit_url).status_code == 200
    bounds = {"low": "", "low_inclusive": "on", "high": "20", "high_inclusive": "on"}
    saved = client.post(edit_url, bounds)
    assert saved.status_code == 302
    rule.refresh_from_db()
    assert rule.high == Decimal("20")

    # the technician may look, not change
    assert browser(technician).get(edit_url).status_code == 403
    assert browser(technician).get(f"/reference-ranges/{draft.pk}/impact/").status_code == 403
    refused = browser(technician).post(f"/reference-ranges/{draft.pk}/publish/")
    assert refused.status_code == 403
    assert DIRECTORS_ONLY in text(refused)

    # preview: the stored result would change H → N
    preview = client.get(f"/reference-ranges/{draft.pk}/impact/")
    preview_text = text(preview)
    assert preview.status_code == 200
    assert "Would change 1" in preview_text
    assert "H→N: 1" in preview_text
    assert "A-1001 IL6 12.4 pg/mL H" in preview_text

    # publish: in force for the lab from today; the installation-wide set untouched
    published = client.post(f"/reference-ranges/{draft.pk}/publish/")
    draft.refresh_from_db()
    installation_set.refresh_from_db()
    assert published.status_code == 302
    assert draft.status == RuleSetStatus.ACTIVE
    assert installation_set.status == RuleSetStatus.ACTIVE
    assert [str(m) for m in get_messages(published.wsgi_request)] == [
        "Published 2026.9-lab: in force from today."
    ]
    listing = text(client.get("/reference-ranges/"))
    assert "version 2026.9-lab (this lab's own set" in listing

    # a published set never changes
    after = client.post(edit_url, {**bounds, "high": "30"})
    assert after.status_code == 200
    assert "published sets never change" in text(after)
    rule.refresh_from_db()
    assert rule.high == Decimal("20")


def test_bad_bounds_name_the_field_and_change_nothing(
    reference_data: None, director: StaffMember
) -> None:
    client = browser(director)
    assert client.post("/reference-ranges/draft/", {"version": "2026.9-lab"}).status_code == 302
    draft = ReferenceRangeSet.objects.get(version="2026.9-lab")
    rule = draft.rules.filter(low__isnull=True, high__isnull=False).first()
    assert rule is not None
    before = ReferenceRangeRule.objects.filter(pk=rule.pk).values().get()

    response = client.post(
        f"/reference-ranges/{draft.pk}/rules/{rule.pk}/",
        {"low": "50", "high": "10", "low_inclusive": "on", "high_inclusive": "on"},
    )
    no_bound = client.post(f"/reference-ranges/{draft.pk}/rules/{rule.pk}/", {"low": "x"})

    assert response.status_code == 200
    assert response.context["form"].errors
    assert "Enter a number." in no_bound.context["form"].errors["low"]
    assert ReferenceRangeRule.objects.filter(pk=rule.pk).values().get() == before


def test_drafts_and_publishing_are_refused_outside_the_directors_own_lab(
    reference_data: None, director: StaffMember, technician: StaffMember
) -> None:
    other_director = make_staff(
        username="far.director", lab=make_lab(name="Other lab"), role=Role.DIRECTOR
    )
    client = browser(director)
    assert client.post("/reference-ranges/draft/", {"version": "2026.9-lab"}).status_code == 302
    draft = ReferenceRangeSet.objects.get(version="2026.9-lab")
    rule = draft.rules.first()
    assert rule is not None

    refused = browser(technician).post("/reference-ranges/draft/", {"version": "2026.9-x"})
    assert refused.status_code == 403
    assert DIRECTORS_ONLY in text(refused)
    for url in (
        f"/reference-ranges/{draft.pk}/",
        f"/reference-ranges/{draft.pk}/rules/{rule.pk}/",
        f"/reference-ranges/{draft.pk}/impact/",
    ):
        assert browser(other_director).get(url).status_code == 404
    assert browser(other_director).post(f"/reference-ranges/{draft.pk}/publish/").status_code == 404
    duplicate = client.post("/reference-ranges/draft/", {"version": "2026.9-lab"})
    assert [str(m) for m in get_messages(duplicate.wsgi_request)][-1] == (
        "the reference range set has 1 problem (ruleset.version: labpanel-default version "
        "2026.9-lab already exists; import it under a new version)"
    )
    draft.refresh_from_db()
    assert draft.status == RuleSetStatus.DRAFT
    assert ReferenceRangeSet.objects.filter(version__startswith="2026.9").count() == 1
