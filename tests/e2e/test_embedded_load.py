"""The embedded default under ordinary use (issue 9): no 500, no AE, every report drawn.

The launcher runs on SQLite as a new user runs it (temporary var/ folder, no DATABASE_URL),
with `manage.py mllp_listener` on the same SQLite file. Eight API clients post panels at once
while an interface engine sends ORU messages one after another over MLLP, and the launcher's
worker renders the reports meanwhile. Before the WAL journal and IMMEDIATE transactions, a
third of such posts answered 500 "database is locked" and a third of the messages got AE.
The full-size figures, and the same load on PostgreSQL, come from bench/embedded_load.py.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.e2e.load import launched_stack, run_load

pytestmark = pytest.mark.e2e

CLIENTS = 8
PANELS = 48
MESSAGES = 12
RENDER_CAP_SECONDS = 300  # an overall cap on waiting, not a speed requirement


def test_concurrent_posts_mllp_and_rendering_on_sqlite(tmp_path: Path) -> None:
    run = uuid.uuid4().hex[:6]
    with launched_stack(tmp_path, queue=f"labpanel-test-load-{run}") as stack:
        assert "embedded SQLite" in stack.launcher_log.read_text()
        result = run_load(
            stack,
            run=run,
            clients=CLIENTS,
            panels=PANELS,
            messages=MESSAGES,
            render_cap_seconds=RENDER_CAP_SECONDS,
        )
        logs = stack.logs_tail()
    assert result.post_statuses == {201: PANELS}, (result.post_errors, logs)
    assert result.ack_codes == {"AA": MESSAGES}, (result.ack_errors, logs)
    assert result.missing_accessions == []
    assert set(result.get_statuses) == {200}, logs
    assert result.reports == {"ready": PANELS + MESSAGES}, (result.summary(), logs)
    full_logs = stack.launcher_log.read_text() + stack.listener_log.read_text()
    assert "database is locked" not in full_logs
