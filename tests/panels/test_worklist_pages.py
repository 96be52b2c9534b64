"""The lab's worklist: technicians and directors land on it; it lists their lab's panels awaiting
verification or release, critical ones first, then the oldest collection; it filters; its query
count is the same for 1 and 25 rows; verification (one panel, htmx or a plain POST, or every
checked all-normal panel) goes through the review services with the refusal's reason shown; the
result counts it orders and filters by are stored by every submission, import and amendment.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from decimal import Decimal
from html import unescape
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from rest_framework.test import APIClient

from labpanel.accounts.models import Role, StaffMember
from panels import worklist
from panels.intake.imports.commit import import_job_commit
from panels.models import Panel, Result, ReviewState, ReviewTransition
from panels.review_rules import CRITICAL_CODES
from reference_ranges import adapters
from reference_ranges.models import ReferenceRangeRule
from tests.conftest import token_client
from tests.factories import make_lab, make_staff
from tests.imports.test_import_jobs import LONG_CSV, upload, validated
from tests.panels.test_amendments import released
from tests.reports.test_clinician_pages import table_rows
from tests.statements import statements_sent

pytestmark = pytest.mark.django_db

PASSWORD = "bench-password-7"
LAB_SCREENS_REFUSAL = (
    "the lab's screens (worklist, panel page) are for the lab's technicians and directors"
)
NORMAL = [
    {"analyte": "IL-6", "value": "1.8", "unit": "pg/mL"},
    {"analyte": "TNFA", "value": "5.0", "unit": "pg/mL"},
]
FLAGGED = [{"analyte": "IL-6", "value": "12.4", "unit": "pg/mL"}]
CRITICAL = [{"analyte": "IL-6", "value": "500", "unit": "pg/mL"}]


def browser(staff: StaffMember) -> Client:
    client = Client()
    client.force_login(staff.user)
    return client


def submit(
    client: APIClient,
    payload: dict[str, Any],
    number: int,
    results: list[dict[str, str]],
    **patient: str,
) -> Panel:
    body = copy.deepcopy(payload)
    body["accession"] = f"W-{number}"
    body["patient"].update({"mrn": f"MRN-W{number}", **patient})
    body["specimen"]["collected_at"] = f"2026-11-{10 + number % 18:02d}T{number % 24:02d}:15:00Z"
    body["results"] = results
    response = client.post("/api/v1/panels/", body, format="json")
    assert response.status_code == 201, response.json()
    return Panel.objects.get(pk=response.json()["id"])


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def critical_limits(reference_data: None) -> Iterator[None]:
    """The seeded IL-6 rules with a critical high limit of 100 pg/mL (none ship by default)."""
    ReferenceRangeRule.objects.filter(analyte__code="IL6", unit="pg/mL").update(
        critical_high=Decimal("100")
    )
    adapters.clear_cache()
    yield
    adapters.clear_cache()


def _log_in(staff: StaffMember) -> Any:
    """``staff`` logs in through the login form (redirects followed): the last answer."""
    staff.user.set_password(PASSWORD)
    staff.user.save()
    return Client().post(
        "/login/", {"username": staff.user.username, "password": PASSWORD}, follow=True
    )


def test_login_lands_the_labs_technicians_and_directors_on_the_worklist(
    reference_data: None, technician: StaffMember, director: StaffMember
) -> None:
    for staff in (technician, director):
        response = _log_in(staff)
        assert response.redirect_chain == [("/", 302), ("/worklist/", 302)]
        assert response.status_code == 200


def test_login_lands_an_integrator_on_the_reference_ranges_it_may_read(
    reference_data: None, integrator: StaffMember
) -> None:
    # an integrator has no worklist, inbox or import page: its navigation offers the lab's
    # reference ranges, which it reads (not a page refusing it)
    response = _log_in(integrator)

    assert response.redirect_chain == [("/", 302), ("/reference-ranges/", 302)]
    assert response.status_code == 200
    assert b"Reference ranges" in response.content


def test_critical_panels_come_first_then_the_oldest_collection_and_released_ones_leave(
    technician_client: APIClient,
    panel_payload: dict[str, Any],
    director: StaffMember,
    critical_limits: None,
) -> None:
    newest_critical = submit(technician_client, panel_payload, 9, CRITICAL, family_name="Crit")
    oldest = submit(technician_client, panel_payload, 1, NORMAL, family_name="Old")
    middle = submit(technician_client, panel_payload, 5, FLAGGED, family_name="Mid")
    released = submit(technician_client, panel_payload, 3, NORMAL, family_name="Gone")
    director_api = token_client(director)
    assert director_api.post(f"/api/v1/panels/{middle.pk}/verify/").status_code == 200
    assert director_api.post(f"/api/v1/panels/{released.pk}/verify/").status_code == 200
    assert director_api.post(f"/api/v1/panels/{released.pk}/release/").status_code == 202

    html = browser(director).get("/worklist/").content.decode()

    rows = table_rows(html, "worklist")
    assert [row[1:5] for row in rows] == [
        ["W-9", "Crit, Jane MRN MRN-W9", "2026-11-19 09:15", "Received"],
        ["W-1", "Old, Jane MRN MRN-W1", "2026-11-11 01:15", "Received"],
        ["W-5", "Mid, Jane MRN MRN-W5", "2026-11-15 05:15", "Verified"],
    ]
    assert rows[0][5] == "CRITICAL: 1 1 flagged (1 result)"
    assert rows[1][5] == "2 within interval (2 results)"
    assert 'class="critical-row"' in html
    assert rows[0][6] == "Verify W-9"
    assert rows[2][6] == "Release W-5"
    assert newest_critical.review_state == oldest.review_state == ReviewState.RECEIVED


def test_the_worklist_filters_by_state_flag_patient_and_collection_date(
    technician_client: APIClient, panel_payload: dict[str, Any], director: StaffMember
) -> None:
    submit(technician_client, panel_payload, 1, NORMAL, family_name="Doe")
    flagged = submit(technician_client, panel_payload, 2, FLAGGED, family_name="Roe")
    submit(technician_client, panel_payload, 3, NORMAL, family_name="Poe")
    assert token_client(director).post(f"/api/v1/panels/{flagged.pk}/verify/").status_code == 200
    client = browser(director)

    def accessions(query: dict[str, str]) -> list[str]:
        html = client.get("/worklist/", query).content.decode()
        return [row[1] for row in table_rows(html, "worklist")]

    assert accessions({}) == ["W-1", "W-2", "W-3"]
    assert accessions({"state": "verified"}) == ["W-2"]
    assert accessions({"state": "received"}) == ["W-1", "W-3"]
    assert accessions({"flagged": "on"}) == ["W-2"]
    assert accessions({"q": "roe"}) == ["W-2"]
    assert accessions({"q": "MRN-W3"}) == ["W-3"]
    assert accessions({"collected": "2026-11-11"}) == ["W-1"]
    assert accessions({"q": "nobody"}) == []


def test_the_worklist_pages_by_25_with_the_same_query_count_for_1_and_25_rows(
    technician_client: APIClient,
    panel_payload: dict[str, Any],
    director: StaffMember,
    django_assert_num_queries: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    submit(technician_client, panel_payload, 0, FLAGGED)
    client = browser(director)
    client.get("/worklist/")  # the session and the membership, as on every page

    # the session, the user with their membership (labpanel.accounts.backends), the page (its
    # panels, their patients and counts, their number), the read audit's entry
    with django_assert_num_queries(4):
        response = client.get("/worklist/")
    assert len(table_rows(response.content.decode(), "worklist")) == 1

    for number in range(1, 30):
        submit(technician_client, panel_payload, number, NORMAL if number % 2 else FLAGGED)
    with django_assert_num_queries(4):
        response = client.get("/worklist/")
    assert len(table_rows(response.content.decode(), "worklist")) == 25
    assert "30 panel(s), page 1 of 2" in response.content.decode()
    # the last page, and a filter with a search: the same statements
    with django_assert_num_queries(4):
        response = client.get("/worklist/?page=2")
    assert len(table_rows(response.content.decode(), "worklist")) == 5
    with django_assert_num_queries(4):
        response = client.get("/worklist/?flagged=on&q=MRN-W2")
    assert len(table_rows(response.content.decode(), "worklist")) == 1
    assert len(table_rows(client.get("/worklist/?page=2").content.decode(), "worklist")) == 5
    assert "30 panel(s), page 2 of 2" in client.get("/worklist/?page=9").content.decode()

    # counted only so far (or to the end of the page asked for): beyond, "more than"
    monkeypatch.setattr(worklist, "COUNT_UP_TO", 20)
    first = client.get("/worklist/").content.decode()
    assert "More than 25 panels, page 1" in first
    assert "page=2" in first  # a next page
    assert "30 panel(s), page 2 of 2" in client.get("/worklist/?page=2").content.decode()


def test_who_uses_the_worklist(
    technician_client: APIClient,
    panel_payload: dict[str, Any],
    technician: StaffMember,
    clinician: StaffMember,
    integrator: StaffMember,
) -> None:
    submit(technician_client, panel_payload, 1, NORMAL)
    other_lab_technician = make_staff(
        username="elsewhere", lab=make_lab(name="Other lab"), role=Role.TECHNICIAN
    )

    assert len(table_rows(browser(technician).get("/worklist/").content.decode(), "worklist")) == 1
    assert browser(other_lab_technician).get("/worklist/").content.decode().count("W-1") == 0
    for outsider in (clinician, integrator):
        response = browser(outsider).get("/worklist/")
        assert response.status_code == 403
        assert LAB_SCREENS_REFUSAL in unescape(response.content.decode())
    assert Client().get("/worklist/")["Location"] == "/login/?next=/worklist/"


def test_a_director_verifies_in_place_with_htmx_and_without_javascript(
    technician_client: APIClient, panel_payload: dict[str, Any], director: StaffMember
) -> None:
    first = submit(technician_client, panel_payload, 1, FLAGGED)
    second = submit(technician_client, panel_payload, 2, FLAGGED)
    client = browser(director)

    swapped = client.post(f"/panels/{first.pk}/verify/", HTTP_HX_REQUEST="true")
    plain = client.post(f"/panels/{second.pk}/verify/", {"next": "/worklist/?state=received"})

    assert swapped.status_code == 200
    html = swapped.content.decode()
    assert html.strip().startswith(f'<tr id="panel-{first.pk}"')
    assert "Panel W-1 verified." in html
    assert "Release W-1" in html
    assert plain.status_code == 302
    assert plain["Location"] == "/worklist/?state=received"
    assert messages_of(plain) == ["Panel W-2 verified."]
    for panel in (first, second):
        transition = ReviewTransition.objects.get(panel=panel)
        assert (transition.to_state, transition.actor_id) == ("verified", director.user_id)


def test_verification_refusals_show_their_reason_and_change_nothing(
    technician_client: APIClient,
    panel_payload: dict[str, Any],
    technician: StaffMember,
    director: StaffMember,
    clinician: StaffMember,
) -> None:
    panel = submit(technician_client, panel_payload, 1, FLAGGED)
    other_lab_director = make_staff(
        username="elsewhere", lab=make_lab(name="Other lab"), role=Role.DIRECTOR
    )
    self_verification = "self-verification is not allowed in this lab"

    # the worklist says it before the technician tries
    row = table_rows(browser(technician).get("/worklist/").content.decode(), "worklist")[0]
    assert row[6].startswith(f"Cannot verify: {self_verification}")
    refused = browser(technician).post(f"/panels/{panel.pk}/verify/")
    swapped = browser(technician).post(f"/panels/{panel.pk}/verify/", HTTP_HX_REQUEST="true")
    assert refused.status_code == 403
    assert self_verification in refused.content.decode()
    assert swapped.status_code == 200
    assert self_verification in swapped.content.decode()
    assert browser(other_lab_director).post(f"/panels/{panel.pk}/verify/").status_code == 404
    assert browser(clinician).post(f"/panels/{panel.pk}/verify/").status_code == 404
    assert not ReviewTransition.objects.exists()

    assert browser(director).post(f"/panels/{panel.pk}/verify/").status_code == 302
    again = browser(director).post(f"/panels/{panel.pk}/verify/")
    assert again.status_code == 302
    assert messages_of(again) == ["panel W-1 is already verified"]
    assert ReviewTransition.objects.count() == 1


def test_bulk_verification_verifies_the_checked_all_normal_panels_and_says_why_not(
    technician_client: APIClient, panel_payload: dict[str, Any], director: StaffMember
) -> None:
    normal = submit(technician_client, panel_payload, 1, NORMAL)
    other_normal = submit(technician_client, panel_payload, 2, NORMAL)
    flagged = submit(technician_client, panel_payload, 3, FLAGGED)
    unchecked = submit(technician_client, panel_payload, 4, NORMAL)

    response = browser(director).post(
        "/worklist/verify/",
        {"panel": [normal.pk, other_normal.pk, flagged.pk], "next": "/worklist/"},
    )

    assert response.status_code == 302
    assert response["Location"] == "/worklist/"
    assert messages_of(response) == [
        "Verified 2: W-1, W-2.",
        "Not verified W-3: not every result is within its interval; verify it on its own "
        "(IL-6: not within its reference interval (H))",
    ]
    states = dict(Panel.objects.values_list("accession", "review_state"))
    assert states == {"W-1": "verified", "W-2": "verified", "W-3": "received", "W-4": "received"}
    assert unchecked.review_state == ReviewState.RECEIVED


def test_bulk_verification_refuses_self_verification_per_panel_and_outsiders_whole(
    technician_client: APIClient,
    panel_payload: dict[str, Any],
    technician: StaffMember,
    clinician: StaffMember,
) -> None:
    normal = submit(technician_client, panel_payload, 1, NORMAL)

    response = browser(technician).post("/worklist/verify/", {"panel": [normal.pk]})
    outsider = browser(clinician).post("/worklist/verify/", {"panel": [normal.pk]})
    nothing_checked = browser(technician).post("/worklist/verify/", {})

    assert messages_of(response) == [
        "Not verified W-1: self-verification is not allowed in this lab: someone other than "
        "the person who submitted the panel verifies it"
    ]
    assert outsider.status_code == 403
    assert messages_of(nothing_checked) == ["Check the panels to verify first."]
    assert not ReviewTransition.objects.exists()


def test_a_technician_is_told_on_the_worklist_that_a_director_releases(
    technician_client: APIClient,
    panel_payload: dict[str, Any],
    technician: StaffMember,
    director: StaffMember,
) -> None:
    panel = submit(technician_client, panel_payload, 1, FLAGGED)
    assert token_client(director).post(f"/api/v1/panels/{panel.pk}/verify/").status_code == 200

    technician_row = table_rows(browser(technician).get("/worklist/").content.decode(), "worklist")
    director_row = table_rows(browser(director).get("/worklist/").content.decode(), "worklist")

    assert technician_row[0][6] == (
        "Cannot release: technicians may not release reports in this lab; a director releases"
    )
    assert director_row[0][6] == "Release W-1"


@pytest.mark.parametrize(
    ("role", "links"),
    [
        (Role.TECHNICIAN, ["Worklist", "Critical results", "Imports", "Reference ranges"]),
        (Role.DIRECTOR, ["Worklist", "Critical results", "Imports", "Reference ranges"]),
        (Role.INTEGRATOR, ["Reference ranges"]),
        (Role.CLINICIAN, ["Inbox"]),
    ],
)
def test_the_navigation_offers_each_role_its_screens(
    reference_data: None, lab: Any, role: str, links: list[str]
) -> None:
    staff = make_staff(username=f"someone-{role}", lab=lab, role=role)

    page = browser(staff).get("/reference-ranges/" if role != Role.CLINICIAN else "/inbox/")

    assert page.status_code == 200
    nav = page.content.decode().split('<nav aria-label="Main" class="main-nav">')[1]
    nav = nav.split("</nav>")[0]
    assert re.findall(r">([^<>]+)</a>", nav) == links


# --- the stored result counts the worklist reads (panels.result_counts) ----------------------


def worklist_accessions(client: Client, query: dict[str, str]) -> list[str]:
    html = client.get("/worklist/", query).content.decode()
    return [row[1] for row in table_rows(html, "worklist")]


def counted(panel: Panel) -> tuple[int, int, int, int, int, bool]:
    """``panel``'s current results counted by judgement here, in Python."""
    codes = [result.interpretation for result in Result.objects.current().filter(panel=panel)]
    critical = sum(code in CRITICAL_CODES for code in codes)
    return (
        len(codes),
        sum(code not in ("", "N", "IND") for code in codes),
        critical,
        codes.count(""),
        codes.count("IND"),
        critical > 0,
    )


