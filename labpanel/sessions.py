"""The session engine (``SESSION_ENGINE``): Django's database sessions, except that reading a
session, which every page behind the login does first, is one plain statement rather than a
compiled queryset (``bench/review_pages.py`` measures what the login costs a page). Saving,
creating, deleting and expiring are Django's own."""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import connections, router
from django.utils import timezone


class SessionStore(DatabaseSessionStore):
    def load(self) -> dict[str, Any]:
        data = self._session_data()
        if data is None:
            self._session_key = None
            return {}
        return self.decode(data)

    def _session_data(self) -> str | None:
        """The stored data of this session when it exists and has not expired, else ``None``
        (as Django's ``_get_session_from_db``, which answers ``None`` the same way)."""
        key = self.session_key
        if key is None:
            return None
        using = router.db_for_read(self.model)
        connection = connections[using]
        quote = connection.ops.quote_name
        table = quote(self.model._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {quote('session_data')} FROM {table} "  # noqa: S608 - names only
                f"WHERE {quote('session_key')} = %s AND {quote('expire_date')} > %s",
                [key, connection.ops.adapt_datetimefield_value(timezone.now())],
            )
            row = cursor.fetchone()
        return None if row is None else str(row[0])
