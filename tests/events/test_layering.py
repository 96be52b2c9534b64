"""``labpanel.events`` is at the bottom of the layering: it names panels, reports and imports by
plain ids and imports none of the apps above it (they import it)."""

from __future__ import annotations

import ast
from pathlib import Path

EVENTS = Path(__file__).resolve().parents[2] / "labpanel" / "events"
ABOVE = ("panels", "reports", "reference_ranges")


def test_the_events_app_imports_nothing_from_the_apps_above_it() -> None:
    imported: set[str] = set()
    for path in EVENTS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)

    assert "labpanel.events.models" in imported  # the scan sees the app's own imports
    assert sorted(name for name in imported if name.split(".")[0] in ABOVE) == []
