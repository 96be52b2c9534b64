"""Critical results reach a person (issue 12): verifying a panel that holds a value at or beyond
the lab's critical limit opens an alert in the same transaction, tells the ordering clinician at
once (inbox row, email row, the email sent after commit with a link and no patient data), and
the alert ends by the clinician's acknowledgement (on its page, or with the report) or by a phone
read-back the lab records. The page answers the ordering clinician and the lab's staff; anyone
else gets 404. The demo lab carries one local critical limit.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from labpanel.accounts.models import Lab, StaffMember
from labpanel.events.models import Event, EventKind
from panels.critical import critical_alerts_escalate, critical_email_send
from panels.models import CriticalAlert, CriticalNotification, Panel, ReviewState
from panels.models_critical import CriticalAlertState
from panels.review import AUTO_VERIFICATION_RULE, panel_verify, review_transition
from reference_ranges.models import ReferenceRangeRule, ReferenceRangeSet
from reports.models import Report
from reports.release import panel_release
from reports.services import report_render
from tests.factories import make_lab, make_staff

pytestmark = pytest.mark.django_db

CRITICAL_RESULTS = [
    {"analyte": "IL-6", "value": "6000", "unit": "pg/mL"},
    {"analyte": "TNFA", "value": "5.0", "unit": "pg/mL"},
]
NORMAL_RESULTS = [
    {"analyte": "IL-6", "value": "1.8", "unit": "pg/mL"},
    {"analyte": "TNFA", "value": "5.0", "unit": "pg/mL"},
]
PATIENT_DATA = ("Doe", "Jane", "MRN-77", "A-1001", "1980", "6000")


def submit(client: APIClient, payload: dict[str, Any], results: list[dict[str, str]]) -> Panel:
    payload["results"] = results
    response = client.post("/api/v1/panels/", payload, format="json")
    assert response.status_code == 201, response.json()
    return Panel.objects.get(pk=response.json()["id"])


@pytest.fixture
def critical_panel(
    critical_limits: ReferenceRangeSet,
    technician_client: APIClient,
    reachable_clinician: StaffMember,
    panel_payload: dict[str, Any],
) -> Panel:
    panel = submit(technician_client, panel_payload, CRITICAL_RESULTS)
    assert list(panel.results.values_list("interpretation", flat=True)) == ["HH", "N"]
    return panel


@pytest.fixture
def alert(critical_panel: Panel, director: StaffMember) -> CriticalAlert:
    panel_verify(panel_id=critical_panel.pk, user=director.user)
    return CriticalAlert.objects.get(panel=critical_panel)


def browser(staff: StaffMember) -> Client:
    client = Client()
    client.force_login(staff.user)
    return client


def rows(alert: CriticalAlert) -> list[tuple[str, str, str, str]]:
    return [
        (row.level, row.channel, row.recipient_name, row.outcome)
        for row in alert.notifications.order_by("pk")
    ]


# --- Opening on verification ------------------------------------------------------------------


def test_verifying_a_critical_panel_opens_an_alert_and_tells_the_ordering_clinician_at_once(
    critical_panel: Panel,
    director: StaffMember,
    lab: Lab,
    django_capture_on_commit_callbacks: Any,
) -> None:
    before = timezone.now()
    with django_capture_on_commit_callbacks() as callbacks:
        panel_verify(panel_id=critical_panel.pk, user=director.user)

    alert = CriticalAlert.objects.get(panel=critical_panel)
    assert alert.state == CriticalAlertState.OPEN
    assert alert.level == "ordering_clinician"
    assert alert.opened_by == director.user
    assert [result.analyte.code for result in alert.results.all()] == ["IL6"]
    assert alert.next_attempt_at == alert.opened_at + timedelta(minutes=15)
    assert alert.opened_at >= before
    assert rows(alert) == [
        ("ordering_clinician", "inbox", "Gregory House", "shown"),
        ("ordering_clinician", "email", "Gregory House", "queued"),
    ]
    email_row = alert.notifications.get(channel="email")
    assert email_row.address == "house@example.org"
    event = Event.objects.get(kind=EventKind.PANEL_CRITICAL_RESULT)
    assert (event.panel_id, event.actor_id, event.lab_id) == (
        critical_panel.pk,
        director.user_id,
        lab.pk,
    )
    assert event.payload == {
        "alert_id": alert.pk,
        "accession": "A-1001",
        "analytes": ["IL6"],
        "flags": ["HH"],
        "automatic": False,
        "corrected_after_release": False,
        "level": "ordering_clinician",
        "notifications": 2,
        "next_attempt_at": alert.next_attempt_at.isoformat(),
    }
    assert len(callbacks) == 1  # the email's message, sent once the verification committed


def test_the_email_is_sent_once_with_a_link_and_never_patient_data(
    alert: CriticalAlert, settings: Any
) -> None:
    settings.LABPANEL_PUBLIC_URL = "https://labpanel.example.org/"
    row = alert.notifications.get(channel="email")

    first = critical_email_send(notification_id=row.pk)
    again = critical_email_send(notification_id=row.pk)

    assert (first, again) == ("sent", "")
    [message] = mail.outbox
    assert message.to == ["house@example.org"]
    text = f"{message.subject}\n{message.body}"
    assert f"https://labpanel.example.org/critical/{alert.pk}/" in message.body
    for fact in PATIENT_DATA:
        assert fact not in text
    assert "IL-6" not in text
    assert "IL6" not in text
    row.refresh_from_db()
    assert (row.outcome, row.outcome_at is not None) == ("sent", True)


def test_a_clinician_without_an_address_is_told_in_the_inbox_and_the_row_says_no_address(
    critical_panel: Panel, reachable_clinician: StaffMember, director: StaffMember
) -> None:
    reachable_clinician.user.email = ""
    reachable_clinician.user.save()

    panel_verify(panel_id=critical_panel.pk, user=director.user)

    alert = CriticalAlert.objects.get(panel=critical_panel)
    assert [outcome for *_, outcome in rows(alert)] == ["shown", "no_address"]


def test_no_alert_when_no_result_is_critical(
    critical_limits: ReferenceRangeSet,
    technician_client: APIClient,
    panel_payload: dict[str, Any],
    director: StaffMember,
) -> None:
    panel = submit(technician_client, panel_payload, panel_payload["results"])  # IL-6 12.4: H

    panel_verify(panel_id=panel.pk, user=director.user)

    assert not CriticalAlert.objects.exists()
    assert not Event.objects.filter(kind=EventKind.PANEL_CRITICAL_RESULT).exists()


def test_no_limit_ships_so_the_default_set_never_flags_critical(
    technician_client: APIClient, panel_payload: dict[str, Any], director: StaffMember
) -> None:
    panel = submit(technician_client, panel_payload, CRITICAL_RESULTS)

    panel_verify(panel_id=panel.pk, user=director.user)

    assert list(panel.results.values_list("interpretation", flat=True)) == ["H", "N"]
    assert not CriticalAlert.objects.exists()


def test_auto_verification_leaves_a_critical_panel_to_a_person_whose_verification_opens_it(
    critical_limits: ReferenceRangeSet,
    technician_client: APIClient,
    reachable_clinician: StaffMember,
    panel_payload: dict[str, Any],
    lab: Lab,
    director: StaffMember,
) -> None:
    lab.auto_verification_enabled = True
    lab.save()
    normal = submit(technician_client, dict(panel_payload, accession="A-1"), NORMAL_RESULTS)
    critical = submit(technician_client, dict(panel_payload, accession="A-2"), CRITICAL_RESULTS)

    assert (normal.review_state, critical.review_state) == ("verified", "received")
    assert not CriticalAlert.objects.exists()

    panel_verify(panel_id=critical.pk, user=director.user)

    assert CriticalAlert.objects.get().panel_id == critical.pk


def test_an_automatic_verification_of_a_critical_panel_opens_the_alert_too(
    critical_panel: Panel,
) -> None:
    with transaction.atomic():
        panel = Panel.objects.select_for_update().get(pk=critical_panel.pk)
        review_transition(
            panel=panel,
            to_state=ReviewState.VERIFIED,
            actor=None,
            rule=AUTO_VERIFICATION_RULE,
            now=timezone.now(),
        )

    alert = CriticalAlert.objects.get(panel=critical_panel)
    assert alert.opened_by is None
    assert Event.objects.get(kind=EventKind.PANEL_CRITICAL_RESULT).payload["automatic"] is True
    assert len(rows(alert)) == 2


def test_verifying_again_after_an_amendment_keeps_the_one_open_alert(
    alert: CriticalAlert, critical_panel: Panel, director: StaffMember
) -> None:
    with transaction.atomic():
        panel = Panel.objects.select_for_update().get(pk=critical_panel.pk)
        review_transition(
            panel=panel, to_state=ReviewState.RECEIVED, actor=director.user, now=timezone.now()
        )
    panel_verify(panel_id=critical_panel.pk, user=director.user)

    assert list(CriticalAlert.objects.values_list("pk", flat=True)) == [alert.pk]
    assert Event.objects.filter(kind=EventKind.PANEL_CRITICAL_RESULT).count() == 1


# --- Acknowledgement and read-back ------------------------------------------------------------


def test_the_ordering_clinician_acknowledges_on_the_alert_page_and_escalation_stops(
    alert: CriticalAlert, reachable_clinician: StaffMember
) -> None:
    client = browser(reachable_clinician)
    page = client.get(f"/critical/{alert.pk}/")
    assert page.status_code == 200
    assert b"Acknowledge the critical result" in page.content
    assert b"Record phone read-back" not in page.content
    # the limit's provenance is shown beside the value (the rule's note)
    assert b"IL-6 critical high 5000 pg/mL: a local laboratory limit." in page.content

    response = client.post(f"/critical/{alert.pk}/acknowledge/")

    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.state == CriticalAlertState.ACKNOWLEDGED
    assert (alert.acknowledged_by, alert.acknowledgement) == (reachable_clinician.user, "clinician")
    assert alert.next_attempt_at is None
    event = Event.objects.get(kind=EventKind.PANEL_CRITICAL_ACKNOWLEDGED)
    assert event.payload["acknowledgement"] == "clinician"
    assert event.actor_id == reachable_clinician.user_id
    later = timezone.now() + timedelta(hours=2)
    assert critical_alerts_escalate(now=later) == 0
    shown = client.get(f"/critical/{alert.pk}/").content.decode()
    assert "Acknowledged — escalation stopped." in shown
    assert client.post(f"/critical/{alert.pk}/acknowledge/").status_code == 302  # said again
    assert Event.objects.filter(kind=EventKind.PANEL_CRITICAL_ACKNOWLEDGED).count() == 1


def test_the_lab_records_a_phone_read_back_which_ends_the_alert(
    alert: CriticalAlert, technician: StaffMember
) -> None:
    client = browser(technician)
    told_at = (timezone.now() - timedelta(minutes=3)).replace(second=0, microsecond=0)

    response = client.post(
        f"/critical/{alert.pk}/read-back/",
        {
            "person_called": "Nurse R. Ratched, ward 4",
            "read_back_by": "Nurse R. Ratched",
            "told_at": told_at.strftime("%Y-%m-%dT%H:%M"),
        },
    )

    assert response.status_code == 302
    alert.refresh_from_db()
    assert (alert.state, alert.acknowledgement) == (CriticalAlertState.ACKNOWLEDGED, "read_back")
    assert alert.acknowledged_at == told_at
    phone = alert.notifications.get(channel="phone")
    assert (phone.recipient_name, phone.read_back_by, phone.outcome, phone.recorded_by) == (
        "Nurse R. Ratched, ward 4",
        "Nurse R. Ratched",
        "read_back",
        technician.user,
    )
    page = client.get(f"/critical/{alert.pk}/").content.decode()
    assert "Read back by Nurse R. Ratched; recorded by tech" in page


def test_a_read_back_without_who_or_when_is_refused_and_the_alert_stays_open(
    alert: CriticalAlert, director: StaffMember
) -> None:
    response = browser(director).post(
        f"/critical/{alert.pk}/read-back/", {"person_called": "", "told_at": "2999-01-01T00:00"}
    )
    before_collection = browser(director).post(
        f"/critical/{alert.pk}/read-back/",
        {"person_called": "Dr Cuddy", "read_back_by": "Dr Cuddy", "told_at": "2020-01-01T00:00"},
    )

    assert response.status_code == 400
    assert b"This field is required." in response.content
    assert b"the call cannot be in the future" in response.content
    assert before_collection.status_code == 400
    assert b"the call cannot be before the collection" in before_collection.content
    alert.refresh_from_db()
    assert alert.state == CriticalAlertState.OPEN
    assert not alert.notifications.filter(channel="phone").exists()


def test_acknowledging_the_report_acknowledges_its_critical_alert(
    alert: CriticalAlert,
    critical_panel: Panel,
    director: StaffMember,
    reachable_clinician: StaffMember,
) -> None:
    report = panel_release(panel_id=critical_panel.pk, user=director.user)

    response = browser(reachable_clinician).post(f"/reports/{report.pk}/acknowledge/")

    assert response.status_code == 302
    alert.refresh_from_db()
    assert (alert.state, alert.acknowledgement) == (CriticalAlertState.ACKNOWLEDGED, "report")
    assert alert.acknowledged_by == reachable_clinician.user


# --- Who sees what ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("_case", "who", "status"),
    [
        ("the ordering clinician", "clinician", 200),
        ("a technician of the lab", "technician", 200),
        ("a director of the lab", "director", 200),
        ("another clinician of the lab", "other_clinician", 404),
        ("the lab's interface account", "integrator", 404),
        ("a director of another lab", "foreign_director", 404),
    ],
)
def test_the_alert_page_answers_the_ordering_clinician_and_the_lab_staff_only(
    alert: CriticalAlert,
    request: pytest.FixtureRequest,
    _case: str,
    who: str,
    status: int,
) -> None:
    if who == "foreign_director":
        staff = make_staff(username="elsewhere", lab=make_lab(name="Other"), role="director")
    else:
        staff = request.getfixturevalue(who)
    client = browser(staff)

    page = client.get(f"/critical/{alert.pk}/")
    acknowledge = client.post(f"/critical/{alert.pk}/acknowledge/")

    assert page.status_code == status
    # only the ordering clinician acknowledges; the staff who see it are refused (403)
    assert acknowledge.status_code == {"clinician": 302, "technician": 403, "director": 403}.get(
        who, 404
    )
    alert.refresh_from_db()
    assert alert.state == ("acknowledged" if who == "clinician" else "open")


def test_a_clinician_may_not_record_a_read_back_and_anonymous_users_are_sent_to_log_in(
    alert: CriticalAlert, reachable_clinician: StaffMember
) -> None:
    refused = browser(reachable_clinician).post(
        f"/critical/{alert.pk}/read-back/",
        {"person_called": "x", "read_back_by": "x", "told_at": "2026-12-01T08:00"},
    )
    anonymous = Client().get(f"/critical/{alert.pk}/")

    assert refused.status_code == 403
    assert anonymous.status_code == 302
    assert "/login/" in anonymous["Location"]
    assert not CriticalNotification.objects.filter(channel="phone").exists()


def test_the_inbox_opens_with_the_critical_results_awaiting_acknowledgement(
    alert: CriticalAlert, reachable_clinician: StaffMember, other_clinician: StaffMember
) -> None:
    client = browser(reachable_clinician)

    html = client.get("/inbox/").content.decode()

    section = html.index("Critical results awaiting acknowledgement (1)")
    assert section < html.index('<form method="get" role="search"')
    assert f'href="/critical/{alert.pk}/"' in html
    assert re.search(r"CRITICAL</strong>.*Interleukin-6 6000 pg/mL \(critical high\)", html, re.S)
    assert (
        "Critical results awaiting" not in browser(other_clinician).get("/inbox/").content.decode()
    )
    client.post(f"/critical/{alert.pk}/acknowledge/")
    assert "Critical results awaiting" not in client.get("/inbox/").content.decode()


@pytest.mark.parametrize(
    ("_case", "who", "listed"),
    [
        ("a technician of the lab", "technician", True),
        ("a director of the lab", "director", True),
        ("the ordering clinician", "clinician", True),
        ("another clinician of the lab", "other_clinician", False),
        ("the lab's interface account", "integrator", False),
        ("a director of another lab", "foreign_director", False),
    ],
)
def test_the_critical_list_shows_what_awaits_acknowledgement_to_who_may_see_it(
    alert: CriticalAlert,
    request: pytest.FixtureRequest,
    _case: str,
    who: str,
    listed: bool,
) -> None:
    if who == "foreign_director":
        staff = make_staff(username="elsewhere", lab=make_lab(name="Other"), role="director")
    else:
        staff = request.getfixturevalue(who)

    html = browser(staff).get("/critical/").content.decode()

    assert (f'href="/critical/{alert.pk}/"' in html) is listed
    assert ("None: every critical result has been acknowledged." in html) is not listed


def test_the_critical_list_empties_when_the_lab_records_the_read_back(
    alert: CriticalAlert, technician: StaffMember
) -> None:
    client = browser(technician)
    assert (
        "Critical results awaiting acknowledgement (1)" in client.get("/critical/").content.decode()
    )
    assert 'href="/critical/"' in client.get("/worklist/").content.decode()  # in the navigation

    client.post(
        f"/critical/{alert.pk}/read-back/",
        {
            "person_called": "Dr Cuddy (ICU)",
            "read_back_by": "Dr Cuddy",
            "told_at": "2026-12-01T08:00",
        },
    )

    assert "None: every critical result" in client.get("/critical/").content.decode()


# --- The demo lab -----------------------------------------------------------------------------


def test_seed_demo_sets_one_local_critical_limit_in_the_demo_labs_own_set_once(
    reference_data: None,
) -> None:
    call_command("seed_demo", "--force-demo", stdout=io.StringIO())
    call_command("seed_demo", "--force-demo", stdout=io.StringIO())

    [ruleset] = ReferenceRangeSet.objects.filter(lab__isnull=False)
    assert ruleset.lab is not None
    assert (ruleset.key, ruleset.status, ruleset.lab.name) == (
        "demo-lab-cytokine",
        "active",
        "Labpanel Demo Laboratory",
    )
    limited = ReferenceRangeRule.objects.filter(ruleset=ruleset, critical_high__isnull=False)
    [rule] = limited
    assert (rule.analyte.code, rule.unit, rule.critical_high) == ("IL6", "pg/mL", Decimal("5000"))
    assert "a local laboratory limit" in rule.note
    assert "not a published limit" in rule.note
    assert rule.source == "ARUP Laboratories"  # the interval's own source is kept
    assert not ReferenceRangeRule.objects.filter(
        ruleset__lab__isnull=True, critical_high__isnull=False
    ).exists()
    assert Report.objects.count() == 0


def test_the_inbox_section_query_count_is_constant_in_the_number_of_alerts(
    critical_limits: ReferenceRangeSet,
    technician_client: APIClient,
    reachable_clinician: StaffMember,
    director: StaffMember,
    panel_payload: dict[str, Any],
    django_assert_num_queries: Any,
) -> None:
    client = browser(reachable_clinician)
    for number in range(1, 4):
        panel = submit(
            technician_client, dict(panel_payload, accession=f"A-{number}"), CRITICAL_RESULTS
        )
        panel_verify(panel_id=panel.pk, user=director.user)
        # the inbox (nothing released yet: 3), the alerts and their results, the read audit's
        # entry
        with django_assert_num_queries(6):
            html = client.get("/inbox/").content.decode()
        assert f"Critical results awaiting acknowledgement ({number})" in html


def test_a_correction_after_release_to_a_critical_value_opens_a_new_alert(
    alert: CriticalAlert,
    critical_panel: Panel,
    director: StaffMember,
    reachable_clinician: StaffMember,
    technician_client: APIClient,
) -> None:
    report = panel_release(panel_id=critical_panel.pk, user=director.user)
    browser(reachable_clinician).post(f"/reports/{report.pk}/acknowledge/")  # the first one ends
    report_render(report_id=report.pk)

    def correct(analyte: str, value: str) -> None:
        response = technician_client.post(
            f"/api/v1/panels/{critical_panel.pk}/amendments/",
            {
                "reason": "Transcription error",
                "results": [{"analyte": analyte, "value": value, "unit": "pg/mL"}],
            },
            format="json",
        )
        assert response.status_code == 201, response.json()
        for pending in Report.objects.filter(panel=critical_panel, status="pending"):
            report_render(report_id=pending.pk)

    correct("TNFA", "6.0")  # IL-6 unchanged: nothing new to tell
    assert CriticalAlert.objects.filter(panel=critical_panel).count() == 1

    correct("IL-6", "7000")

    opened = CriticalAlert.objects.get(panel=critical_panel, state="open")
    assert [result.raw_value for result in opened.results.all()] == ["7000"]
    assert opened.opened_by == User.objects.get(username="tech")
    event = Event.objects.filter(kind=EventKind.PANEL_CRITICAL_RESULT).last()
    assert event is not None
    assert event.payload["corrected_after_release"] is True
