"""The project's PostgreSQL backend (``labpanel.postgresql``): timestamps are loaded by
psycopg's own loader (its C implementation) where that gives exactly what Django's loader
gives, and by Django's everywhere else."""

from __future__ import annotations

import datetime
import time
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.db.backends.postgresql import base
from django.db.backends.postgresql.psycopg_any import register_tzloader
from django.test import override_settings
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg import DataError
from psycopg.pq import Format

from labpanel.postgresql.base import (
    TIMESTAMPTZ,
    DatabaseWrapper,
    UtcTimestamptzLoader,
    utc_sessions,
)

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the PostgreSQL backend's own loader"
)


def _read(values: list[Any], *, loader: str) -> list[Any]:
    """``values`` sent as ``timestamptz`` text and read back, by ``loader``: "django" (the
    loader Django registers) or "ours"; an error's type and message in place of a value."""
    connection.ensure_connection()
    cursor = connection.connection.cursor()
    if loader == "django":
        register_tzloader(datetime.UTC, cursor)
    else:
        cursor.adapters.register_loader(TIMESTAMPTZ, UtcTimestamptzLoader)
    answers: list[Any] = []
    for value in values:
        try:
            answers.append(cursor.execute("SELECT %s::timestamptz", [value]).fetchone()[0])
        except DataError as error:
            answers.append((type(error), str(error)))
            connection.connection.rollback()
    cursor.close()
    return answers


@pytest.mark.django_db
def test_every_connection_and_cursor_loads_timestamps_with_psycopgs_loader() -> None:
    connection.ensure_connection()
    assert isinstance(connections["default"], DatabaseWrapper)
    assert connection.connection.adapters.get_loader(TIMESTAMPTZ, Format.TEXT) is (
        UtcTimestamptzLoader
    )
    with connection.cursor() as cursor:
        # Django registers its own loader on a cursor whose connection's zone differs: not here
        assert cursor.cursor.adapters.get_loader(TIMESTAMPTZ, Format.TEXT) is (UtcTimestamptzLoader)
        cursor.execute("SHOW TimeZone")
        assert cursor.fetchone() == ("UTC",)
        cursor.execute("SELECT '2026-12-07 17:05:09.000123+01:30'::timestamptz")
        (moment,) = cursor.fetchone()
    assert moment == datetime.datetime(2026, 12, 7, 15, 35, 9, 123, tzinfo=datetime.UTC)
    assert moment.tzinfo is datetime.UTC


@pytest.mark.django_db
def test_the_edges_load_as_djangos_loader_loads_them() -> None:
    values = [
        "0001-01-01 00:00:00+00",
        "9999-12-31 23:59:59.999999+00",
        "1900-03-01 12:00:00.5-03:30",
        "2026-03-29 01:30:00+01",
        "infinity",
        "-infinity",
        "0002-01-01 BC",
        "10000-01-01",
    ]
    ours = _read(values, loader="ours")
    assert ours == _read(values, loader="django")
    assert ours[0] == datetime.datetime(1, 1, 1, tzinfo=datetime.UTC)
    assert [type(answer) for answer in ours[4:]] == [tuple] * 4  # refused alike, never guessed
    assert all(answer.tzinfo is datetime.UTC for answer in ours[:4])


@pytest.mark.django_db
@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        # hypothesis takes naive bounds, and the zones apart
        st.datetimes(
            min_value=datetime.datetime(1, 1, 2),  # noqa: DTZ001
            max_value=datetime.datetime(9999, 12, 30),  # noqa: DTZ001
            timezones=st.sampled_from(
                [
                    datetime.UTC,
                    datetime.timezone(datetime.timedelta(hours=5, minutes=30)),
                    datetime.timezone(-datetime.timedelta(hours=11)),
                ]
            ),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_any_instant_loads_as_djangos_loader_loads_it(moments: list[datetime.datetime]) -> None:
    texts = [moment.isoformat() for moment in moments]
    ours = _read(texts, loader="ours")
    assert ours == _read(texts, loader="django") == moments
    assert all(answer.tzinfo is datetime.UTC for answer in ours)


@pytest.mark.parametrize(
    ("use_tz", "database_zone", "expected"),
    [(True, None, True), (True, "Europe/Paris", False), (False, None, False)],
)
def test_only_utc_sessions_read_as_utc_take_psycopgs_loader(
    use_tz: bool, database_zone: str | None, expected: bool
) -> None:
    with override_settings(USE_TZ=use_tz):
        wrapper = DatabaseWrapper({**connection.settings_dict, "TIME_ZONE": database_zone})
        assert utc_sessions(wrapper) is expected


@pytest.mark.django_db
def test_the_loaders_method_loads_as_its_instance_attribute_does() -> None:
    connection.ensure_connection()
    loader = UtcTimestamptzLoader(TIMESTAMPTZ, connection.connection)
    text = b"2026-12-07 17:05:09.000123+00"
    by_method = UtcTimestamptzLoader.load(loader, text)
    assert by_method == loader.load(text)
    assert by_method == datetime.datetime(2026, 12, 7, 17, 5, 9, 123, tzinfo=datetime.UTC)


def _servers_checks(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """What Django's own health check (``SELECT 1``) answered, each time it was asked."""
    asked: list[bool] = []
    django_check = base.DatabaseWrapper.is_usable

    def check(self: Any) -> bool:
        asked.append(django_check(self))
        return asked[-1]

    monkeypatch.setattr(base.DatabaseWrapper, "is_usable", check)
    return asked


@pytest.mark.django_db(transaction=True)
def test_an_idle_connection_with_nothing_to_read_is_used_without_a_round_trip(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connection.ensure_connection()
    asked = _servers_checks(monkeypatch)
    # when / then: nothing waits on its socket, so nothing is sent
    assert connection.is_usable() is True
    assert asked == []
    # and: inside a transaction the server is asked, as Django asks it
    with transaction.atomic():
        connection.cursor().execute("SELECT 1")
        assert connection.is_usable() is True
    assert asked == [True]


@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_ended_is_not_used_and_the_next_statement_reconnects(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
            for _ in range(200):  # until the backend has gone (it said so on its way out)
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
                if cursor.fetchone() == (0,):
                    break
                time.sleep(0.01)
    finally:
        other.close()
    asked = _servers_checks(monkeypatch)
    # when / then: its socket holds the server's last words, so the server is asked, and fails
    assert connection.is_usable() is False
    assert asked == [False]
    # and: at the next request's start (what close_old_connections does), Django's health
    # check drops it; the next statement runs on a new connection
    connection.close_if_unusable_or_obsolete()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone() != (pid,)
