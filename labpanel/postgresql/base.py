"""Django's PostgreSQL backend, its ``timestamptz`` values loaded by psycopg's C loader.

Django registers, on every psycopg 3 connection, a ``timestamptz`` loader of its own that
derives from psycopg's pure-Python loader (Django ticket #36960): psycopg's C loader cannot be
derived from, so every timestamp a query returns is parsed in Python, about 2 µs each here. A
FHIR DiagnosticReport search of 50 reports reads some 500 of them (bench/fhir_search.py).

Django's loader parses the value, then sets its time zone to the connection's (``replace``, no
conversion). With ``USE_TZ`` and no ``TIME_ZONE`` of the database's own, that zone is UTC and
Django sets the session's ``TimeZone`` to UTC when it connects, so PostgreSQL writes every
``timestamptz`` with the offset ``+00`` and psycopg's loaders give ``datetime.timezone.utc``
already: the same values, the same zone object. Only then is :class:`UtcTimestamptzLoader`
registered; any other configuration keeps Django's. ``tests/test_postgresql_backend.py``
compares the two loaders over the same values read from PostgreSQL.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.db.backends.postgresql import base
from psycopg import adapters
from psycopg.adapt import Loader
from psycopg.pq import Format
from psycopg.types.datetime import TimestamptzLoader

TIMESTAMPTZ = adapters.types["timestamptz"].oid

# The loader psycopg itself registers for timestamptz: its C implementation when psycopg's
# binary package is installed (requirements.txt), else its Python one.
_PSYCOPG_LOADER = adapters.get_loader(TIMESTAMPTZ, Format.TEXT) or TimestamptzLoader


class UtcTimestamptzLoader(Loader):
    """psycopg's own ``timestamptz`` loader, under the name Django checks: ``timezone`` is
    what Django's ``create_cursor`` compares with the connection's before it registers its
    loader on a cursor."""

    timezone = datetime.UTC

    def __init__(self, oid: int, context: Any = None):
        super().__init__(oid, context)
        self._psycopg_load = _PSYCOPG_LOADER(oid, context).load
        # the instance's ``load`` is psycopg's loader's own bound method: psycopg calls it
        # without a Python frame of ours in between (the method below does the same, a frame
        # later, for a caller that looks ``load`` up on the class)
        self.load = self._psycopg_load  # type: ignore[method-assign]

    def load(self, data: Any) -> datetime.datetime:
        loaded: datetime.datetime = self._psycopg_load(data)
        return loaded


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        connection = super().get_new_connection(conn_params)
        if utc_sessions(self):
            connection.adapters.register_loader(TIMESTAMPTZ, UtcTimestamptzLoader)
        return connection


def utc_sessions(wrapper: base.DatabaseWrapper) -> bool:
    """Whether Django sets ``wrapper``'s sessions to UTC and reads timestamps as UTC: the
    condition under which psycopg's loader gives what Django's would."""
    return bool(
        settings.USE_TZ and wrapper.timezone is datetime.UTC and wrapper.timezone_name == "UTC"
    )
