"""Helpers for the fault tests: processes started as deployed on this test's database, and
PostgreSQL backends terminated by application name."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection

from tests.e2e.launcher import process_start

BASE_DIR = Path(__file__).resolve().parents[2]


def database_url() -> str:
    """This test's database (the transactional test database every process shares)."""
    database = connection.settings_dict
    return f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"


def admin_connect() -> psycopg.Connection[Any]:
    """A connection of the test's own to its database (autocommit), never one of the killed."""
    return psycopg.connect(database_url().replace("postgres://", "postgresql://"), autocommit=True)


def process_env(application_name: str, **extra: str) -> dict[str, str]:
    """The environment of a service process on this test's database and Redis queue; its
    PostgreSQL connections carry ``application_name`` (libpq reads PGAPPNAME)."""
    return {
        **os.environ,
        "DATABASE_URL": database_url(),
        "PGAPPNAME": application_name,
        **extra,
    }


def backends_terminate(
    admin: psycopg.Connection[Any], application_name: str, *, waiting_on_lock: bool = False
) -> list[int]:
    """``pg_terminate_backend`` every backend of this test's database that ``application_name``
    opened (only those waiting for a lock, if asked); the pids terminated."""
    rows = admin.execute(
        "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND application_name = %s AND (NOT %s OR wait_event_type = 'Lock')",
        [application_name, waiting_on_lock],
    ).fetchall()
    return [pid for pid, terminated in rows if terminated]


def backend_waiting_on_lock(
    admin: psycopg.Connection[Any], application_name: str, query_prefix: str = ""
) -> int | None:
    row = admin.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND application_name = %s AND wait_event_type = 'Lock' AND query ILIKE %s",
        [application_name, f"{query_prefix}%"],
    ).fetchone()
    return int(row[0]) if row else None


def until(condition: Callable[[], Any], what: str, seconds: float = 30) -> Any:
    """Poll ``condition`` until it returns something truthy; that value."""
    deadline = time.monotonic() + seconds
    while not (value := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)
    return value


@contextmanager
def table_locked(table: str) -> Iterator[psycopg.Connection[Any]]:
    """Hold an EXCLUSIVE lock on ``table`` (reads pass, writes wait) until the block ends: a
    writer is then stopped in the middle of its transaction, where it can be terminated."""
    with admin_connect() as locker, locker.transaction():
        locker.execute(f'LOCK TABLE "{table}" IN EXCLUSIVE MODE')
        yield locker


def python_process(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``python args...`` in the project folder, its output appended to ``log``."""
    return process_start([sys.executable, *args], env, log)
