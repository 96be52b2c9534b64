"""A released report names who verified and who released its results, and a corrected one
who issued the correction, from the panel's review history: in the PDF's identification block,
the same whether the worker read the report in one statement or with the ORM."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from labpanel.accounts.models import Lab, Role, StaffMember
from panels.models import Panel, ReviewState, ReviewTransition
from reports.document_builder import report_document_build, sign_out_lines
from reports.formatting import when_text
from reports.json_rows import prefetched
from reports.models import Report, ReportStage
from reports.rendering.document import SignOutLine
from reports.selectors import report_source_get
from tests.conftest import token_client
from tests.factories import make_staff
from tests.reports.test_release import amend, pages, rendered

pytestmark = pytest.mark.django_db


@pytest.fixture
def panel(technician_client: APIClient, panel_payload: dict[str, Any]) -> Panel:
    response = technician_client.post("/api/v1/panels/", panel_payload, format="json")
    assert response.status_code == 201, response.json()
    return Panel.objects.get(pk=response.json()["id"])


@pytest.fixture
def releaser(lab: Lab) -> StaffMember:
    return make_staff(username="ada", lab=lab, role=Role.DIRECTOR, display_name="Dr Ada Lovelace")


def _step(panel: Panel, to_state: str) -> ReviewTransition:
    return ReviewTransition.objects.filter(panel=panel, to_state=to_state).latest("pk")


def _both_ways(report: Report) -> tuple[SignOutLine, ...]:
    """The sign-out of ``report``'s document, checked equal whichever way the source is read."""
    now = timezone.now()
    one = report_document_build(
        report=report, reported_at=now, source=report_source_get(report_id=report.pk)
    )
    orm = report_document_build(
        report=report,
        reported_at=now,
        source=report_source_get(report_id=report.pk, one_statement=False),
    )
    assert one.sign_out == orm.sign_out
    return one.sign_out


def _release(panel: Panel, verifier: StaffMember, releaser: StaffMember) -> Report:
    assert token_client(verifier).post(f"/api/v1/panels/{panel.pk}/verify/").status_code == 200
    response = token_client(releaser).post(f"/api/v1/panels/{panel.pk}/release/")
    assert response.status_code == 202, response.json()
    return Report.objects.get(pk=response.json()["report"]["id"])


def test_a_final_report_names_who_verified_and_who_released_it(
    panel: Panel, director: StaffMember, releaser: StaffMember, clinician: StaffMember
) -> None:
    final = _release(panel, director, releaser)
    verified = _step(panel, ReviewState.VERIFIED)
    released = _step(panel, ReviewState.RELEASED)

    assert _both_ways(final) == (
        SignOutLine("Verified", f"director, {when_text(verified.occurred_at)}"),
        SignOutLine("Released", f"Dr Ada Lovelace (ada), {when_text(released.occurred_at)}"),
    )
    text = "\n".join(pages(rendered(final)))
    assert f"Verified\ndirector, {when_text(verified.occurred_at)}" in text
    assert f"Released\nDr Ada Lovelace (ada), {when_text(released.occurred_at)}" in text
    # the ordering clinician's page of the report says the same
    browser = Client()
    browser.force_login(clinician.user)
    page = browser.get(f"/reports/{final.pk}/").content.decode()
    assert (
        f"<dt>Released</dt><dd>Dr Ada Lovelace (ada), {when_text(released.occurred_at)}</dd>"
        in page
    )
    assert f"<dt>Verified</dt><dd>director, {when_text(verified.occurred_at)}</dd>" in page


def test_a_preliminary_report_names_no_one(panel: Panel) -> None:
    preliminary = panel.reports.get()

    assert preliminary.stage == ReportStage.PRELIMINARY
    assert _both_ways(preliminary) == ()
    text = "\n".join(pages(rendered(preliminary)))
    assert "Verified" not in text
    assert "Released" not in text


def test_the_verification_named_is_the_one_before_the_release(
    technician_client: APIClient, panel: Panel, director: StaffMember, releaser: StaffMember
) -> None:
    # verified, then amended before release (the verification withdrawn), verified again
    assert token_client(director).post(f"/api/v1/panels/{panel.pk}/verify/").status_code == 200
    rendered(panel.reports.get())
    assert amend(technician_client, panel, "3.1").status_code == 201
    rendered(panel.reports.latest("pk"))

    final = _release(panel, releaser, releaser)

    verified = _step(panel, ReviewState.VERIFIED)
    assert verified.actor_id == releaser.user_id
    assert _both_ways(final)[0] == SignOutLine(
        "Verified", f"Dr Ada Lovelace (ada), {when_text(verified.occurred_at)}"
    )


def test_a_corrected_report_names_the_release_it_corrects_and_who_issued_the_correction(
    technician_client: APIClient, panel: Panel, director: StaffMember, releaser: StaffMember
) -> None:
    final = rendered(_release(panel, director, releaser))
    assert amend(technician_client, panel, "1.9").status_code == 201
    corrected = panel.reports.latest("pk")
    assert corrected.stage == ReportStage.CORRECTED

    sign_out = _both_ways(corrected)

    released = _step(panel, ReviewState.RELEASED)
    assert released.report_id == final.pk
    # the verification and release named are those of the results first released
    assert [line.label for line in sign_out] == [
        "First verified",
        "First released",
        "Correction issued",
    ]
    assert sign_out[1] == SignOutLine(
        "First released", f"Dr Ada Lovelace (ada), {when_text(released.occurred_at)}"
    )
    assert sign_out[2] == SignOutLine(
        "Correction issued", f"tech, {when_text(corrected.created_at)}"
    )
    text = "\n".join(pages(rendered(corrected)))
    assert f"Correction issued\ntech, {when_text(corrected.created_at)}" in text
    # the released report is not touched: it still names its own release only
    assert [line.label for line in _both_ways(final)] == ["Verified", "Released"]


def test_an_automatic_verification_names_the_labs_rule(
    technician_client: APIClient,
    panel_payload: dict[str, Any],
    lab: Lab,
    releaser: StaffMember,
) -> None:
    lab.auto_verification_enabled = True
    lab.save()
    panel_payload["results"] = [{"analyte": "IL6", "value": "2.1", "unit": "pg/mL"}]
    response = technician_client.post("/api/v1/panels/", panel_payload, format="json")
    assert response.status_code == 201, response.json()
    panel = Panel.objects.get(pk=response.json()["id"])
    assert panel.review_state == ReviewState.VERIFIED

    release = token_client(releaser).post(f"/api/v1/panels/{panel.pk}/release/")
    assert release.status_code == 202, release.json()
    final = Report.objects.get(pk=release.json()["report"]["id"])

    verified = _step(panel, ReviewState.VERIFIED)
    assert _both_ways(final)[0] == SignOutLine(
        "Verified",
        f"automatically, by the lab's rule {verified.rule}, {when_text(verified.occurred_at)}",
    )


def test_a_release_the_history_does_not_hold_reads_not_recorded(
    panel: Panel, director: StaffMember
) -> None:
    final = _release(panel, director, director)
    source = report_source_get(report_id=final.pk)
    # a history without the release's step (a panel released before the history named its
    # report): the rows are append-only, so the history is handed over without it
    kept = [
        step
        for step in source.panel.review_transitions.all()
        if step.to_state != ReviewState.RELEASED
    ]
    prefetched(source.panel, "review_transitions", kept)

    assert sign_out_lines(source.report, source.panel)[1] == SignOutLine("Released", "not recorded")
