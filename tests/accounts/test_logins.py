"""Logins are locked after repeated failures (django-axes on the web and admin logins), API
tokens are not, and a session ends after idle time (labpanel.logins)."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.test import Client

from labpanel.accounts.models import StaffMember
from tests.conftest import token_client

pytestmark = pytest.mark.django_db

PASSWORD = "right-horse-battery"
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def tech(technician: StaffMember) -> StaffMember:
    technician.user.set_password(PASSWORD)
    technician.user.save(update_fields=["password"])
    return technician


def _login(client: Client, username: str, password: str, path: str = "/login/") -> int:
    return client.post(path, {"username": username, "password": password}).status_code


def _logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_thirty_wrong_passwords_then_the_right_one_is_refused_with_the_locked_page(
    tech: StaffMember,
) -> None:
    client = Client()
    statuses = [_login(client, "tech", f"wrong-{n}") for n in range(30)]

    response = client.post("/login/", {"username": "tech", "password": PASSWORD})

    # the form answers the first failures; the fifth locks the login
    assert statuses == [200] * 4 + [429] * 26
    assert response.status_code == 429
    assert not _logged_in(client)
    page = response.content.decode()
    assert "Login locked" in page
    assert "Too many failed logins in a row (5)" in page
    assert "locked for 15 minutes" in page


def test_the_right_password_logs_in_through_the_staff_backend(tech: StaffMember) -> None:
    client = Client()

    assert _login(client, "tech", PASSWORD) == 302

    # django-axes' backend only checks the lock; the user is the staff backend's
    assert client.session["_auth_user_backend"] == "labpanel.accounts.backends.StaffModelBackend"
    assert _home(client) == "/worklist/"


def test_failed_logins_leave_no_password_and_log_no_user_name(
    tech: StaffMember, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="axes")
    for n in range(5):
        _login(Client(), "tech", f"wrong-{n}")

    attempt = AccessAttempt.objects.get()
    assert "wrong-" not in attempt.post_data
    axes_lines = [
        record.getMessage() for record in caplog.records if record.name.startswith("axes")
    ]
    assert any("Locking out ip_address=127.0.0.1 path=/login/" in line for line in axes_lines)
    assert not [line for line in axes_lines if "tech" in line]


def test_the_admin_login_is_locked_as_well(director: StaffMember) -> None:
    director.user.set_password(PASSWORD)
    director.user.is_staff = True
    director.user.save(update_fields=["password", "is_staff"])
    client = Client()
    for n in range(5):
        _login(client, "director", f"wrong-{n}", path="/admin/login/")

    response = client.post("/admin/login/", {"username": "director", "password": PASSWORD})

    assert response.status_code == 429
    assert "Login locked" in response.content.decode()
    assert not _logged_in(client)


def test_the_lock_holds_one_username_at_one_address_only(tech: StaffMember) -> None:
    for n in range(5):
        _login(Client(REMOTE_ADDR="10.0.0.66"), "tech", f"wrong-{n}")

    elsewhere = Client(REMOTE_ADDR="10.0.0.7")

    assert _login(elsewhere, "tech", PASSWORD) == 302
    assert _logged_in(elsewhere)


def test_api_tokens_keep_working_while_the_login_is_locked(tech: StaffMember) -> None:
    for n in range(6):
        _login(Client(), "tech", f"wrong-{n}")

    response = token_client(tech).get("/api/v1/panels/")

    assert response.status_code == 200


def test_a_success_resets_the_count(tech: StaffMember) -> None:
    client = Client()
    for _round in range(3):
        for n in range(4):
            assert _login(client, "tech", f"wrong-{n}") == 200
        assert _login(client, "tech", PASSWORD) == 302
        client.logout()


def test_the_lock_ends_after_the_cool_off(tech: StaffMember) -> None:
    client = Client()
    with time_machine.travel(START, tick=False) as clock:
        for n in range(5):
            _login(client, "tech", f"wrong-{n}")
        clock.shift(timedelta(minutes=14))
        assert _login(client, "tech", PASSWORD) == 429
        clock.shift(timedelta(minutes=16))

        assert _login(client, "tech", PASSWORD) == 302


def test_axes_reset_username_lifts_the_lock(tech: StaffMember) -> None:
    client = Client()
    for n in range(5):
        _login(client, "tech", f"wrong-{n}")
    assert _login(client, "tech", PASSWORD) == 429

    call_command("axes_reset_username", "tech", stdout=io.StringIO())

    assert _login(client, "tech", PASSWORD) == 302


def _home(client: Client) -> str:
    """Where ``/`` sends the client: the worklist when logged in, the login page otherwise."""
    response = client.get("/")
    assert response.status_code == 302
    return str(response["Location"])


def test_an_api_token_request_makes_no_session(tech: StaffMember) -> None:
    response = token_client(tech).get("/api/v1/panels/")

    assert response.status_code == 200
    assert "sessionid" not in response.cookies
    assert not Session.objects.exists()


def test_a_session_not_made_by_a_login_request_is_not_written(
    tech: StaffMember, django_assert_num_queries: Any
) -> None:
    client = Client()
    client.force_login(tech.user)  # saved outside a request: no activity stamp
    _home(client)

    with django_assert_num_queries(2):  # the session and the user: no write
        assert _home(client) == "/worklist/"


def test_a_session_ends_after_idle_time(tech: StaffMember) -> None:
    client = Client()
    with time_machine.travel(START, tick=False) as clock:
        assert _login(client, "tech", PASSWORD) == 302
        clock.shift(timedelta(minutes=settings.SESSION_IDLE_MINUTES - 1))
        assert _home(client) == "/worklist/"
        clock.shift(timedelta(minutes=settings.SESSION_IDLE_MINUTES, seconds=1))

        assert _home(client).startswith("/login/")


def test_activity_keeps_a_session_alive_past_the_idle_time(tech: StaffMember) -> None:
    client = Client()
    with time_machine.travel(START, tick=False) as clock:
        assert _login(client, "tech", PASSWORD) == 302
        for _step in range(4):  # two hours in steps of 20 minutes of idleness
            clock.shift(timedelta(minutes=20))
            assert _home(client) == "/worklist/"

        assert _home(client) == "/worklist/"


def test_the_session_expiry_is_written_at_most_once_a_minute(tech: StaffMember) -> None:
    client = Client()
    with time_machine.travel(START, tick=False) as clock:
        _login(client, "tech", PASSWORD)
        key = client.session.session_key
        expiry_at_login = Session.objects.get(session_key=key).expire_date
        clock.shift(timedelta(seconds=59))
        _home(client)
        assert Session.objects.get(session_key=key).expire_date == expiry_at_login
        clock.shift(timedelta(seconds=2))
        _home(client)

        assert Session.objects.get(session_key=key).expire_date == expiry_at_login + timedelta(
            seconds=61
        )


def test_a_request_that_needs_no_login_reads_no_session(
    tech: StaffMember, django_assert_num_queries: Any
) -> None:
    """A logged-in browser's request to a view that needs no login (the health check) does not
    read the session row to stamp it: such a request is not the login's activity."""
    client = Client()
    assert _login(client, "tech", PASSWORD) == 302

    with django_assert_num_queries(1) as captured:  # the health check's own SELECT 1
        assert client.get("/healthz").status_code == 200
    assert "django_session" not in captured.captured_queries[0]["sql"]
