"""Django's PostgreSQL backend, its ``timestamptz`` values loaded by psycopg's C loader, and its
health check asking the server only when the idle connection has something to say.

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

**The health check** (``CONN_HEALTH_CHECKS``, on in ``labpanel.settings``): Django checks a kept
connection before a request's (or a task's) first statement by sending ``SELECT 1``, a round
trip that cost a panel read about a tenth of its time (bench/panel_read.py). A connection the
server ended (a restart, ``pg_terminate_backend``, an idle timeout) has its last words waiting
on its socket: PostgreSQL sends a FATAL error, then closes. So :meth:`DatabaseWrapper.is_usable`
first looks at the idle connection's socket without waiting (``poll``): nothing to read, and the
connection is used as it is; anything to read (the FATAL, the close, or an unexpected notice),
or a connection not idle, and Django's ``SELECT 1`` decides, as before. What neither notices, a
peer gone silent without closing, makes the first statement fail as it made ``SELECT 1`` wait;
the request then answers 503 (``labpanel.middleware``). ``tests/test_postgresql_backend.py``
checks both outcomes on real connections; ``tests/e2e/test_faults_database.py`` terminates the
deployed server's connections under load.
"""

from __future__ import annotations

import datetime
import select
from typing import Any

from django.conf import settings
from django.db.backends.postgresql import base
from psycopg import adapters
from psycopg.adapt import Loader
from psycopg.pq import Format, TransactionStatus
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

    def is_usable(self) -> bool:
        """Whether the kept connection can be used (the module's docstring): its socket polled
        first; Django's ``SELECT 1`` when the socket has something to read or the connection
        is not idle."""
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        if connection.info.transaction_status != TransactionStatus.IDLE:
            return bool(super().is_usable())
        try:
            poller = select.poll()
            poller.register(connection.fileno(), select.POLLIN | select.POLLPRI)
            waiting = poller.poll(0)
        except (OSError, ValueError, AttributeError):  # no poll() here, or no socket
            return bool(super().is_usable())
        return True if not waiting else bool(super().is_usable())


def utc_sessions(wrapper: base.DatabaseWrapper) -> bool:
    """Whether Django sets ``wrapper``'s sessions to UTC and reads timestamps as UTC: the
    condition under which psycopg's loader gives what Django's would."""
    return bool(
        settings.USE_TZ and wrapper.timezone is datetime.UTC and wrapper.timezone_name == "UTC"
    )
