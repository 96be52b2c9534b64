"""The redesign's single places (issue 10), checked on the source with ``ast``:

- reports/ is the only code that creates or enqueues a report: outside it no module writes
  through ``Report.objects`` (create, bulk_create, get_or_create, update...), builds a
  ``Report(...)``, names the ``reports.Report`` table for a bulk write, or touches
  ``render_report_pdf_task``;
- the ways in (``panels/intake/``) do not import ``reports.models``: they ask reports' services
  (``reports.services``, ``reports.bulk``: a bulk import's report ids are reserved by
  ``reports.bulk.report_ids_reserve``), except where listed in ``INTAKE_READS_REPORT_MODELS``;
- a ``PanelSubmission`` is built only by ``panels.submission`` (its one builder);
- in panels/, only ``panels.interpretation`` (``panel_interpret``) calls the engine's
  ``interpret`` or ``age_on``.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("labpanel", "panels", "reference_ranges", "reports")
REPORT_WRITES = frozenset(
    {
        "create",
        "bulk_create",
        "get_or_create",
        "update_or_create",
        "update",
        "bulk_update",
        "delete",
    }
)
RENDER_TASK = "render_report_pdf_task"
REPORT_MODELS = "reports.models"
# Modules of panels/intake/ that may import reports.models, with the reason; only reads.
INTAKE_READS_REPORT_MODELS = {
    # An amendment refuses while the current report is still being produced: it reads the
    # report's status (ReportStatus) and names the type of the amended report it returns.
    "panels/intake/amendments.py": "reads the current report's status",
}


def _modules(*packages: str) -> list[Path]:
    paths: list[Path] = []
    for package in packages:
        paths.extend(
            path
            for path in sorted((ROOT / package).rglob("*.py"))
            if "migrations" not in path.relative_to(ROOT).parts
        )
    return paths


def _through_report_manager(node: ast.AST) -> bool:
    """``node`` is ``Report.objects`` or a chain on it (``Report.objects.filter(...)``)."""
    while True:
        if isinstance(node, ast.Attribute):
            if (
                node.attr in ("objects", "_default_manager", "_base_manager")
                and isinstance(node.value, ast.Name)
                and node.value.id == "Report"
            ):
                return True
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        else:
            return False


def report_writes(source: str) -> list[tuple[int, str]]:
    """Each place in ``source`` that creates, changes or enqueues a report, as (line, what)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id == "Report":
                found.append((node.lineno, "Report(...)"))
            elif (
                isinstance(func, ast.Attribute)
                and func.attr in REPORT_WRITES
                and _through_report_manager(func.value)
            ):
                found.append((node.lineno, f"Report.objects...{func.attr}()"))
        elif (isinstance(node, ast.Name) and node.id == RENDER_TASK) or (
            isinstance(node, ast.Attribute) and node.attr == RENDER_TASK
        ):
            found.append((node.lineno, RENDER_TASK))
        elif isinstance(node, ast.alias) and RENDER_TASK in (node.name, node.asname):
            found.append((getattr(node, "lineno", 0), f"import {RENDER_TASK}"))
        elif isinstance(node, ast.Constant) and node.value == "reports.Report":
            found.append((node.lineno, "the reports.Report table named for a bulk write"))
    return found