def stored(panel: Panel) -> tuple[int, int, int, int, int, bool]:
    panel.refresh_from_db()
    return (
        panel.results_total,
        panel.results_flagged,
        panel.results_critical,
        panel.results_not_interpreted,
        panel.results_indeterminate,
        panel.is_critical,
    )


def test_a_submission_and_an_amendment_store_the_panels_counts_in_their_transaction(
    technician_client: APIClient,
    panel_payload: dict[str, Any],
    director: StaffMember,
    critical_limits: None,
) -> None:
    flagged = submit(technician_client, panel_payload, 1, FLAGGED)
    critical = submit(technician_client, panel_payload, 2, [*CRITICAL, *NORMAL[1:]])
    assert stored(critical) == counted(critical) == (2, 1, 1, 0, 0, True)
    assert stored(flagged) == counted(flagged) == (1, 1, 0, 0, 0, False)
    assert worklist_accessions(browser(director), {}) == ["W-2", "W-1"]  # critical first

    released(critical)
    response = technician_client.post(
        f"/api/v1/panels/{critical.pk}/amendments/",
        {
            "reason": "Transcription error",
            "results": [{"analyte": "IL-6", "value": "1.9", "unit": "pg/mL"}],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert stored(critical) == counted(critical) == (2, 0, 0, 0, 0, False)
    # no longer critical: the oldest collection first
    assert worklist_accessions(browser(director), {}) == ["W-1", "W-2"]
    assert worklist_accessions(browser(director), {"flagged": "on"}) == ["W-1"]


def test_an_indeterminate_result_is_never_summarised_as_within_interval(
    technician_client: APIClient, panel_payload: dict[str, Any], director: StaffMember
) -> None:
    # "<20" against IL-6's interval ≤2.5 pg/mL may be normal or high: indeterminate
    panel = submit(
        technician_client,
        panel_payload,
        1,
        [{"analyte": "IL-6", "value": "<20", "unit": "pg/mL"}, NORMAL[1]],
    )
    assert stored(panel) == counted(panel) == (2, 0, 0, 0, 1, False)

    html = browser(director).get("/worklist/").content.decode()

    [row] = [row for row in table_rows(html, "worklist") if "W-1" in row[1]]
    results = " ".join(row)
    assert "indeterminate: 1" in results
    assert "within interval" not in results


def test_an_import_stores_every_panels_counts(
    technician_client: APIClient, technician: StaffMember
) -> None:
    job = validated(upload(technician_client, LONG_CSV))
    technician_client.post(f"/api/v1/imports/{job.uuid}/commit/")
    import_job_commit(job_id=job.pk)

    panels = list(Panel.objects.all())
    assert panels
    for panel in panels:
        assert stored(panel) == counted(panel)
        assert panel.results_total > 0


def test_the_rows_escape_every_text(
    technician_client: APIClient, panel_payload: dict[str, Any], director: StaffMember
) -> None:
    submit(
        technician_client,
        panel_payload,
        1,
        NORMAL,
        family_name='<script>alert("x")</script>',
        given_name="O'Hara & <b>",
    )
    html = browser(director).get("/worklist/").content.decode()
    assert "<script>alert" not in html
    assert "<b>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;, O&#x27;Hara &amp; &lt;b&gt;" in html
    assert table_rows(html, "worklist")[0][2].startswith("<script>alert")  # the text, unescaped


def test_the_filters_keep_what_was_asked_and_tie_each_error_to_its_input(
    director: StaffMember,
) -> None:
    html = (
        browser(director)
        .get("/worklist/", {"state": "verified", "flagged": "on", "q": 'a"b', "collected": "xx"})
        .content.decode()
    )
    assert '<option value="verified" selected>Verified</option>' in html
    assert '<input type="checkbox" name="flagged" id="id_flagged" checked>' in html
    assert 'value="a&quot;b"' in html
    assert 'aria-invalid="true" aria-describedby="id_collected_error" id="id_collected"' in html
    assert '<span class="error" id="id_collected_error">Enter a valid date.</span>' in html
    assert '<label for="id_q">Patient name, MRN or accession:</label>' in html


def test_each_row_says_what_its_viewer_may_do_when_submitters_differ(
    technician_client: APIClient,
    panel_payload: dict[str, Any],
    technician: StaffMember,
    lab: Any,
) -> None:
    """The page decides a refusal once per (state, lab, submitter): rows submitted by the
    viewer refuse self-verification, the others in the same page offer verification."""
    colleague = make_staff(username="colleague", lab=lab, role=Role.TECHNICIAN)
    mine = [submit(technician_client, panel_payload, number, NORMAL) for number in (1, 3)]
    theirs = [submit(token_client(colleague), panel_payload, number, NORMAL) for number in (2, 4)]

    rows = table_rows(browser(technician).get("/worklist/").content.decode(), "worklist")

    actions = {row[1]: row[6] for row in rows}
    for panel in mine:
        assert actions[panel.accession].startswith("Cannot verify: self-verification")
    for panel in theirs:
        assert actions[panel.accession] == f"Verify {panel.accession}"


def test_the_page_statement_is_written_once_without_parameters_and_a_search_is_a_parameter(
    technician_client: APIClient, panel_payload: dict[str, Any], director: StaffMember
) -> None:
    """Without search words, the page's statement carries its values as literals (PostgreSQL
    plans it once per connection); a search's words are always sent as parameters."""
    from django.db import connection

    submit(technician_client, panel_payload, 1, NORMAL, family_name="O'Brien")
    submit(technician_client, panel_payload, 2, NORMAL, family_name="Doe")
    client = browser(director)
    with statements_sent("counted") as seen:
        plain = client.get("/worklist/").content.decode()
        searched = client.get("/worklist/", {"q": "o'brien"}).content.decode()

    assert [row[1] for row in table_rows(plain, "worklist")] == ["W-1", "W-2"]
    assert [row[1] for row in table_rows(searched, "worklist")] == ["W-1"]
    (plain_sql, plain_params), (search_sql, search_params) = seen
    if connection.vendor == "postgresql":
        assert plain_params is None
        assert "LIMIT 25 OFFSET 0" in plain_sql
    assert "brien" not in search_sql.lower()
    assert "%o'brien%" in [str(value).lower() for value in search_params]
