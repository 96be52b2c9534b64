"""Escalation of critical results nobody acknowledged (issue 12): Celery beat's entry runs every
minute and the task it names escalates each due alert — ordering clinician, then the lab's
directors, then the lab's on-call contact, then ``exhausted`` — every attempt recorded. Time is
under control (time-machine). The schedule is in PostgreSQL: a Redis of the test's own is flushed
and restarted between attempts and the next beat run still escalates (and sends again the email
whose message was lost). Alerts are claimed with ``SKIP LOCKED``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import redis
import time_machine
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from labpanel.accounts.models import Lab, StaffMember
from labpanel.celery import app, queue_depth
from labpanel.events.models import Event, EventKind
from panels import critical_tasks  # noqa: F401 - registers the tasks beat names
from panels.critical import critical_alerts_escalate
from panels.models import CriticalAlert, Panel
from panels.models_critical import CriticalAlertState
from panels.review import panel_verify
from reference_ranges.models import ReferenceRangeSet
from tests.broker import RedisServer, celery_broker
from tests.panels.test_critical_alerts import CRITICAL_RESULTS, browser, rows, submit

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("queue_emptied")]

BEAT_ENTRY = "escalate-critical-alerts"


@pytest.fixture
def queue_emptied() -> Iterator[None]:
    """The email messages these tests really send (the beat task sends lost ones again at
    once, and a transactional test commits) are removed from this run's queue afterwards."""
    yield
    with app.connection_for_write() as broker:
        channel: Any = broker.default_channel
        channel.queue_purge(app.conf.task_default_queue)


@pytest.fixture
def start() -> datetime:
    """A moment after today (the lab's set is in force from today), whole minutes."""
    return (timezone.now() + timedelta(days=1)).replace(second=0, microsecond=0)


@pytest.fixture
def on_call_lab(lab: Lab, director: StaffMember) -> Lab:
    lab.critical_ack_limit_minutes = 15
    lab.critical_on_call_name = "Dr On Call"
    lab.critical_on_call_phone = "+1 555 0100"
    lab.critical_on_call_email = "oncall@example.org"
    lab.save()
    director.user.email = "director@example.org"
    director.user.save()
    return lab


def beat_run() -> None:
    """What beat does each minute: send the task its schedule entry names (run here, in
    process, at the time the test set)."""
    entry = settings.CELERY_BEAT_SCHEDULE[BEAT_ENTRY]
    assert isinstance(entry, dict)
    assert entry["schedule"] == 60.0
    app.tasks[entry["task"]].apply().get()


def verified_critical_panel(
    client: APIClient, payload: dict[str, Any], director: StaffMember, accession: str = "A-1001"
) -> CriticalAlert:
    panel = submit(client, dict(payload, accession=accession), CRITICAL_RESULTS)
    panel_verify(panel_id=panel.pk, user=director.user)
    return CriticalAlert.objects.get(panel=panel)