def report_model_imports(source: str) -> list[tuple[int, str]]:
    """Each import of ``reports.models`` (or a name from it) in ``source``, as (line, what)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0:
            if node.module == REPORT_MODELS or (
                node.module == "reports" and any(alias.name == "models" for alias in node.names)
            ):
                found.append((node.lineno, f"from {node.module} import ..."))
        elif isinstance(node, ast.Import):
            found.extend(
                (node.lineno, f"import {alias.name}")
                for alias in node.names
                if alias.name == REPORT_MODELS or alias.name.startswith(REPORT_MODELS + ".")
            )
    return found


def calls_of(source: str, names: frozenset[str]) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name in names:
                found.append((node.lineno, f"{name}(...)"))
    return found


def _offences(
    paths: list[Path], check: Callable[[str], list[tuple[int, str]]], allowed: tuple[str, ...]
) -> list[str]:
    offences = []
    for path in paths:
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(allowed):
            continue
        for line, what in check(path.read_text(encoding="utf-8")):
            offences.append(f"{relative}:{line}: {what}")
    return offences


def test_only_reports_creates_or_enqueues_a_report() -> None:
    offences = _offences(_modules(*PACKAGES), report_writes, ("reports/",))
    assert offences == [], "ask a service of reports/ instead:\n" + "\n".join(offences)


def test_the_ways_in_ask_reports_instead_of_importing_its_models() -> None:
    offences = _offences(
        _modules("panels/intake"), report_model_imports, tuple(INTAKE_READS_REPORT_MODELS)
    )
    assert offences == [], (
        "ask reports.services or reports.bulk (e.g. report_ids_reserve) instead:\n"
        + "\n".join(offences)
    )


def test_the_report_model_readers_all_exist_and_still_import_it() -> None:
    for relative in INTAKE_READS_REPORT_MODELS:
        path = ROOT / relative
        assert path.exists(), f"{relative} is gone: remove it from INTAKE_READS_REPORT_MODELS"
        assert report_model_imports(path.read_text(encoding="utf-8")), (
            f"{relative} no longer imports reports.models: remove it from the list"
        )


@pytest.mark.parametrize(
    "source",
    [
        "from reports.models import Report",
        "from reports.models import Report as R, ReportStatus",
        "from reports import models",
        "import reports.models",
        "def f():\n    from reports.models import Report\n    return ids_reserve(Report, 3)",
    ],
)
def test_the_checker_finds_an_import_of_the_report_models(source: str) -> None:
    assert report_model_imports(source)


@pytest.mark.parametrize(
    "source",
    [
        "from reports.bulk import report_ids_reserve",
        "from reports.services import report_request",
        "from panels.models import Panel",
        "import reports.services",
    ],
)
def test_the_checker_lets_reports_services_pass(source: str) -> None:
    assert report_model_imports(source) == []


def test_a_panel_submission_is_built_only_by_the_builder() -> None:
    offences = _offences(
        _modules(*PACKAGES),
        lambda source: calls_of(source, frozenset({"PanelSubmission"})),
        ("panels/submission.py",),
    )
    assert offences == [], "build it with panels.submission.panel_submission_build:\n" + "\n".join(
        offences
    )


def test_in_panels_only_panel_interpret_feeds_the_engine() -> None:
    offences = _offences(
        _modules("panels"),
        lambda source: calls_of(source, frozenset({"interpret", "age_on"})),
        ("panels/interpretation.py",),
    )
    assert offences == [], "use panels.interpretation.panel_interpret:\n" + "\n".join(offences)


def test_the_walk_covers_the_places_that_do_it() -> None:
    relative = {path.relative_to(ROOT).as_posix() for path in _modules(*PACKAGES)}
    assert {
        "panels/intake/amendments.py",
        "panels/intake/imports/staged_rows.py",
        "panels/intake/submission.py",
        "reports/services.py",
        "reports/bulk.py",
    } <= relative
    assert report_writes((ROOT / "reports/services.py").read_text(encoding="utf-8"))
    assert report_writes((ROOT / "reports/bulk.py").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "source",
    [
        "Report.objects.create(panel=panel)",
        "Report.objects.get_or_create(panel=panel)",
        "Report.objects.bulk_create(reports)",
        "Report.objects.filter(pk=1).update(status='ready')",
        "report = Report(panel=panel)",
        "render_report_pdf_task.delay(1)",
        "from reports.tasks import render_report_pdf_task",
        "tasks.render_report_pdf_task.apply_async((1,))",
        "REPORT = Table('reports.Report', ('id',))",
    ],
)
def test_the_checker_finds_a_report_written_outside_reports(source: str) -> None:
    assert report_writes(source)


@pytest.mark.parametrize(
    "source",
    [
        "Report.objects.filter(panel=panel).first()",
        "report_request(panel=panel)",
        "report_amend_request(panel=panel, amends=r, reason='x', corrections=[], requested_by=u)",
        "from reports.models import Report, ReportStatus",
        "Result.objects.create(panel=panel)",
    ],
)
def test_the_checker_lets_reads_and_report_services_pass(source: str) -> None:
    assert report_writes(source) == []
