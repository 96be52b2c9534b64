"""The engine and the PDF renderer must import without Django, DRF or Celery, and read no clock."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENGINE = ROOT / "reference_ranges" / "engine"
FRAMEWORKS = ("django", "rest_framework", "celery")

PROBE = """
import importlib, sys
importlib.import_module(sys.argv[1])
print("\\n".join(sorted(name for name in sys.modules if name.startswith({frameworks!r}))))
"""


@pytest.mark.parametrize("package", ["reference_ranges.engine", "reports.rendering"])
def test_pure_package_imports_no_framework(package: str) -> None:
    completed = subprocess.run(
        [sys.executable, "-c", PROBE.format(frameworks=FRAMEWORKS), package],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == ""


def test_engine_imports_only_the_standard_library_and_itself() -> None:
    allowed = {"__future__", "collections", "dataclasses", "datetime", "decimal", "enum", "sys"}
    imported: set[str] = set()
    for path in ENGINE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module is not None:
                imported.add(node.module)

    foreign = {name for name in imported if not name.startswith("reference_ranges.engine")}

    assert {name.split(".")[0] for name in foreign} <= allowed


def test_engine_never_reads_the_clock() -> None:
    clock_calls = {"now", "today", "utcnow", "time", "monotonic", "perf_counter"}
    found = [
        f"{path.relative_to(ENGINE)}:{node.lineno}"
        for path in ENGINE.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path)))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in clock_calls
    ]

    assert found == []