def test_beat_escalates_to_the_directors_then_on_call_then_records_exhaustion(
    critical_limits: ReferenceRangeSet,
    technician_client: APIClient,
    reachable_clinician: StaffMember,
    on_call_lab: Lab,
    director: StaffMember,
    panel_payload: dict[str, Any],
    start: datetime,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with time_machine.travel(start, tick=False) as traveller:
        alert = verified_critical_panel(technician_client, panel_payload, director)

        def at(minutes: int) -> CriticalAlert:
            traveller.move_to(start + timedelta(minutes=minutes))
            with django_capture_on_commit_callbacks() as callbacks:
                beat_run()
            alert.refresh_from_db()
            alert.sent = len(callbacks)  # type: ignore[attr-defined]
            return alert

        assert at(14).level == "ordering_clinician"  # within the lab's 15 minutes
        assert at(15).level == "lab_director"
        assert alert.next_attempt_at == start + timedelta(minutes=30)
        assert alert.sent == 1  # type: ignore[attr-defined] # the director's email
        assert at(29).level == "lab_director"
        assert at(30).level == "on_call"
        assert alert.state == CriticalAlertState.OPEN
        exhausted = at(45)
        assert exhausted.state == CriticalAlertState.EXHAUSTED
        assert (exhausted.exhausted_at, exhausted.next_attempt_at) == (
            start + timedelta(minutes=45),
            None,
        )
        assert at(120).state == CriticalAlertState.EXHAUSTED  # nothing more to do

    assert rows(alert) == [
        ("ordering_clinician", "inbox", "Gregory House", "shown"),
        ("ordering_clinician", "email", "Gregory House", "queued"),
        ("lab_director", "inbox", "director", "shown"),
        ("lab_director", "email", "director", "queued"),
        ("on_call", "phone", "Dr On Call", "call_due"),
        ("on_call", "email", "Dr On Call", "queued"),
    ]
    attempts = {row.level: row.attempted_at for row in alert.notifications.all()}
    assert attempts == {
        "ordering_clinician": start,
        "lab_director": start + timedelta(minutes=15),
        "on_call": start + timedelta(minutes=30),
    }
    escalations = [
        (event.payload["from_level"], event.payload["to_level"], event.occurred_at)
        for event in Event.objects.filter(kind=EventKind.PANEL_CRITICAL_ESCALATED)
    ]
    assert escalations == [
        ("ordering_clinician", "lab_director", start + timedelta(minutes=15)),
        ("lab_director", "on_call", start + timedelta(minutes=30)),
        ("on_call", "exhausted", start + timedelta(minutes=45)),
    ]
    # shown: on the alert page and in the inbox, until someone acknowledges
    page = browser(director).get(f"/critical/{alert.pk}/").content.decode()
    assert "Critical — escalation exhausted, not acknowledged." in page
    assert "+1 555 0100" in page
    inbox = browser(reachable_clinician).get("/inbox/").content.decode()
    assert "Escalation exhausted — not acknowledged." in inbox


def test_a_level_with_nobody_to_tell_is_recorded_and_skipped(
    critical_limits: ReferenceRangeSet,
    technician_client: APIClient,
    reachable_clinician: StaffMember,
    director: StaffMember,
    panel_payload: dict[str, Any],
    start: datetime,
) -> None:
    with time_machine.travel(start, tick=False) as traveller:
        alert = verified_critical_panel(technician_client, panel_payload, director)
        director.user.is_active = False  # the lab's only director left
        director.user.save()
        traveller.move_to(start + timedelta(minutes=15))
        beat_run()

    alert.refresh_from_db()
    assert alert.state == CriticalAlertState.EXHAUSTED
    assert rows(alert)[2:] == [
        ("lab_director", "inbox", "", "no_recipient"),
        ("on_call", "inbox", "", "no_recipient"),
    ]


def test_an_acknowledged_alert_is_never_escalated(
    critical_limits: ReferenceRangeSet,
    technician_client: APIClient,
    reachable_clinician: StaffMember,
    director: StaffMember,
    panel_payload: dict[str, Any],
    start: datetime,
) -> None:
    with time_machine.travel(start, tick=False) as traveller:
        alert = verified_critical_panel(technician_client, panel_payload, director)
        browser(reachable_clinician).post(f"/critical/{alert.pk}/acknowledge/")
        traveller.move_to(start + timedelta(hours=3))
        beat_run()

    alert.refresh_from_db()
    assert (alert.state, alert.level) == (CriticalAlertState.ACKNOWLEDGED, "ordering_clinician")
    assert not Event.objects.filter(kind=EventKind.PANEL_CRITICAL_ESCALATED).exists()


# --- Nothing lost when Redis restarts ---------------------------------------------------------


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A Redis of this test's own (the shared one is never flushed), the Celery app on it."""
    server = RedisServer()
    server.start()
    try:
        with celery_broker(server.url):
            yield server
    finally:
        server.stop()


def test_the_schedule_survives_redis_being_flushed_and_restarted_between_attempts(
    own_redis: RedisServer,
    critical_limits: ReferenceRangeSet,
    technician_client: APIClient,
    reachable_clinician: StaffMember,
    on_call_lab: Lab,
    director: StaffMember,
    panel_payload: dict[str, Any],
    start: datetime,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with time_machine.travel(start, tick=False) as traveller:
        panel = submit(technician_client, panel_payload, CRITICAL_RESULTS)  # render not sent
        with django_capture_on_commit_callbacks(execute=True):
            panel_verify(panel_id=panel.pk, user=director.user)
        alert = CriticalAlert.objects.get(panel=panel)
        assert queue_depth() == 1  # the clinician's email, waiting for a worker

        redis.Redis.from_url(own_redis.url).flushdb()  # every message lost
        assert queue_depth() == 0

        traveller.move_to(start + timedelta(minutes=15))
        with django_capture_on_commit_callbacks(execute=True):
            beat_run()
        alert.refresh_from_db()
        assert alert.level == "lab_director"
        # the director's email, and the clinician's whose message the flush lost
        assert queue_depth() == 2

        own_redis.stop()  # a crash: whatever it held is gone
        own_redis.start()
        assert queue_depth() == 0

        traveller.move_to(start + timedelta(minutes=30))
        with django_capture_on_commit_callbacks(execute=True):
            beat_run()
        alert.refresh_from_db()
        assert alert.level == "on_call"
        # on-call's email, and the two lost ones sent again (sending claims each row once)
        assert queue_depth() == 3


# --- Two beat runs at once: SKIP LOCKED -------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_alert_locked_by_another_transaction_is_skipped_not_waited_for(
    critical_limits: ReferenceRangeSet,
    technician_client: APIClient,
    reachable_clinician: StaffMember,
    director: StaffMember,
    panel_payload: dict[str, Any],
) -> None:
    first = verified_critical_panel(technician_client, panel_payload, director, "A-1")
    second = verified_critical_panel(technician_client, panel_payload, director, "A-2")
    later = timezone.now() + timedelta(hours=1)
    locked, release = threading.Event(), threading.Event()

    def hold_first() -> None:
        try:
            with transaction.atomic():
                CriticalAlert.objects.select_for_update().get(pk=first.pk)
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_first)
    holder.start()
    try:
        assert locked.wait(timeout=30)
        escalated = critical_alerts_escalate(now=later)
    finally:
        release.set()
        holder.join(timeout=30)

    first.refresh_from_db()
    second.refresh_from_db()
    assert escalated == 1
    assert (first.level, second.level) == ("ordering_clinician", "lab_director")
    assert critical_alerts_escalate(now=later) == 1  # its turn once the lock is gone
    first.refresh_from_db()
    assert first.level == "lab_director"
    assert Panel.objects.count() == 2
