"""The parsing half of panels.intake.hl7 (parse, ack, mllp, types) stays pure Python: no Django,
DRF or Celery, directly or indirectly. ``services`` and ``views`` are its Django side."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import panels.intake.hl7

PACKAGE = Path(panels.intake.hl7.__file__).parent
FORBIDDEN = ("django", "rest_framework", "celery")
PURE = (
    "__init__.py", "ack.py", "batch.py", "charsets.py", "client.py", "framing.py", "header.py",
    "mllp.py", "observations.py", "order.py", "parse.py", "patient.py", "segments.py", "types.py",
)  # fmt: skip
DJANGO_SIDE = (
    "archive.py", "corrections.py", "fields.py", "services.py", "submissions.py", "views.py"
)  # fmt: skip


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_module_imports_django_drf_or_celery() -> None:
    modules = sorted(path for path in PACKAGE.glob("*.py") if path.name not in DJANGO_SIDE)
    assert sorted(path.name for path in modules) == sorted(PURE)
    for module in modules:
        bad = {name for name in _imports(module) if name.split(".")[0] in FORBIDDEN}
        assert not bad, (module.name, bad)


def test_importing_the_package_loads_none_of_them() -> None:
    code = (
        "import sys\n"
        "import panels.intake.hl7.ack, panels.intake.hl7.mllp, panels.intake.hl7.parse\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "assert not bad, bad\n"
    )
    root = PACKAGE.parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root, timeout=60)
