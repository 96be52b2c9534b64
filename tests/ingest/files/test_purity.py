"""The file parsers import without Django, DRF or Celery, and use only the standard library."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "panels" / "intake" / "files"
FRAMEWORKS = ("django", "rest_framework", "celery")
PROBE = """
import importlib, sys
importlib.import_module("panels.intake.files")
print("\\n".join(sorted(name for name in sys.modules if name.startswith({frameworks!r}))))
"""


def test_the_package_imports_no_framework() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", PROBE.format(frameworks=FRAMEWORKS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == ""


def test_the_package_imports_only_the_standard_library_and_itself() -> None:
    imported: set[str] = set()
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module is not None:
                imported.add(node.module)

    foreign = {
        name.split(".")[0] for name in imported if not name.startswith("panels.intake.files")
    }

    assert foreign <= set(sys.stdlib_module_names) | {"__future__"}, foreign
